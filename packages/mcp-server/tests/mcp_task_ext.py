"""A Python SDK client for the Tasks extension (2026-07-28) and ``ageflow mcp serve``
processes to use it on, over stdio and Streamable HTTP (not a test module).

:class:`TasksClient` is a client extension: it declares ``io.modelcontextprotocol/tasks``
on each request and claims ``resultType: "task"``, so ``client.call_tool`` of a tool the
server runs as a task polls ``tasks/get`` until the task ends, answers input requests
through ``approve`` (``tasks/update``) and returns the tool's ``CallToolResult``.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

import anyio
import mcp.types as types
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp_processes import HTTP_BANNER, START_TIMEOUT
from pydantic import ConfigDict, Field, TypeAdapter

TASKS = "io.modelcontextprotocol/tasks"
WORKFLOW = Path(__file__).with_name("tasks_ext_workflow.py")
AGEFLOW = [sys.executable, "-m", "ageflow.cli", "mcp", "serve", str(WORKFLOW), "--async"]
DEADLINE_S = 30
TERMINAL = {"completed", "failed", "cancelled"}
Approve = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any] | None]]


class CreatedTask(types.Result):
    """``CreateTaskResult``: a ``tools/call`` answered with a task."""

    model_config = ConfigDict(extra="allow")
    result_type: Literal["task"] = Field(alias="resultType")
    task_id: str
    status: str
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None
    status_message: str | None = None


class TaskIdParams(types.RequestParams):
    model_config = ConfigDict(extra="allow")
    task_id: Any = Field(alias="taskId")


class TaskRequest(types.Request[TaskIdParams, str]):
    name_param: ClassVar[str | None] = "taskId"  # the Mcp-Name header on HTTP


class TaskFailed(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


class TaskCancelled(Exception):
    pass


_ANY = TypeAdapter(dict[str, Any])


async def task_request(session: ClientSession, method: str, **params: Any) -> dict[str, Any]:
    request = TaskRequest(method=method, params=TaskIdParams.model_validate(params))
    answer: dict[str, Any] = await session.send_request(request, _ANY)
    return answer


ENVELOPE = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}},
}


async def raw_request(session: ClientSession, method: str, params: Any) -> dict[str, Any]:
    """Any params, as they are (the typed helpers only send well-formed ones), with the
    2026-07-28 envelope declaring the extension."""
    with_meta = {**params, "_meta": ENVELOPE} if isinstance(params, dict) else params
    answer: dict[str, Any] = await session._dispatcher.send_raw_request(method, with_meta, {})
    return answer


async def wait_for_status(session: ClientSession, task_id: str, status: str) -> dict[str, Any]:
    with anyio.fail_after(DEADLINE_S):
        while True:
            task = await task_request(session, "tasks/get", taskId=task_id)
            if task["status"] == status:
                return task
            assert task["status"] not in TERMINAL, task
            await anyio.sleep(0.02)


def approving(approved: bool) -> Approve:
    async def answer(key: str, request: dict[str, Any]) -> dict[str, Any]:
        return {"action": "accept", "content": {"approved": approved}}

    return answer


class TasksClient(ClientExtension):
    """Declares the extension and resolves task results by polling."""

    identifier = TASKS

    def __init__(self, approve: Approve | None = None) -> None:
        self.approve = approve
        self.created: list[CreatedTask] = []
        self.asked: list[dict[str, Any]] = []

    def claims(self) -> Sequence[ResultClaim[Any]]:
        return (ResultClaim(result_type="task", model=CreatedTask, resolve=self.resolve),)

    async def resolve(self, created: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
        self.created.append(created)
        answered: set[str] = set()
        with anyio.fail_after(DEADLINE_S):
            while True:
                task = await task_request(ctx.session, "tasks/get", taskId=created.task_id)
                status = task["status"]
                if status == "completed":
                    return types.CallToolResult.model_validate(task["result"])
                if status == "failed":
                    raise TaskFailed(task["error"])
                if status == "cancelled":
                    raise TaskCancelled(created.task_id)
                fresh = {
                    key: request
                    for key, request in task.get("inputRequests", {}).items()
                    if key not in answered
                }
                if status == "input_required" and fresh and self.approve is not None:
                    responses = {}
                    for key, request in fresh.items():
                        self.asked.append(request)
                        answered.add(key)
                        answer = await self.approve(key, request)
                        if answer is not None:
                            responses[key] = answer
                    await task_request(
                        ctx.session,
                        "tasks/update",
                        taskId=created.task_id,
                        inputResponses=responses,
                    )
                    continue
                await anyio.sleep((task.get("pollIntervalMs") or 100) / 1000)


async def create_task(client: Client, name: str, arguments: dict[str, Any]) -> CreatedTask:
    """A ``tools/call`` whose task handle comes back as it is (not resolved)."""
    result = await client.session.call_tool(name, arguments, allow_claimed=True)
    assert isinstance(result, CreatedTask), result
    return result


def serve_env(markers: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "TASKS_TEST_MARKERS": str(markers), **extra}


def runs_of(markers: Path, step: str) -> list[int]:
    path = markers / step
    return [int(line) for line in path.read_text().split()] if path.exists() else []


@asynccontextmanager
async def stdio_client(
    db: Path, env: dict[str, str], extensions: Sequence[ClientExtension] = ()
) -> AsyncIterator[Client]:
    """``ageflow mcp serve --async`` on stdio, with a 2026-07-28 client."""
    params = StdioServerParameters(
        command=AGEFLOW[0], args=[*AGEFLOW[1:], "--job-db", str(db)], env=env
    )
    async with Client(params, extensions=list(extensions)) as client:
        assert client.protocol_version == "2026-07-28"
        yield client


@asynccontextmanager
async def http_server(
    db: Path, env: dict[str, str], *args: str
) -> AsyncIterator[tuple[str, anyio.abc.Process]]:
    """``ageflow mcp serve --async --http`` on 127.0.0.1; yields its URL and process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [*AGEFLOW, "--job-db", str(db), "--http", "--port", str(port), *args]
    process = await anyio.open_process(command, env=env)
    try:
        assert process.stderr is not None
        banner = ""
        with anyio.fail_after(START_TIMEOUT):
            while (match := HTTP_BANNER.search(banner)) is None:
                banner += (await process.stderr.receive()).decode(errors="replace")
        yield match.group(1), process
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.CancelScope(shield=True):
            await process.wait()
            await process.aclose()


@asynccontextmanager
async def http_client(
    url: str, extensions: Sequence[ClientExtension] = (), token: str | None = None
) -> AsyncIterator[Client]:
    headers = None if token is None else {"Authorization": f"Bearer {token}"}
    transport = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    async with Client(transport, extensions=list(extensions)) as client:  # type: ignore[arg-type]
        assert client.protocol_version == "2026-07-28"
        yield client


async def rpc_error(call: Awaitable[Any]) -> MCPError:
    try:
        await call
    except MCPError as exc:
        return exc
    raise AssertionError("expected a JSON-RPC error")
