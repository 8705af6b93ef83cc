"""Reflection's save step: each blamed agent's draft stored as the next version of its skill."""

from __future__ import annotations

import uuid

from ageflow.learning._reflection_models import ReflectionInput, Saved, SaveRequest
from ageflow.learning.models import SkillRecord, SkillStatus
from ageflow.learning.stores import SkillStore

_SKILL_IDS = uuid.UUID("5b0f8f8e-3f5e-4d1c-9a57-0c1e6a4f1d11")


def _current_skill(request: ReflectionInput, agent: str) -> SkillRecord | None:
    own = [s for s in request.skills if s.agent == agent and s.status is SkillStatus.ACTIVE]
    return max(own, key=lambda s: (s.score, s.version), default=None)


async def save_drafts(skill_store: SkillStore, request: SaveRequest) -> Saved:
    """Store each draft for a blamed agent as the next version of its lineage."""
    blamed = {item.task for item in request.blame.blamed}
    reflection = request.input
    saved: list[str] = []
    ignored: list[str] = []
    created = updated = 0
    for draft in request.drafts.skills if request.drafts is not None else []:
        if draft.agent not in blamed:
            ignored.append(draft.agent)
            continue
        parent = _current_skill(reflection, draft.agent)
        key = f"{reflection.trace.id}\n{draft.agent}\n{draft.name}\n{draft.content}"
        skill = SkillRecord(
            id=str(uuid.uuid5(_SKILL_IDS, key)),
            name=draft.name,
            description=draft.description,
            content=draft.content,
            agent=draft.agent,
            workflow=reflection.workflow_name,
            version=parent.version + 1 if parent is not None else 1,
            parent_id=parent.id if parent is not None else None,
            status=(
                SkillStatus.CANDIDATE if reflection.strategy == "autonomous" else SkillStatus.DRAFT
            ),
        )
        existing = await skill_store.get(skill.id)
        if existing is None:
            await skill_store.save(skill)
        saved.append(skill.id)
        if parent is not None:
            updated += 1
        else:
            created += 1
    return Saved(skill_ids=saved, created=created, updated=updated, ignored=ignored)
