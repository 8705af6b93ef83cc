"""Errors of the server runner and of run stores."""

from __future__ import annotations

from typing import ClassVar

from ageflow.core.errors import AgentFlowError


class RunNotFoundError(AgentFlowError):
    """No run with this id is known (live or stored)."""

    code: ClassVar[str] = "run_not_found"
    _json_fields: ClassVar[tuple[str, ...]] = ("run_id",)

    def __init__(self, run_id: str, *, cause: object = None) -> None:
        self.run_id = run_id
        super().__init__(f"Run not found: {run_id}", cause=cause)


class InvalidRunStateError(AgentFlowError):
    """The run is not in a state that allows the operation."""

    code: ClassVar[str] = "invalid_run_state"
    _json_fields: ClassVar[tuple[str, ...]] = ("run_id", "state")

    def __init__(self, run_id: str, state: str, *, cause: object = None) -> None:
        self.run_id = run_id
        self.state = state
        super().__init__(f"Run {run_id} is in invalid state: {state}", cause=cause)


class CheckpointTimeoutError(AgentFlowError):
    """A run waited at a checkpoint longer than the checkpoint TTL."""

    code: ClassVar[str] = "checkpoint_timeout"
    _json_fields: ClassVar[tuple[str, ...]] = ("task_name",)

    def __init__(self, task_name: str, *, cause: object = None) -> None:
        self.task_name = task_name
        super().__init__(f'Checkpoint for task "{task_name}" timed out', cause=cause)


class RunOwnershipLostError(AgentFlowError):
    """Another process took the run over (this process's lease had lapsed)."""

    code: ClassVar[str] = "run_ownership_lost"
    _json_fields: ClassVar[tuple[str, ...]] = ("run_id",)

    def __init__(self, run_id: str, *, cause: object = None) -> None:
        self.run_id = run_id
        super().__init__(f"Run {run_id} is now owned by another process", cause=cause)


class RunOwnedElsewhereError(AgentFlowError):
    """A live process holds the run's lease, so this one may not execute it."""

    code: ClassVar[str] = "run_owned_elsewhere"
    _json_fields: ClassVar[tuple[str, ...]] = ("run_id", "owner")

    def __init__(self, run_id: str, owner: str, *, cause: object = None) -> None:
        self.run_id = run_id
        self.owner = owner
        super().__init__(
            f"Run {run_id} is executing in another live process ({owner})", cause=cause
        )


class UnknownWorkflowError(AgentFlowError):
    """A stored run names a workflow this runner was not given."""

    code: ClassVar[str] = "unknown_workflow"
    _json_fields: ClassVar[tuple[str, ...]] = ("workflow_name",)

    def __init__(self, workflow_name: str, *, cause: object = None) -> None:
        self.workflow_name = workflow_name
        super().__init__(
            f'No workflow named "{workflow_name}" is known to this runner', cause=cause
        )


class RunStoreError(AgentFlowError):
    """A run store cannot be opened or used (the message names the path or the cause)."""

    code: ClassVar[str] = "run_store_error"


class StoreClosedError(RunStoreError):
    """The store was closed; it refuses every call after that."""

    code: ClassVar[str] = "store_closed"

    def __init__(self, what: str = "run store") -> None:
        super().__init__(f"The {what} is closed")


class RunDeadlineExceededError(AgentFlowError):
    """The run went past its deadline (``RunPolicy.deadline_at``) and was stopped."""

    code: ClassVar[str] = "deadline_exceeded"
    _json_fields: ClassVar[tuple[str, ...]] = ("deadline_at",)

    def __init__(self, deadline_at: int, *, cause: object = None) -> None:
        self.deadline_at = deadline_at
        super().__init__(f"The run passed its deadline (epoch ms {deadline_at})", cause=cause)


class TurnsExceededError(AgentFlowError):
    """The run asked for more agent turns than ``RunPolicy.max_turns`` allows."""

    code: ClassVar[str] = "turns_exceeded"
    _json_fields: ClassVar[tuple[str, ...]] = ("max_turns",)

    def __init__(self, max_turns: int, *, cause: object = None) -> None:
        self.max_turns = max_turns
        super().__init__(f"The run exceeded its limit of {max_turns} agent turns", cause=cause)


def store_failure(exc: BaseException) -> RunStoreError | None:
    """The RunStoreError behind ``exc`` (itself, a cause, or inside a group), if any.

    A journal write that fails inside a task reaches the runner wrapped by the executor.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, RunStoreError):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                pending.append(linked)
    return None
