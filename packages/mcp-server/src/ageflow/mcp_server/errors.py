"""Error codes of the MCP server and the tool-result shape every failure is answered with."""

from __future__ import annotations

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final

from ageflow.core.errors import BudgetExceededError
from ageflow.executor.errors import HitlNotInteractiveError
from ageflow.mcp_server.error_results import (
    McpToolErrorResult,
    error_payload,
    error_tool_result,
)
from ageflow.server.errors import (
    CheckpointTimeoutError,
    InvalidRunStateError,
    RunDeadlineExceededError,
    RunNotFoundError,
    RunStoreError,
    TurnsExceededError,
)


class ErrorCode(StrEnum):
    """The ``errorCode`` values an MCP client can see (the original's table, same spelling)."""

    INPUT_VALIDATION_FAILED = "INPUT_VALIDATION_FAILED"
    OUTPUT_VALIDATION_FAILED = "OUTPUT_VALIDATION_FAILED"
    BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
    DURATION_EXCEEDED = "DURATION_EXCEEDED"
    TURNS_EXCEEDED = "TURNS_EXCEEDED"
    WORKFLOW_FAILED = "WORKFLOW_FAILED"
    HITL_ELICITATION_UNSUPPORTED = "HITL_ELICITATION_UNSUPPORTED"
    HITL_DENIED = "HITL_DENIED"
    HITL_CANCELLED = "HITL_CANCELLED"
    WORKFLOW_NOT_MCP_EXPOSABLE = "WORKFLOW_NOT_MCP_EXPOSABLE"
    RUNNER_PREFLIGHT_FAILED = "RUNNER_PREFLIGHT_FAILED"
    BUSY = "BUSY"
    CONCURRENCY_LIMIT_EXCEEDED = "CONCURRENCY_LIMIT_EXCEEDED"
    SERVER_SHUTDOWN = "SERVER_SHUTDOWN"
    DAG_INVALID = "DAG_INVALID"
    JOB_NOT_FOUND = "JOB_NOT_FOUND"
    JOB_CANCELLED = "JOB_CANCELLED"
    INVALID_RUN_STATE = "INVALID_RUN_STATE"
    ASYNC_MODE_DISABLED = "ASYNC_MODE_DISABLED"
    RESERVED_TOOL_NAME = "RESERVED_TOOL_NAME"
    # Ours: the job store did not answer (a database restart, a lost connection). Nothing
    # was changed; the same call can be tried again.
    JOB_STORE_UNAVAILABLE = "JOB_STORE_UNAVAILABLE"


class McpServerError(Exception):
    """A failure the MCP server reports to its client with a stable code.

    ``context`` is JSON-ready detail (keys in the original's camelCase, e.g. ``taskName``).
    """

    def __init__(
        self, code: ErrorCode, message: str, context: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.context: dict[str, Any] | None = None if context is None else dict(context)

    def __repr__(self) -> str:
        return f"McpServerError({self.code.value}, {self.message!r}, {self.context!r})"


def _code_of(exc: BaseException) -> tuple[ErrorCode, dict[str, Any] | None]:
    """The code and context of a known exception type; WORKFLOW_FAILED otherwise."""
    if isinstance(exc, McpServerError):
        return exc.code, exc.context
    if isinstance(exc, BudgetExceededError):
        return ErrorCode.BUDGET_EXCEEDED, {"maxCost": exc.max_cost, "spent": exc.actual_cost}
    if isinstance(exc, HitlNotInteractiveError):
        return ErrorCode.HITL_DENIED, {"taskName": exc.task_name}
    if isinstance(exc, RunNotFoundError):
        return ErrorCode.JOB_NOT_FOUND, {"runId": exc.run_id}
    if isinstance(exc, InvalidRunStateError):
        return ErrorCode.INVALID_RUN_STATE, {"runId": exc.run_id, "state": exc.state}
    if isinstance(exc, CheckpointTimeoutError):
        return ErrorCode.HITL_CANCELLED, {"taskName": exc.task_name}
    if isinstance(exc, RunStoreError):
        return ErrorCode.JOB_STORE_UNAVAILABLE, None
    # The original never enforced turns or a run deadline (D25); our runner does, so its
    # errors get the codes the original's table reserved for them.
    if isinstance(exc, TurnsExceededError):
        return ErrorCode.TURNS_EXCEEDED, {"maxTurns": exc.max_turns}
    if isinstance(exc, RunDeadlineExceededError):
        return ErrorCode.DURATION_EXCEEDED, {"deadlineAt": exc.deadline_at}
    return ErrorCode.WORKFLOW_FAILED, None


FAILED_RUN_CODES: Final[Mapping[str, ErrorCode]] = {
    "budget_exceeded": ErrorCode.BUDGET_EXCEEDED,
    "deadline_exceeded": ErrorCode.DURATION_EXCEEDED,
    "turns_exceeded": ErrorCode.TURNS_EXCEEDED,
    "checkpoint_timeout": ErrorCode.HITL_CANCELLED,
}
"""The code of a stored run error (``ErrorInfo.code``) that has its own MCP code.

A finished job keeps only its error's name, message and code, so a failed job's result
maps the code the way :func:`format_error_result` maps the live exception (D31: a job
stopped by its duration ceiling reports DURATION_EXCEEDED, not a generic failure).
"""


def failed_run_code(error_code: str | None) -> ErrorCode:
    """The MCP code for a failed run's stored error code; WORKFLOW_FAILED otherwise."""
    if error_code is None:
        return ErrorCode.WORKFLOW_FAILED
    return FAILED_RUN_CODES.get(error_code, ErrorCode.WORKFLOW_FAILED)


def error_result(
    code: ErrorCode, message: str, context: Mapping[str, Any] | None = None
) -> McpToolErrorResult:
    """The error tool result for a code and message: the JSON error as text and in
    ``_meta`` (see ``error_results``), no ``structuredContent``."""
    return error_tool_result(error_payload(code.value, message, context))


def format_error_result(failure: object) -> McpToolErrorResult:
    """Turn anything raised (or a bare message) into an MCP error tool result.

    Known exception types keep their detail as ``context``; any other exception, a string
    or another value becomes WORKFLOW_FAILED with its message, the string or its JSON text.
    """
    if isinstance(failure, BaseException):
        code, context = _code_of(failure)
        message = failure.message if isinstance(failure, McpServerError) else str(failure)
        return error_result(code, message, context)
    if isinstance(failure, str):
        return error_result(ErrorCode.WORKFLOW_FAILED, failure)
    return error_result(ErrorCode.WORKFLOW_FAILED, json.dumps(failure, default=repr))
