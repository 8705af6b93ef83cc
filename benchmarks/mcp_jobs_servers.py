"""The servers that benchmarks/mcp_jobs.py measures, run in its child process: ageflow's
MCP server (in-memory, SQLite or PostgreSQL job store) and the floor, the SDK's bare
low-level server with three dict-backed tools of the same names and shapes."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from pydantic import BaseModel

WORKFLOW = "echo"


class Message(BaseModel):
    text: str


async def serve_ageflow(job_db: str | None, jobs: int) -> None:
    """ageflow's server on a SQLite job file, or on ``InMemoryRunStore`` without one."""
    from ageflow.core import define_function, define_workflow, task
    from ageflow.mcp_server import ConcurrencyConfig, create_mcp_server, serve_stdio
    from ageflow.server import InMemoryRunStore

    echo = define_function(lambda m: Message(text=m.text), input=Message, output=Message)
    workflow = define_workflow(name=WORKFLOW, tasks={"echo": task(echo)})
    limit = max(1000, 2 * jobs)
    server = create_mcp_server(
        workflow,
        middleware=[report_cpu],
        async_mode=True,
        job_db_path=job_db,
        job_store=InMemoryRunStore() if job_db is None else None,
        concurrency=ConcurrencyConfig(max_concurrent_starts=limit, max_concurrent_jobs=limit),
    )
    await serve_stdio(server, log=io.StringIO())  # the banner would only clutter the output


CPU_TOOL = "bench_process_cpu"
"""An unlisted tool both servers answer with their process's CPU seconds so far."""


async def report_cpu(request: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
    """ageflow middleware answering CPU_TOOL itself; every other call goes on."""
    if request.tool_name == CPU_TOOL:
        cpu = {"cpu": time.process_time()}
        return {"isError": False, "content": [], "structuredContent": cpu}
    return await call_next(request)


JOB_ID_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["jobId"],
    "properties": {"jobId": {"type": "string"}},
    "additionalProperties": False,
}
FLOOR_TOOLS = [
    types.Tool(
        name=f"start_{WORKFLOW}",
        input_schema=Message.model_json_schema(),
        output_schema={
            "type": "object",
            "required": ["jobId"],
            "properties": {"jobId": {"type": "string"}},
            "additionalProperties": False,
        },
    ),
    types.Tool(
        name="get_workflow_status",
        input_schema=JOB_ID_SCHEMA,
        output_schema={
            "type": "object",
            "required": ["state", "createdAt", "lastEventAt"],
            "properties": {
                "state": {"type": "string"},
                "createdAt": {"type": "number"},
                "lastEventAt": {"type": "number"},
            },
        },
    ),
    types.Tool(
        name="get_workflow_result",
        input_schema=JOB_ID_SCHEMA,
        output_schema={
            "type": "object",
            "properties": {"state": {"type": "string"}, "output": {}, "metrics": {}},
        },
    ),
]


async def serve_floor() -> None:
    """The same three tools over the bare SDK server; a job is done when it is stored."""
    jobs: dict[str, dict[str, Any]] = {}

    def answer(structured: dict[str, Any], *, error: bool = False) -> types.CallToolResult:
        return types.CallToolResult(
            content=[types.TextContent(text=str(structured))],
            structured_content=structured,
            is_error=error,
        )

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=FLOOR_TOOLS)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        args = params.arguments or {}
        if params.name == CPU_TOOL:
            return answer({"cpu": time.process_time()})
        if params.name == f"start_{WORKFLOW}":
            job_id = str(uuid.uuid4())
            now = int(time.time() * 1000)
            output = {"text": str(args.get("text", ""))}
            jobs[job_id] = {"state": "done", "createdAt": now, "lastEventAt": now, "out": output}
            return answer({"jobId": job_id})
        job = jobs.get(str(args.get("jobId")))
        if job is None:
            return answer({"errorCode": "JOB_NOT_FOUND", "message": "unknown jobId"}, error=True)
        if params.name == "get_workflow_status":
            return answer({k: job[k] for k in ("state", "createdAt", "lastEventAt")})
        return answer({"state": "done", "output": job["out"], "metrics": {}})

    server: Server[Any] = Server("floor", on_list_tools=list_tools, on_call_tool=call_tool)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
