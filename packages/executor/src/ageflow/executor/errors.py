"""Errors raised while a workflow runs (definition-time errors live in ageflow.core)."""

from __future__ import annotations

from typing import ClassVar

from ageflow.core.errors import (
    AgentFlowError,
    CyclicDependencyError,
    SessionCycleError,
    UnresolvedDependencyError,
    UnresolvedSessionRefError,
)

__all__ = [
    "CyclicDependencyError",
    "HitlNotInteractiveError",
    "HitlRejectedError",
    "MissingEnvVarError",
    "OutputTooLargeError",
    "OutputValidationError",
    "RunnerNotRegisteredError",
    "SessionCycleError",
    "UnresolvedDependencyError",
    "UnresolvedSessionRefError",
    "WorkflowAbortedError",
]


class OutputValidationError(AgentFlowError):
    """An agent's answer is not JSON, or does not match the agent's output schema."""

    code: ClassVar[str] = "output_validation_error"
    _json_fields: ClassVar[tuple[str, ...]] = ("task_name", "reason")

    def __init__(self, task_name: str, reason: str, *, cause: object = None) -> None:
        self.task_name = task_name
        self.reason = reason
        super().__init__(f'Task "{task_name}": invalid agent output: {reason}', cause=cause)


class OutputTooLargeError(OutputValidationError):
    """An agent's answer is longer than the agent's ``max_output_bytes``."""

    code: ClassVar[str] = "output_too_large"
    _json_fields: ClassVar[tuple[str, ...]] = ("task_name", "reason", "size", "limit")

    def __init__(self, task_name: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(task_name, f"output is {size} bytes, over the limit of {limit} bytes")


class HitlRejectedError(AgentFlowError):
    """A checkpoint was answered with a rejection."""

    code: ClassVar[str] = "hitl_rejected"
    _json_fields: ClassVar[tuple[str, ...]] = ("task_name",)

    def __init__(self, task_name: str, *, cause: object = None) -> None:
        self.task_name = task_name
        super().__init__(f'Task "{task_name}" was rejected at its checkpoint', cause=cause)


class HitlNotInteractiveError(AgentFlowError):
    """A checkpoint needs a decision, but nothing can give one (no handler, no terminal)."""

    code: ClassVar[str] = "hitl_not_interactive"
    _json_fields: ClassVar[tuple[str, ...]] = ("task_name",)

    def __init__(self, task_name: str, *, cause: object = None) -> None:
        self.task_name = task_name
        super().__init__(
            f'Task "{task_name}" has a checkpoint but there is no terminal to ask: headless runs '
            "need an on_checkpoint handler (or hook) that approves",
            cause=cause,
        )


class RunnerNotRegisteredError(AgentFlowError):
    """No runner is registered under the name an agent asks for."""

    code: ClassVar[str] = "runner_not_registered"
    _json_fields: ClassVar[tuple[str, ...]] = ("runner_name",)

    def __init__(self, runner_name: str, *, cause: object = None) -> None:
        self.runner_name = runner_name
        super().__init__(
            f'No runner registered as "{runner_name}": register one with '
            f'register_runner("{runner_name}", ...) or pass a registry that has it',
            cause=cause,
        )


class WorkflowAbortedError(AgentFlowError):
    """The run was cancelled before it finished."""

    code: ClassVar[str] = "workflow_aborted"

    def __init__(self, message: str = "Workflow aborted", *, cause: object = None) -> None:
        super().__init__(message, cause=cause)


class MissingEnvVarError(AgentFlowError):
    """An MCP server config names an environment variable that is not set (or uses $NAME)."""

    code: ClassVar[str] = "missing_env_var"
    _json_fields: ClassVar[tuple[str, ...]] = ("var_name",)

    def __init__(self, var_name: str, *, cause: object = None) -> None:
        self.var_name = var_name
        detail = f": {cause}" if isinstance(cause, str) else ""
        super().__init__(f'Environment variable "{var_name}" is not set{detail}', cause=cause)
