"""Typed errors of ageflow.

Every error carries a stable ``code`` string (the same strings the TypeScript ageflow used,
so clients can branch on them) and serialises with :meth:`AgentFlowError.to_json` to
``{name, code, message, cause, <fields in camelCase>}``.

The builtin :class:`TimeoutError` is not shadowed by the package: the task-timeout error is
called :class:`TaskTimeoutError`. This module also binds the original's name ``TimeoutError``
to it, so ``from ageflow.core.errors import TimeoutError`` keeps code ported from the
original working; prefer ``TaskTimeoutError`` in new code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel

from ageflow.core.config import RetryErrorKind
from ageflow.core.wire import WireModel

__all__ = [
    "AgentFlowError",
    "AgentHitlConflictError",
    "AttemptRecord",
    "BudgetExceededError",
    "CyclicDependencyError",
    "GenericAgentFlowError",
    "InlineToolsNotSupportedError",
    "InvalidIdentifierError",
    "LoopMaxIterationsError",
    "McpProtocolError",
    "McpServerCrashedError",
    "McpServerStartFailedError",
    "McpTimeoutError",
    "McpToolArgInvalidError",
    "McpToolCallFailedError",
    "McpToolNotFoundError",
    "McpToolNotPermittedError",
    "NodeMaxRetriesError",
    "PathTraversalError",
    "PreFlightError",
    "SessionCycleError",
    "SessionMismatchError",
    "TaskTimeoutError",
    "TimeoutError",
    "ToolNotUsedError",
    "UnresolvedDependencyError",
    "UnresolvedSessionRefError",
    "ValidationError",
    "WorkflowDefinitionError",
    "WorkflowNotExposableError",
    "sole_error",
]


def _quote(text: str) -> str:
    # JSON quoting shows names with quotes, newlines or control characters unambiguously.
    return json.dumps(text, ensure_ascii=False)


def _tool_ref(server_name: str, tool_name: str) -> str:
    return _quote(f"{server_name}/{tool_name}")


def _jsonable(value: Any) -> Any:
    """A JSON-ready form of an error field (models become their wire dicts)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, WireModel):
        return value.to_wire()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, BaseException):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    return str(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _restore_error(
    cls: type[AgentFlowError], args: tuple[Any, ...], state: dict[str, Any]
) -> AgentFlowError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    cause = state.get("cause")
    if isinstance(cause, BaseException):
        error.__cause__ = cause
    return error


class AttemptRecord(WireModel):
    """One failed attempt of a task, as kept in :class:`NodeMaxRetriesError`."""

    attempt: int
    """Attempt index (the executor counts from 0)."""
    error: str
    """The attempt's error message."""
    error_code: RetryErrorKind
    """How the failure was classified (wire key ``errorCode``)."""


class AgentFlowError(Exception):
    """Base of every ageflow error; abstract, raise a subclass.

    ``cause`` (keyword) is kept as ``.cause`` and also set as ``__cause__``, so tracebacks
    show it as they would after ``raise ... from cause``.
    """

    code: ClassVar[str]
    """Stable machine-readable identifier of the error kind."""

    _json_fields: ClassVar[tuple[str, ...]] = ()
    """Attributes that :meth:`to_json` adds, in camelCase, after the common keys."""

    def __init__(self, message: str, *, cause: object = None) -> None:
        if type(self) is AgentFlowError:
            raise TypeError(
                "AgentFlowError is abstract: raise one of its subclasses "
                "(GenericAgentFlowError when no specific one fits)"
            )
        super().__init__(message)
        self.message = message
        self.cause = cause
        if isinstance(cause, BaseException):
            self.__cause__ = cause

    @property
    def name(self) -> str:
        """The concrete class name (``"NodeMaxRetriesError"`` ...)."""
        return type(self).__name__

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``name``, ``code``, ``message``, ``cause`` and the error's fields.

        ``cause`` is the cause's own ``to_json()`` for an ageflow error, the message of any
        other exception, and the raw value otherwise (``None`` when there is no cause).
        """
        cause = self.cause
        cause_json: Any
        if isinstance(cause, AgentFlowError):
            cause_json = cause.to_json()
        elif isinstance(cause, BaseException):
            cause_json = str(cause)
        else:
            cause_json = _jsonable(cause)
        result: dict[str, Any] = {
            "name": self.name,
            "code": self.code,
            "message": self.message,
            "cause": cause_json,
        }
        for field in self._json_fields:
            result[_camel(field)] = _jsonable(getattr(self, field))
        return result

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GenericAgentFlowError:
        """Rebuild an error received over the wire; only string ``message``/``code`` count."""
        message = data.get("message")
        code = data.get("code")
        return GenericAgentFlowError(
            message if isinstance(message, str) else "Unknown error",
            code if isinstance(code, str) else "unknown",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclass constructors take their fields, not the message, so the default
        # Exception pickling (cls(*args)) cannot rebuild them.
        return (_restore_error, (type(self), self.args, dict(self.__dict__)))


class GenericAgentFlowError(AgentFlowError):
    """Concrete fallback error whose code is chosen per instance (see ``from_json``)."""

    code: ClassVar[str] = "unknown"

    def __init__(self, message: str, code: str, *, cause: object = None) -> None:
        super().__init__(message, cause=cause)
        # A per-instance code shadows the class default on purpose.
        self.code = code  # type: ignore[misc]


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


class McpServerStartFailedError(AgentFlowError):
    """An MCP server process could not be started or initialised."""

    code: ClassVar[str] = "mcp_server_start_failed"
    _json_fields = ("server_name", "reason")

    def __init__(self, server_name: str, reason: str, *, cause: object = None) -> None:
        self.server_name = server_name
        self.reason = reason
        super().__init__(f"MCP server {_quote(server_name)} failed to start: {reason}", cause=cause)


class McpServerCrashedError(AgentFlowError):
    """An MCP server process exited while it was in use."""

    code: ClassVar[str] = "mcp_server_crashed"
    _json_fields = ("server_name", "exit_code")

    def __init__(self, server_name: str, exit_code: int | None, *, cause: object = None) -> None:
        self.server_name = server_name
        self.exit_code = exit_code
        shown = "unknown" if exit_code is None else str(exit_code)
        super().__init__(
            f"MCP server {_quote(server_name)} crashed (exit code {shown})", cause=cause
        )


class McpToolNotFoundError(AgentFlowError):
    """An MCP server does not offer the requested tool."""

    code: ClassVar[str] = "mcp_tool_not_found"
    _json_fields = ("server_name", "tool_name")

    def __init__(self, server_name: str, tool_name: str, *, cause: object = None) -> None:
        self.server_name = server_name
        self.tool_name = tool_name
        super().__init__(
            f"MCP tool {_tool_ref(server_name, tool_name)} does not exist on the server",
            cause=cause,
        )


class McpToolNotPermittedError(AgentFlowError):
    """An MCP tool was called that the server's ``tools`` allowlist does not permit."""

    code: ClassVar[str] = "mcp_tool_not_permitted"
    _json_fields = ("server_name", "tool_name")

    def __init__(self, server_name: str, tool_name: str, *, cause: object = None) -> None:
        self.server_name = server_name
        self.tool_name = tool_name
        super().__init__(
            f"MCP tool {_tool_ref(server_name, tool_name)} is not in the server's tools allowlist",
            cause=cause,
        )


class McpToolArgInvalidError(AgentFlowError):
    """Arguments for an MCP tool failed its ``refine`` validation.

    ``zod_error`` keeps the original's field name (wire key ``zodError``).
    """

    code: ClassVar[str] = "mcp_tool_arg_invalid"
    _json_fields = ("server_name", "tool_name", "zod_error")

    def __init__(
        self,
        server_name: str,
        tool_name: str,
        zod_error: str | BaseException,
        *,
        cause: object = None,
    ) -> None:
        self.server_name = server_name
        self.tool_name = tool_name
        self.zod_error = zod_error
        super().__init__(
            f"Invalid arguments for MCP tool {_tool_ref(server_name, tool_name)}: {zod_error}",
            cause=cause,
        )


class McpToolCallFailedError(AgentFlowError):
    """An MCP server reported an error for a tool call."""

    code: ClassVar[str] = "mcp_tool_call_failed"
    _json_fields = ("server_name", "tool_name", "server_error")

    def __init__(
        self,
        server_name: str,
        tool_name: str,
        server_error: str,
        *,
        cause: object = None,
    ) -> None:
        self.server_name = server_name
        self.tool_name = tool_name
        self.server_error = server_error
        super().__init__(
            f"MCP tool {_tool_ref(server_name, tool_name)} call failed: {server_error}",
            cause=cause,
        )


class McpProtocolError(AgentFlowError):
    """An MCP server broke the protocol (malformed or unexpected message)."""

    code: ClassVar[str] = "mcp_protocol_error"
    _json_fields = ("server_name", "detail")

    def __init__(self, server_name: str, detail: str, *, cause: object = None) -> None:
        self.server_name = server_name
        self.detail = detail
        super().__init__(
            f"MCP protocol error from server {_quote(server_name)}: {detail}", cause=cause
        )


class McpTimeoutError(AgentFlowError):
    """An MCP tool call did not answer within its time limit."""

    code: ClassVar[str] = "mcp_timeout"
    _json_fields = ("server_name", "tool_name", "timeout_ms")

    def __init__(
        self, server_name: str, tool_name: str, timeout_ms: int, *, cause: object = None
    ) -> None:
        self.server_name = server_name
        self.tool_name = tool_name
        self.timeout_ms = timeout_ms
        super().__init__(
            f"MCP tool {_tool_ref(server_name, tool_name)} timed out after {timeout_ms}ms",
            cause=cause,
        )


# --- Workflow-definition errors (checked when a workflow is defined) -------------------


class CyclicDependencyError(AgentFlowError):
    """The tasks' ``depends_on`` edges form a cycle."""

    code: ClassVar[str] = "cyclic_dependency"
    _json_fields = ("cycle",)

    def __init__(self, cycle: Sequence[str], *, cause: object = None) -> None:
        self.cycle = list(cycle)
        super().__init__(f"Cyclic dependency between tasks: {' → '.join(self.cycle)}", cause=cause)


class UnresolvedDependencyError(AgentFlowError):
    """A task depends on a task name that is not in the same task map."""

    code: ClassVar[str] = "unresolved_dependency"
    _json_fields = ("task_name", "unresolved_dep", "available_task_names")

    def __init__(
        self,
        task_name: str,
        unresolved_dep: str,
        available_task_names: Sequence[str],
        *,
        cause: object = None,
    ) -> None:
        self.task_name = task_name
        self.unresolved_dep = unresolved_dep
        self.available_task_names = list(available_task_names)
        available = ", ".join(self.available_task_names) or "(none)"
        super().__init__(
            f"Task {_quote(task_name)} depends on unknown task {_quote(unresolved_dep)}; "
            f"available tasks: {available}",
            cause=cause,
        )


class SessionCycleError(AgentFlowError):
    """``share_session_with`` references form a cycle."""

    code: ClassVar[str] = "session_cycle"
    _json_fields = ("cycle",)

    def __init__(self, cycle: Sequence[str], *, cause: object = None) -> None:
        self.cycle = list(cycle)
        super().__init__(f"Session sharing forms a cycle: {' → '.join(self.cycle)}", cause=cause)


class UnresolvedSessionRefError(AgentFlowError):
    """A task shares the session of a task that does not exist or holds no session."""

    code: ClassVar[str] = "unresolved_session_ref"
    _json_fields = ("task_name", "target_task")

    def __init__(self, task_name: str, target_task: str, *, cause: object = None) -> None:
        self.task_name = task_name
        self.target_task = target_task
        super().__init__(
            f"Task {_quote(task_name)} shares the session of {_quote(target_task)}, but no "
            "agent task of that name with a session exists in the same task map",
            cause=cause,
        )


class WorkflowDefinitionError(AgentFlowError):
    """A workflow definition is invalid; raised when the workflow is defined."""

    code: ClassVar[str] = "workflow_definition"
    _json_fields = ("problem", "task_name")

    def __init__(self, problem: str, *, task_name: str | None = None, cause: object = None) -> None:
        self.problem = problem
        self.task_name = task_name
        prefix = "Invalid workflow" if task_name is None else f"Task {_quote(task_name)}"
        super().__init__(f"{prefix}: {problem}", cause=cause)


class WorkflowNotExposableError(AgentFlowError):
    """A workflow that opted out of MCP exposure (``mcp=False``) was asked for its MCP config."""

    code: ClassVar[str] = "WORKFLOW_NOT_MCP_EXPOSABLE"
    _json_fields = ("workflow_name",)

    def __init__(self, workflow_name: str | None = None, *, cause: object = None) -> None:
        self.workflow_name = workflow_name
        which = "this workflow" if workflow_name is None else f"workflow {_quote(workflow_name)}"
        super().__init__(
            f"WORKFLOW_NOT_MCP_EXPOSABLE: {which} sets mcp=False and cannot be exposed as an "
            "MCP tool",
            cause=cause,
        )


def sole_error(exc: BaseException) -> BaseException:
    """The one error inside nested single-error task-group wrappers (else ``exc`` itself).

    anyio task groups wrap what a child raised in an exception group; one error in a group
    of one is what a user or a client should be told about.
    """
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
