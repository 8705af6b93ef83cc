"""Typed errors of ageflow.

Every error carries a stable ``code`` string (the same strings the TypeScript ageflow used,
so clients can branch on them) and serialises with :meth:`AgentFlowError.to_json` to
``{name, code, message, cause, <fields in camelCase>}``.

The builtin :class:`TimeoutError` is not shadowed by the package: the task-timeout error is
called :class:`TaskTimeoutError`. This module also binds the original's name ``TimeoutError``
to it, so ``from ageflow.core.errors import TimeoutError`` keeps code ported from the
original working; prefer ``TaskTimeoutError`` in new code.

The classes live in private modules of ``ageflow.core`` (``_error_base``: the helpers,
:class:`AttemptRecord` and :class:`AgentFlowError`; ``_execution_errors``; ``_mcp_errors``;
``_definition_errors``); import every public name from here.
"""

from __future__ import annotations

from ageflow.core._definition_errors import (
    CyclicDependencyError,
    SessionCycleError,
    UnresolvedDependencyError,
    UnresolvedSessionRefError,
    WorkflowDefinitionError,
    WorkflowNotExposableError,
)
from ageflow.core._error_base import AgentFlowError, AttemptRecord, GenericAgentFlowError
from ageflow.core._execution_errors import (
    AgentHitlConflictError,
    BudgetExceededError,
    InlineToolsNotSupportedError,
    InvalidIdentifierError,
    LoopMaxIterationsError,
    NodeMaxRetriesError,
    PathTraversalError,
    PreFlightError,
    SessionMismatchError,
    TaskTimeoutError,
    TimeoutError,
    ToolNotUsedError,
    ValidationError,
)
from ageflow.core._mcp_errors import (
    McpProtocolError,
    McpServerCrashedError,
    McpServerStartFailedError,
    McpTimeoutError,
    McpToolArgInvalidError,
    McpToolCallFailedError,
    McpToolNotFoundError,
    McpToolNotPermittedError,
)

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


def sole_error(exc: BaseException) -> BaseException:
    """The one error inside nested single-error task-group wrappers (else ``exc`` itself).

    anyio task groups wrap what a child raised in an exception group; one error in a group
    of one is what a user or a client should be told about.
    """
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
