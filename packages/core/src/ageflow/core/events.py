"""Events a run emits, with the original's type strings and camelCase wire keys."""

from __future__ import annotations

import traceback
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import Field, TypeAdapter

from ageflow.core.metrics import TaskMetrics, WorkflowResult
from ageflow.core.wire import WireModel, now_ms


class ErrorInfo(WireModel):
    """An exception as it travels: class name, message, and optionally code and stack."""

    name: str
    message: str
    code: str | None = None
    stack: str | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, *, with_stack: bool = True) -> ErrorInfo:
        code = getattr(exc, "code", None)
        return cls(
            name=type(exc).__name__,
            message=str(exc),
            code=code if isinstance(code, str) else None,
            stack="".join(traceback.format_exception(exc)) if with_stack else None,
        )


class _Event(WireModel):
    run_id: str
    workflow_name: str
    timestamp: int = Field(default_factory=now_ms)


class _TaskEvent(_Event):
    task_name: str
    # Beyond the original: where the task sits (``loop[2]/inner`` inside loops); equal to
    # the task name for top-level tasks. It is also the key of the step in a run journal.
    step_key: str | None = None


class WorkflowStartEvent(_Event):
    type: Literal["workflow:start"] = "workflow:start"
    input: Any = None


class TaskStartEvent(_TaskEvent):
    type: Literal["task:start"] = "task:start"


class TaskCompleteEvent(_TaskEvent):
    type: Literal["task:complete"] = "task:complete"
    output: Any = None
    metrics: TaskMetrics


class TaskErrorEvent(_TaskEvent):
    type: Literal["task:error"] = "task:error"
    error: ErrorInfo
    attempt: int
    terminal: bool = True


class TaskRetryEvent(_TaskEvent):
    type: Literal["task:retry"] = "task:retry"
    attempt: int
    reason: str


class TaskSkipEvent(_TaskEvent):
    type: Literal["task:skip"] = "task:skip"
    reason: Literal["skipIf"] = "skipIf"


class TaskRestoredEvent(_TaskEvent):
    """A step finished by an earlier process, restored from the journal without a runner call."""

    type: Literal["task:restored"] = "task:restored"
    output: Any = None
    metrics: TaskMetrics


class LoopIterationEvent(_TaskEvent):
    """A loop starts its iteration ``iteration`` (0-based) of at most ``max``."""

    type: Literal["loop:iteration"] = "loop:iteration"
    iteration: int
    max: int


class CheckpointEvent(_TaskEvent):
    type: Literal["checkpoint"] = "checkpoint"
    message: str


class BudgetWarningEvent(_Event):
    type: Literal["budget:warning"] = "budget:warning"
    spent_usd: float
    limit_usd: float


class WorkflowCompleteEvent(_Event):
    type: Literal["workflow:complete"] = "workflow:complete"
    result: WorkflowResult


class WorkflowErrorEvent(_Event):
    type: Literal["workflow:error"] = "workflow:error"
    error: ErrorInfo


WorkflowEvent: TypeAlias = Annotated[
    WorkflowStartEvent
    | TaskStartEvent
    | TaskCompleteEvent
    | TaskErrorEvent
    | TaskRetryEvent
    | TaskSkipEvent
    | TaskRestoredEvent
    | LoopIterationEvent
    | CheckpointEvent
    | BudgetWarningEvent
    | WorkflowCompleteEvent
    | WorkflowErrorEvent,
    Field(discriminator="type"),
]

_EVENT_ADAPTER: TypeAdapter[WorkflowEvent] = TypeAdapter(WorkflowEvent)


def parse_event(data: dict[str, Any]) -> WorkflowEvent:
    """An event from its wire form (camelCase keys)."""
    return _EVENT_ADAPTER.validate_python(data)


# --- run snapshots -----------------------------------------------------------------------

RunState: TypeAlias = Literal["running", "awaiting-checkpoint", "done", "failed", "cancelled"]
TERMINAL_RUN_STATES: frozenset[str] = frozenset({"done", "failed", "cancelled"})


class RunHandle(WireModel):
    """A JSON snapshot of one run, as the server reports it."""

    run_id: str
    state: RunState
    workflow_name: str
    created_at: int
    last_event_at: int
    pending_checkpoint: CheckpointEvent | None = None
    result: WorkflowResult | None = None
    error: ErrorInfo | None = None
