"""The SDK low-level ``Server`` of an :class:`McpServer`: its handlers, and Tasks if served."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPDeprecationWarning

from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server._hitl import task_approver
from ageflow.mcp_server._sdk_connection import SdkConnection
from ageflow.mcp_server._tool_pipeline import requires_task
from ageflow.mcp_server.sse_polling import closing_stream_periodically
from ageflow.mcp_server.task_extension import TasksExtension, install_extension
from ageflow.mcp_server.tasks import Approver, TaskServer, serve_tasks
from ageflow.mcp_server.tool_result import to_call_tool_result

if TYPE_CHECKING:
    from ageflow.mcp_server.server import McpServer


def build_sdk_server(owner: McpServer, workflows: Mapping[str, WorkflowDef]) -> Server[Any]:
    """The SDK server wired to ``owner``: ``tools/list``, ``tools/call``, logging, Tasks."""

    def approver(ctx: ServerRequestContext[Any]) -> Approver:
        return task_approver(ctx, owner.log_levels)

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=owner.list_tools())

    tasks = owner.task_service

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        async with closing_stream_periodically(ctx, owner.sse_close_seconds):
            result = await owner.call_tool(
                params.name, params.arguments, connection=SdkConnection(ctx, owner.log_levels)
            )
        return to_call_tool_result(result)

    with warnings.catch_warnings():
        # The SDK marks logging deprecated for the 2026-07-28 protocol only; clients on
        # the handshake protocols still use logging/setLevel.
        warnings.simplefilter("ignore", MCPDeprecationWarning)
        server_type = Server if tasks is None else TaskServer
        server = server_type(
            owner.name,
            version=owner.version,
            on_list_tools=list_tools,
            on_call_tool=call_tool,
            on_set_logging_level=owner.log_levels.set_level_handler,
        )
    if tasks is not None:
        serve_tasks(server, tasks, set(owner.tools), approver)
        required = [name for name, wf in workflows.items() if requires_task(wf)]
        extension = TasksExtension(tasks, set(owner.tools), required)
        install_extension(server, extension, call_tool)
    return server
