"""The SQLite TraceStore."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ageflow.learning import ExecutionTrace, Feedback, TraceFilter, UnknownTraceError
from ageflow.learning_sqlite._codec import micros

if TYPE_CHECKING:
    from ageflow.learning_sqlite.database import LearningDatabase

_UPSERT = """
INSERT INTO traces (id, workflow_name, run_at, has_feedback, payload) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    workflow_name = excluded.workflow_name, run_at = excluded.run_at,
    has_feedback = excluded.has_feedback, payload = excluded.payload
"""

# Appending is one statement, so no reader ever sees half of it and no second writer
# can slip in between a read and the write.
_APPEND_FEEDBACK = """
UPDATE traces SET payload = json_insert(payload, '$.feedback[#]', json(?)), has_feedback = 1
WHERE id = ? RETURNING payload
"""


class SqliteTraceStore:
    """Traces in a LearningDatabase; get one as ``LearningDatabase(...).traces``."""

    def __init__(self, db: LearningDatabase) -> None:
        self._db = db

    async def save_trace(self, trace: ExecutionTrace) -> None:
        await self._db.write(
            _UPSERT,
            (
                trace.id,
                trace.workflow_name,
                micros(trace.run_at),
                int(bool(trace.feedback)),
                trace.model_dump_json(),
            ),
        )

    async def get_trace(self, trace_id: str) -> ExecutionTrace | None:
        rows = await self._db.read("SELECT payload FROM traces WHERE id = ?", (trace_id,))
        return _trace(rows[0][0]) if rows else None

    async def traces(self, filter: TraceFilter | None = None) -> list[ExecutionTrace]:
        wanted = filter or TraceFilter()
        clauses: list[str] = []
        params: list[Any] = []
        if wanted.workflow_name is not None:
            clauses.append("workflow_name = ?")
            params.append(wanted.workflow_name)
        if wanted.since is not None:
            clauses.append("run_at >= ?")
            params.append(micros(wanted.since))
        if wanted.has_feedback is not None:
            clauses.append("has_feedback = ?")
            params.append(int(wanted.has_feedback))
        sql = "SELECT payload FROM traces"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY run_at DESC, id DESC"
        if wanted.limit is not None:
            sql += " LIMIT ?"
            params.append(wanted.limit)
        return [_trace(row[0]) for row in await self._db.read(sql, params)]

    async def add_feedback(self, trace_id: str, feedback: Feedback) -> ExecutionTrace:
        rows = await self._db.write(_APPEND_FEEDBACK, (feedback.model_dump_json(), trace_id))
        if not rows:
            raise UnknownTraceError(trace_id)
        return _trace(rows[0][0])

    async def close(self) -> None:
        await self._db.close()


def _trace(payload: str) -> ExecutionTrace:
    return ExecutionTrace.model_validate_json(payload)
