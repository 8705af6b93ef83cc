"""The progress notifications of one sync tool call, from the run's workflow events."""

from __future__ import annotations

import json
from typing import Any

from ageflow.core.events import (
    BudgetWarningEvent,
    CheckpointEvent,
    LoopIterationEvent,
    TaskCompleteEvent,
    TaskErrorEvent,
    TaskStartEvent,
    WorkflowEvent,
)
from ageflow.mcp_server.ceilings import EffectiveCeilings
from ageflow.mcp_server.tool_call import ClientConnection


class Progress:
    """Numbered progress notifications of one call: ``"<phase>: <JSON detail>"``."""

    def __init__(self, connection: ClientConnection | None) -> None:
        self._connection = connection
        self._count = 0

    async def emit(self, phase: str, **detail: Any) -> None:
        if self._connection is None:
            return
        count = self._count
        self._count += 1
        text = json.dumps(detail, default=str, separators=(",", ":"))
        await self._connection.progress(count, f"{phase}: {text}")

    async def on_event(self, event: WorkflowEvent) -> None:
        # The original defined these phases but never sent them (D26).
        if isinstance(event, TaskStartEvent):
            await self.emit("task_started", task=event.task_name)
        elif isinstance(event, TaskCompleteEvent):
            metrics = event.metrics.model_dump(mode="json", by_alias=True)
            await self.emit("task_completed", task=event.task_name, metrics=metrics)
        elif isinstance(event, TaskErrorEvent):
            await self.emit("task_failed", task=event.task_name, error=event.error.message)
        elif isinstance(event, LoopIterationEvent):
            await self.emit("loop_iteration", task=event.task_name, iteration=event.iteration)
        elif isinstance(event, CheckpointEvent):
            await self.emit("awaiting_approval", task=event.task_name, message=event.message)
        elif isinstance(event, BudgetWarningEvent):
            await self.emit("budget_warning", spent=event.spent_usd, limit=event.limit_usd)


def unlimited_axes(ceilings: EffectiveCeilings) -> list[str]:
    """The ceiling axes with no limit, for the call's ``unlimited_warning``."""
    axes = (
        ("cost", ceilings.max_cost_usd),
        ("duration", ceilings.max_duration_sec),
        ("turns", ceilings.max_turns),
    )
    return [name for name, value in axes if value is None]
