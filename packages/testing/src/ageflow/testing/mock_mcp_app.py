"""The mock MCP server itself: a low-level SDK ``Server`` that echoes tool arguments.

Shared by the in-process and the subprocess mode; the two differ only in what a crash
means, so the caller passes ``crash`` (raise an error, or end the process).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import anyio
import mcp.types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel import Server

from ageflow.testing.mock_mcp_config import McpPhase, MockMcpServerOpts, compact_json

SERVER_NAME = "mock-mcp"
SERVER_VERSION = "0.0.1"

CrashFn = Callable[[McpPhase], NoReturn]


def echo_text(arguments: dict[str, Any] | None) -> str:
    """What a successful call answers: ``arguments["text"]`` if it is a string, else the JSON."""
    if arguments is not None and isinstance(arguments.get("text"), str):
        return str(arguments["text"])
    return compact_json(arguments or {})


def build_mock_mcp_server(opts: MockMcpServerOpts, crash: CrashFn) -> Server[Any]:
    tools = [
        types.Tool(
            name=spec.name,
            description=spec.description or "",
            input_schema={"type": "object", **(spec.input_schema or {})},
        )
        for spec in opts.tools
    ]

    async def misbehave(phase: McpPhase) -> None:
        if opts.crash_on == phase:
            crash(phase)
        if opts.hang_on == phase:
            await anyio.sleep_forever()

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await misbehave("tools/list")
        return types.ListToolsResult(tools=tools)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        await misbehave("call")
        if params.name == opts.is_error_on:
            return types.CallToolResult(
                content=[types.TextContent(text=f"error: tool {params.name} failed")],
                is_error=True,
            )
        return types.CallToolResult(content=[types.TextContent(text=echo_text(params.arguments))])

    server: Server[Any] = Server(
        SERVER_NAME, version=SERVER_VERSION, on_list_tools=list_tools, on_call_tool=call_tool
    )
    if opts.hang_on == "initialize":
        # `initialize` is answered by the SDK's runner, not by a handler, so the only
        # place to withhold the answer is middleware around it.
        async def hang_on_initialize(
            ctx: ServerRequestContext[Any, Any], call_next: CallNext
        ) -> HandlerResult:
            if ctx.method == "initialize":
                await anyio.sleep_forever()
            return await call_next(ctx)

        server.middleware.append(hang_on_initialize)
    return server
