"""In-memory stores: the reference behaviour for tests; nothing survives the process."""

from __future__ import annotations

import anyio

from ageflow.learning.lineage import best_of, lineage_of, rank_key
from ageflow.learning.models import (
    ExecutionTrace,
    Feedback,
    SkillRecord,
    SkillStatus,
    TraceFilter,
)
from ageflow.learning.stores import UnknownSkillError, UnknownTraceError


class InMemorySkillStore:
    """A SkillStore in a dict, in insertion order."""

    def __init__(self) -> None:
        self._skills: dict[str, SkillRecord] = {}

    async def save(self, skill: SkillRecord) -> None:
        await anyio.lowlevel.checkpoint()
        self._skills[skill.id] = skill

    async def get(self, skill_id: str) -> SkillRecord | None:
        await anyio.lowlevel.checkpoint()
        return self._skills.get(skill_id)

    async def for_agent(self, agent: str, workflow: str | None = None) -> list[SkillRecord]:
        await anyio.lowlevel.checkpoint()
        return sorted(self._matching(agent, workflow), key=rank_key)

    async def active_for(self, agent: str, workflow: str | None = None) -> SkillRecord | None:
        await anyio.lowlevel.checkpoint()
        return best_of(s for s in self._matching(agent, workflow) if s.status is SkillStatus.ACTIVE)

    async def best_in_lineage(self, skill_id: str) -> SkillRecord | None:
        await anyio.lowlevel.checkpoint()
        return best_of(lineage_of(self._skills, skill_id))

    async def list_skills(self) -> list[SkillRecord]:
        await anyio.lowlevel.checkpoint()
        return sorted(self._skills.values(), key=lambda s: s.created_at)

    async def set_status(self, skill_id: str, status: SkillStatus) -> SkillRecord:
        await anyio.lowlevel.checkpoint()
        if skill_id not in self._skills:
            raise UnknownSkillError(skill_id)
        updated = self._skills[skill_id].model_copy(update={"status": status})
        self._skills[skill_id] = updated
        return updated

    async def delete(self, skill_id: str) -> bool:
        await anyio.lowlevel.checkpoint()
        return self._skills.pop(skill_id, None) is not None

    async def close(self) -> None:
        await anyio.lowlevel.checkpoint()

    def _matching(self, agent: str, workflow: str | None) -> list[SkillRecord]:
        return [
            s
            for s in self._skills.values()
            if s.agent == agent and (workflow is None or s.workflow == workflow)
        ]


class InMemoryTraceStore:
    """A TraceStore in a dict."""

    def __init__(self) -> None:
        self._traces: dict[str, ExecutionTrace] = {}

    async def save_trace(self, trace: ExecutionTrace) -> None:
        await anyio.lowlevel.checkpoint()
        self._traces[trace.id] = trace

    async def get_trace(self, trace_id: str) -> ExecutionTrace | None:
        await anyio.lowlevel.checkpoint()
        return self._traces.get(trace_id)

    async def traces(self, filter: TraceFilter | None = None) -> list[ExecutionTrace]:
        await anyio.lowlevel.checkpoint()
        wanted = filter or TraceFilter()
        found = [t for t in self._traces.values() if _selected(t, wanted)]
        # Newest first; the id breaks ties so every store lists in the same order.
        found.sort(key=lambda t: t.id, reverse=True)
        found.sort(key=lambda t: t.run_at, reverse=True)
        return found if wanted.limit is None else found[: wanted.limit]

    async def add_feedback(self, trace_id: str, feedback: Feedback) -> ExecutionTrace:
        await anyio.lowlevel.checkpoint()
        trace = self._traces.get(trace_id)
        if trace is None:
            raise UnknownTraceError(trace_id)
        updated = trace.model_copy(update={"feedback": (*trace.feedback, feedback)})
        self._traces[trace_id] = updated
        return updated

    async def close(self) -> None:
        await anyio.lowlevel.checkpoint()


def _selected(trace: ExecutionTrace, wanted: TraceFilter) -> bool:
    if wanted.workflow_name is not None and trace.workflow_name != wanted.workflow_name:
        return False
    if wanted.since is not None and trace.run_at < wanted.since:
        return False
    return wanted.has_feedback is None or bool(trace.feedback) == wanted.has_feedback
