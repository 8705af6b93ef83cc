"""Errors of the API runner.

HTTP failures carry a ``code`` the executor's retry policy understands: ``rate_limit`` for
429, ``provider_unavailable`` for 5xx and unreachable servers, ``timeout`` for a request
past its deadline; any other status is ``api_request_failed`` and is never retried.
"""

from __future__ import annotations

import email.utils
import time
from typing import ClassVar

from ageflow.core.errors import AgentFlowError

__all__ = [
    "ApiConnectionError",
    "ApiProviderUnavailableError",
    "ApiRateLimitError",
    "ApiRequestError",
    "ApiTimeoutError",
    "MaxToolRoundsError",
    "McpPoolCollisionError",
    "ToolNotFoundError",
    "api_request_error",
    "parse_retry_after",
]

# An error body is shown in the message; a provider's HTML error page should not flood logs.
_MAX_BODY_CHARS = 2000


class ApiRequestError(AgentFlowError):
    """The API answered with a non-2xx status (or an unusable 2xx body)."""

    code: ClassVar[str] = "api_request_failed"
    _json_fields = ("status", "body", "retry_after_s")

    def __init__(
        self, status: int, body: str, *, retry_after_s: float | None = None, cause: object = None
    ) -> None:
        self.status = status
        self.body = body
        self.retry_after_s = retry_after_s
        shown = body if len(body) <= _MAX_BODY_CHARS else body[:_MAX_BODY_CHARS] + "…"
        super().__init__(f"API request failed ({status}): {shown}", cause=cause)


class ApiRateLimitError(ApiRequestError):
    """HTTP 429: retryable as ``rate_limit``; ``retry_after_s`` holds the server's wish."""

    code: ClassVar[str] = "rate_limit"


class ApiProviderUnavailableError(ApiRequestError):
    """HTTP 5xx: retryable as ``provider_unavailable``."""

    code: ClassVar[str] = "provider_unavailable"


class ApiConnectionError(AgentFlowError):
    """The server could not be reached (refused, reset, DNS): retryable as
    ``provider_unavailable``."""

    code: ClassVar[str] = "provider_unavailable"
    retry_after_s: float | None = None

    def __init__(self, url: str, reason: str, *, cause: object = None) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"API request to {url} failed: {reason}", cause=cause)


class ApiTimeoutError(AgentFlowError):
    """One HTTP request ran past its deadline: retryable as ``timeout``."""

    code: ClassVar[str] = "timeout"
    retry_after_s: float | None = None
    _json_fields = ("timeout_s",)

    def __init__(self, url: str, timeout_s: float, *, cause: object = None) -> None:
        self.url = url
        self.timeout_s = timeout_s
        super().__init__(f"API request to {url} timed out after {timeout_s:g}s", cause=cause)


class MaxToolRoundsError(AgentFlowError):
    """The model still asked for tools after the last allowed round."""

    code: ClassVar[str] = "tool_loop_exceeded"
    _json_fields = ("max_rounds",)

    def __init__(self, max_rounds: int, *, cause: object = None) -> None:
        self.max_rounds = max_rounds
        super().__init__(f"Tool loop exceeded max rounds: {max_rounds}", cause=cause)


class ToolNotFoundError(AgentFlowError):
    """The model called a tool that is not registered (or not allowed): the turn aborts."""

    code: ClassVar[str] = "tool_not_found"
    _json_fields = ("tool_name",)

    def __init__(self, tool_name: str, *, cause: object = None) -> None:
        self.tool_name = tool_name
        super().__init__(f"Tool not registered: {tool_name}", cause=cause)


class McpPoolCollisionError(AgentFlowError):
    """Two spawns asked for a pooled MCP server of one name with different configs."""

    code: ClassVar[str] = "mcp_pool_collision"
    _json_fields = ("server_name",)

    def __init__(self, server_name: str, *, cause: object = None) -> None:
        self.server_name = server_name
        super().__init__(
            f'MCP pool collision: server "{server_name}" is already pooled by this runner with '
            "a different config (command/args/env/cwd/tools/refine/timeout differ); give one "
            "of them another name or turn off reuse_per_runner",
            cause=cause,
        )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date; None if absent
    or unreadable. A date in the past gives 0."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT by definition
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def api_request_error(status: int, body: str, retry_after: str | None = None) -> ApiRequestError:
    """The error for a non-2xx response, classified by status."""
    retry_after_s = parse_retry_after(retry_after)
    if status == 429:
        return ApiRateLimitError(status, body, retry_after_s=retry_after_s)
    if 500 <= status <= 599:
        return ApiProviderUnavailableError(status, body, retry_after_s=retry_after_s)
    return ApiRequestError(status, body, retry_after_s=retry_after_s)
