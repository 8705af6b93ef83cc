"""Errors of MCP servers and their tool calls.

Import these from :mod:`ageflow.core.errors`, the public module.
"""

from __future__ import annotations

from typing import ClassVar

from ageflow.core._error_base import AgentFlowError, _quote, _tool_ref


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
