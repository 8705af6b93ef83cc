"""The SQLite SkillStore."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ageflow.learning import SkillRecord, SkillStatus, UnknownSkillError
from ageflow.learning_sqlite._codec import micros

if TYPE_CHECKING:
    from ageflow.learning_sqlite.database import LearningDatabase

# The same "best first" order as the in-memory store (ageflow.learning.lineage.rank_key).
_BEST_FIRST = "ORDER BY score DESC, version DESC, created_at DESC, id ASC"

_UPSERT = """
INSERT INTO skills (id, agent, workflow, parent_id, status, score, version, created_at, payload)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    agent = excluded.agent, workflow = excluded.workflow, parent_id = excluded.parent_id,
    status = excluded.status, score = excluded.score, version = excluded.version,
    created_at = excluded.created_at, payload = excluded.payload
"""

# Up the parents from a skill. UNION drops repeated rows, so a cycle ends the walk.
_ANCESTORS = """
WITH RECURSIVE up (id, parent_id) AS (
    SELECT id, parent_id FROM skills WHERE id = ?
    UNION
    SELECT s.id, s.parent_id FROM skills AS s JOIN up ON s.id = up.parent_id
)
SELECT id, parent_id FROM up
"""

# The best row among a root and all its descendants.
_BEST_BELOW = f"""
WITH RECURSIVE tree (id) AS (
    SELECT ?
    UNION
    SELECT s.id FROM skills AS s JOIN tree ON s.parent_id = tree.id
)
SELECT payload FROM skills WHERE id IN (SELECT id FROM tree) {_BEST_FIRST} LIMIT 1
"""


class SqliteSkillStore:
    """Skills in a LearningDatabase; get one as ``LearningDatabase(...).skills``."""

    def __init__(self, db: LearningDatabase) -> None:
        self._db = db

    async def save(self, skill: SkillRecord) -> None:
        await self._db.write(
            _UPSERT,
            (
                skill.id,
                skill.agent,
                skill.workflow,
                skill.parent_id,
                skill.status.value,
                skill.score,
                skill.version,
                micros(skill.created_at),
                skill.model_dump_json(),
            ),
        )

    async def get(self, skill_id: str) -> SkillRecord | None:
        rows = await self._db.read("SELECT payload FROM skills WHERE id = ?", (skill_id,))
        return _skill(rows[0][0]) if rows else None

    async def for_agent(self, agent: str, workflow: str | None = None) -> list[SkillRecord]:
        where, params = _target(agent, workflow)
        rows = await self._db.read(
            f"SELECT payload FROM skills WHERE {where} {_BEST_FIRST}", params
        )
        return [_skill(row[0]) for row in rows]

    async def active_for(self, agent: str, workflow: str | None = None) -> SkillRecord | None:
        where, params = _target(agent, workflow)
        rows = await self._db.read(
            f"SELECT payload FROM skills WHERE {where} AND status = ? {_BEST_FIRST} LIMIT 1",
            (*params, SkillStatus.ACTIVE.value),
        )
        return _skill(rows[0][0]) if rows else None

    async def best_in_lineage(self, skill_id: str) -> SkillRecord | None:
        chain = await self._db.read(_ANCESTORS, (skill_id,))
        if not chain:
            return None
        # Walk the chain as the in-memory store does: up to a skill without a parent,
        # to the id of a parent that was deleted (its other children still belong to
        # the lineage), or, in a cycle, to the first skill met twice.
        parent_of: dict[str, str | None] = {row[0]: row[1] for row in chain}
        root = skill_id
        seen = {root}
        while (parent := parent_of.get(root)) is not None and parent not in seen:
            seen.add(parent)
            root = parent
            if parent not in parent_of:
                break
        rows = await self._db.read(_BEST_BELOW, (root,))
        return _skill(rows[0][0]) if rows else None

    async def list_skills(self) -> list[SkillRecord]:
        rows = await self._db.read("SELECT payload FROM skills ORDER BY created_at, seq")
        return [_skill(row[0]) for row in rows]

    async def set_status(self, skill_id: str, status: SkillStatus) -> SkillRecord:
        rows = await self._db.write(
            "UPDATE skills SET status = ?, payload = json_set(payload, '$.status', ?) "
            "WHERE id = ? RETURNING payload",
            (status.value, status.value, skill_id),
        )
        if not rows:
            raise UnknownSkillError(skill_id)
        return _skill(rows[0][0])

    async def delete(self, skill_id: str) -> bool:
        rows = await self._db.write("DELETE FROM skills WHERE id = ? RETURNING id", (skill_id,))
        return bool(rows)

    async def close(self) -> None:
        await self._db.close()


def _target(agent: str, workflow: str | None) -> tuple[str, tuple[str, ...]]:
    if workflow is None:
        return "agent = ?", (agent,)
    return "agent = ? AND workflow = ?", (agent, workflow)


def _skill(payload: str) -> SkillRecord:
    return SkillRecord.model_validate_json(payload)
