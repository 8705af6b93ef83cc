"""ageflow runner for the Anthropic Messages API (official ``anthropic`` SDK), with inline
tools, MCP servers, sessions and prompt caching.

Tools, MCP clients, sessions and the tool-loop errors are the API runner's
(``ageflow.runners.api``), re-exported here so both runners raise the same classes.
"""

from ageflow.runners.anthropic.errors import (
    AnthropicAuthenticationError,
    AnthropicBadRequestError,
    AnthropicNotConfiguredError,
    AnthropicOverloadedError,
    AnthropicProviderUnavailableError,
    AnthropicRateLimitError,
    AnthropicRequestError,
    anthropic_request_error,
)
from ageflow.runners.anthropic.messages import (
    AnthropicMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    build_anthropic_messages,
    system_param,
    tools_to_anthropic_schemas,
)
from ageflow.runners.anthropic.runner import AnthropicRunner, AnthropicSpawnResult
from ageflow.runners.anthropic.tool_loop import (
    AnthropicLoopResult,
    AnthropicUsage,
    run_anthropic_tool_loop,
)
from ageflow.runners.anthropic.version import RUNNER_NAME, RUNNER_VERSION
from ageflow.runners.api import (
    ApiConnectionError,
    ApiTimeoutError,
    InMemorySessionStore,
    MaxToolRoundsError,
    McpPoolCollisionError,
    SessionStore,
    ToolDefinition,
    ToolNotFoundError,
)

__all__ = [
    "RUNNER_NAME",
    "RUNNER_VERSION",
    "AnthropicAuthenticationError",
    "AnthropicBadRequestError",
    "AnthropicLoopResult",
    "AnthropicMessage",
    "AnthropicNotConfiguredError",
    "AnthropicOverloadedError",
    "AnthropicProviderUnavailableError",
    "AnthropicRateLimitError",
    "AnthropicRequestError",
    "AnthropicRunner",
    "AnthropicSpawnResult",
    "AnthropicUsage",
    "ApiConnectionError",
    "ApiTimeoutError",
    "InMemorySessionStore",
    "MaxToolRoundsError",
    "McpPoolCollisionError",
    "SessionStore",
    "TextBlock",
    "ToolDefinition",
    "ToolNotFoundError",
    "ToolResultBlock",
    "ToolUseBlock",
    "anthropic_request_error",
    "build_anthropic_messages",
    "run_anthropic_tool_loop",
    "system_param",
    "tools_to_anthropic_schemas",
]
