"""Errors raised while a workflow runs: retries, loops, tools, budget, validation, timeouts.

Import these from :mod:`ageflow.core.errors`, the public module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from ageflow.core._error_base import AgentFlowError, AttemptRecord, _quote


class NodeMaxRetriesError(AgentFlowError):
    """A task failed on every attempt its retry policy allowed."""

    code: ClassVar[str] = "node_max_retries"
    _json_fields = ("task_name", "attempts")

    def __init__(
        self,
        task_name: str,
        attempts: Sequence[AttemptRecord | Mapping[str, Any]],
        *,
        cause: object = None,
    ) -> None:
        self.task_name = task_name
        self.attempts: list[AttemptRecord] = [
            a if isinstance(a, AttemptRecord) else AttemptRecord.model_validate(a) for a in attempts
        ]
        count = len(self.attempts)
        last_error = self.attempts[-1].error if self.attempts else "unknown"
        noun = "attempt" if count == 1 else "attempts"
        super().__init__(
            f"Task {_quote(task_name)} failed after {count} {noun}; last error: {last_error}",
            cause=cause,
        )


class LoopMaxIterationsError(AgentFlowError):
    """A loop ran its maximum number of iterations without its exit condition holding."""

    code: ClassVar[str] = "loop_max_iterations"
    _json_fields = ("task_name", "max_iterations")

    def __init__(self, task_name: str, max_iterations: int, *, cause: object = None) -> None:
        self.task_name = task_name
        self.max_iterations = max_iterations
        super().__init__(
            f"Loop {_quote(task_name)} reached its maximum of {max_iterations} iterations "
            "before its exit condition was met",
            cause=cause,
        )


class ToolNotUsedError(AgentFlowError):
    """An agent finished without calling tools it was required to use."""

    code: ClassVar[str] = "tool_not_used"
    _json_fields = ("task_name", "required_tools")

    def __init__(
        self, task_name: str, required_tools: Sequence[str], *, cause: object = None
    ) -> None:
        self.task_name = task_name
        self.required_tools = list(required_tools)
        super().__init__(
            f"Task {_quote(task_name)} finished without using the required tools: "
            f"{', '.join(self.required_tools)}",
            cause=cause,
        )


class BudgetExceededError(AgentFlowError):
    """The run's accumulated cost went over its budget (``on_exceed="halt"``)."""

    code: ClassVar[str] = "budget_exceeded"
    _json_fields = ("max_cost", "actual_cost")

    def __init__(self, max_cost: float, actual_cost: float, *, cause: object = None) -> None:
        self.max_cost = max_cost
        self.actual_cost = actual_cost
        super().__init__(
            f"Budget exceeded: spent ${actual_cost:.4f}, over the limit of ${max_cost:.4f}",
            cause=cause,
        )


class ValidationError(AgentFlowError):
    """A task's data failed validation.

    ``zod_error`` keeps the original's field name (wire key ``zodError``); it holds the
    validation detail, a string or the validation exception itself.
    """

    code: ClassVar[str] = "validation_error"
    _json_fields = ("task_name", "zod_error")

    def __init__(
        self, task_name: str, zod_error: str | BaseException, *, cause: object = None
    ) -> None:
        self.task_name = task_name
        self.zod_error = zod_error
        super().__init__(
            f"Validation failed for task {_quote(task_name)}: {zod_error}", cause=cause
        )


class AgentHitlConflictError(AgentFlowError):
    """An agent CLI stopped to ask an interactive permission question nobody can answer."""

    code: ClassVar[str] = "agent_hitl_conflict"
    _json_fields = ("task_name",)

    def __init__(self, task_name: str, *, cause: object = None) -> None:
        self.task_name = task_name
        super().__init__(
            f"Task {_quote(task_name)}: the agent asked for permission to use a tool, which "
            "cannot be answered in a non-interactive run. Pre-allow the tools the agent needs "
            '(e.g. hitl={"mode": "permissions", ...} or the agent\'s tools list).',
            cause=cause,
        )


class PreFlightError(AgentFlowError):
    """Pre-flight checks of a workflow found errors."""

    code: ClassVar[str] = "pre_flight_error"
    _json_fields = ("errors", "warnings")

    def __init__(
        self,
        errors: Sequence[str],
        warnings: Sequence[str] = (),
        *,
        cause: object = None,
    ) -> None:
        self.errors = list(errors)
        self.warnings = list(warnings)
        lines = "".join(f"\n  ✗ {error}" for error in self.errors)
        super().__init__(
            f"Pre-flight checks failed with {len(self.errors)} error(s):{lines}", cause=cause
        )


class InvalidIdentifierError(AgentFlowError):
    """A name used as a runner, model, server or session identifier has bad characters."""

    code: ClassVar[str] = "invalid_identifier"
    _json_fields = ("field", "value")

    def __init__(self, field: str, value: str, *, cause: object = None) -> None:
        # Imported here: identifiers.py imports this module to raise this error.
        from ageflow.core.identifiers import IDENTIFIER_PATTERN

        self.field = field
        self.value = value
        problem = "is empty, so" if value == "" else "contains invalid characters;"
        super().__init__(
            f"Invalid {field} {_quote(value)}: it {problem} it must match "
            f"{IDENTIFIER_PATTERN.pattern} (ASCII letters, digits, '.', '_' and '-'; "
            "anything else counts as invalid characters)",
            cause=cause,
        )


class PathTraversalError(AgentFlowError):
    """A path would escape the directory it must stay in."""

    code: ClassVar[str] = "path_traversal"
    _json_fields = ("path", "reason")

    def __init__(self, path: str, reason: str, *, cause: object = None) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"Unsafe path {_quote(path)}: {reason}", cause=cause)


class SessionMismatchError(AgentFlowError):
    """A task shares a session that was created by a different runner."""

    code: ClassVar[str] = "session_mismatch"
    _json_fields = ("task_name", "expected_runner", "actual_runner")

    def __init__(
        self,
        task_name: str,
        expected_runner: str,
        actual_runner: str,
        *,
        cause: object = None,
    ) -> None:
        self.task_name = task_name
        self.expected_runner = expected_runner
        self.actual_runner = actual_runner
        super().__init__(
            f"Task {_quote(task_name)} shares a session of runner {_quote(expected_runner)} "
            f"but runs on runner {_quote(actual_runner)}; a session cannot cross runners",
            cause=cause,
        )


class TaskTimeoutError(AgentFlowError):
    """A task (or one attempt of it) ran longer than its time limit."""

    code: ClassVar[str] = "timeout"
    _json_fields = ("task_name", "timeout_ms")

    def __init__(self, task_name: str, timeout_ms: int, *, cause: object = None) -> None:
        self.task_name = task_name
        self.timeout_ms = timeout_ms
        super().__init__(f"Task {_quote(task_name)} timed out after {timeout_ms}ms", cause=cause)


TimeoutError = TaskTimeoutError
"""The original's name for :class:`TaskTimeoutError` (shadows the builtin in this module only)."""


class InlineToolsNotSupportedError(AgentFlowError):
    """A runner that cannot execute in-process Python tools was given inline tools."""

    code: ClassVar[str] = "inline_tools_not_supported"
    _json_fields = ("runner_name",)

    def __init__(self, runner_name: str, *, cause: object = None) -> None:
        self.runner_name = runner_name
        super().__init__(
            f"Runner {_quote(runner_name)} cannot execute inline tool definitions; use an "
            "in-process runner (such as the API runner) or expose the tool through an MCP "
            "server",
            cause=cause,
        )
