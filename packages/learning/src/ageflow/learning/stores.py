"""The store protocols the skill layer is written against, and their errors.

Both are async. A backend must pass the contract in ``ageflow.learning.testing``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ageflow.learning.models import (
    ExecutionTrace,
    Feedback,
    SkillRecord,
    SkillStatus,
    TraceFilter,
)


class LearningStoreError(Exception):
    """A learning store could not do what was asked."""


class UnknownTraceError(LearningStoreError, KeyError):
    """No trace has this id."""

    def __init__(self, trace_id: str) -> None:
        super().__init__(f"no trace with id {trace_id!r}")
        self.trace_id = trace_id

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownSkillError(LearningStoreError, KeyError):
    """No skill has this id."""

    def __init__(self, skill_id: str) -> None:
        super().__init__(f"no skill with id {skill_id!r}")
        self.skill_id = skill_id

    def __str__(self) -> str:
        return str(self.args[0])


@runtime_checkable
class SkillStore(Protocol):
    """Skill records, by id, by target agent and by lineage."""

    async def save(self, skill: SkillRecord) -> None:
        """Insert the skill, or replace the record with the same id."""

    async def get(self, skill_id: str) -> SkillRecord | None: ...

    async def for_agent(self, agent: str, workflow: str | None = None) -> Sequence[SkillRecord]:
        """The agent's skills of every status (only this workflow's when one is given),
        best score first."""

    async def active_for(self, agent: str, workflow: str | None = None) -> SkillRecord | None:
        """The agent's best-scoring active skill (for this workflow when one is given)."""

    async def best_in_lineage(self, skill_id: str) -> SkillRecord | None:
        """The best-scoring version in the lineage of this skill, whatever its status;
        None for an unknown id."""

    async def list_skills(self) -> Sequence[SkillRecord]:
        """Every skill, oldest first."""

    async def set_status(self, skill_id: str, status: SkillStatus) -> SkillRecord:
        """Change a skill's status; UnknownSkillError for an unknown id."""

    async def delete(self, skill_id: str) -> bool:
        """Remove a skill; False when there was none. Its children keep their
        ``parent_id`` (a lineage outlives a deleted version)."""

    async def close(self) -> None: ...


@runtime_checkable
class TraceStore(Protocol):
    """Execution traces and the feedback given on them."""

    async def save_trace(self, trace: ExecutionTrace) -> None:
        """Insert the trace, or replace the one with the same id."""

    async def get_trace(self, trace_id: str) -> ExecutionTrace | None: ...

    async def traces(self, filter: TraceFilter | None = None) -> Sequence[ExecutionTrace]:
        """The traces the filter selects, newest ``run_at`` first."""

    async def add_feedback(self, trace_id: str, feedback: Feedback) -> ExecutionTrace:
        """Append feedback to a trace and return it; UnknownTraceError for an unknown id."""

    async def close(self) -> None: ...
