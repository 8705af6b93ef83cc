"""ageflow runner for OpenAI-compatible chat completions APIs (httpx), with tools and MCP."""

from ageflow.runners.api.errors import (
    ApiConnectionError,
    ApiProviderUnavailableError,
    ApiRateLimitError,
    ApiRequestError,
    ApiTimeoutError,
    MaxToolRoundsError,
    McpPoolCollisionError,
    ToolNotFoundError,
    api_request_error,
    parse_retry_after,
)
from ageflow.runners.api.inline_tools import (
    inline_tool_def_to_tool_definition,
    inline_tools_to_registry,
    merge_inline_tools,
)
from ageflow.runners.api.mcp_client import (
    DEFAULT_MCP_CALL_TIMEOUT_MS,
    McpClient,
    StdioMcpClient,
    shutdown_all,
    start_mcp_client,
    start_mcp_clients,
)
from ageflow.runners.api.mcp_tools import mcp_tool_definition, mcp_tools_to_registry
from ageflow.runners.api.messages import ChatMessage, ToolCall, build_initial_messages
from ageflow.runners.api.runner import ApiRunner, McpStarter, mcp_pool_key
from ageflow.runners.api.sessions import InMemorySessionStore, SessionStore
from ageflow.runners.api.tool_loop import ToolLoopResult, run_tool_loop
from ageflow.runners.api.tools import ToolDefinition, ToolRegistry, tools_to_schemas
from ageflow.runners.api.version import RUNNER_NAME, RUNNER_VERSION

__all__ = [
    "DEFAULT_MCP_CALL_TIMEOUT_MS",
    "RUNNER_NAME",
    "RUNNER_VERSION",
    "ApiConnectionError",
    "ApiProviderUnavailableError",
    "ApiRateLimitError",
    "ApiRequestError",
    "ApiRunner",
    "ApiTimeoutError",
    "ChatMessage",
    "InMemorySessionStore",
    "MaxToolRoundsError",
    "McpClient",
    "McpPoolCollisionError",
    "McpStarter",
    "SessionStore",
    "StdioMcpClient",
    "ToolCall",
    "ToolDefinition",
    "ToolLoopResult",
    "ToolNotFoundError",
    "ToolRegistry",
    "api_request_error",
    "build_initial_messages",
    "inline_tool_def_to_tool_definition",
    "inline_tools_to_registry",
    "mcp_pool_key",
    "mcp_tool_definition",
    "mcp_tools_to_registry",
    "merge_inline_tools",
    "parse_retry_after",
    "run_tool_loop",
    "shutdown_all",
    "start_mcp_client",
    "start_mcp_clients",
    "tools_to_schemas",
]
