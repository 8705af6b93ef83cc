"""MCP Tasks survive a SIGKILL of their server: the Python SDK's client creates two tasks
(one in flight inside a step, one waiting at a checkpoint, ``input_required``), the server
process is killed, and a new process on the same job file answers ``tasks/get`` for both at
once, finishes the first from its journal and lets the second be approved; the step markers
show no finished step ran again."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp.shared.exceptions import MCPError
from test_mcp_restart_two_jobs import DEADLINE_S, _pid, runs_of, server_process, wait_for_runs

pytestmark = pytest.mark.anyio


async def create_task(client: Any, tool: str, arguments: dict[str, Any]) -> types.Task:
    # The Python SDK's client checks every tools/call answer against CallToolResult, so a
    # task handle cannot come back through call_tool or send_request: the request goes
    # down the session's own JSON-RPC dispatcher, over the same connection.
    params = {"name": tool, "arguments": arguments, "task": {"ttl": 60_000}}
    raw = await client.session._dispatcher.send_raw_request("tools/call", params, {})
    return types.CreateTaskResult.model_validate(raw).task


async def get_task(client: Any, task_id: str) -> types.GetTaskResult:
    request = types.GetTaskRequest(params=types.GetTaskRequestParams(task_id=task_id))
    result: types.GetTaskResult = await client.session.send_request(request, types.GetTaskResult)
    return result


async def task_result(client: Any, task_id: str) -> types.CallToolResult:
    request = types.GetTaskPayloadRequest(params=types.GetTaskPayloadRequestParams(task_id=task_id))
    result: types.CallToolResult = await client.session.send_request(request, types.CallToolResult)
    return result


async def wait_for_status(client: Any, task_id: str, status: str) -> types.GetTaskResult:
    with anyio.fail_after(DEADLINE_S):
        while True:
            task = await get_task(client, task_id)
            if task.status == status:
                return task
            await anyio.sleep(0.02)


async def test_working_and_input_required_tasks_survive_a_sigkill(tmp_path: Path) -> None:
    db, pid_file, markers = tmp_path / "jobs.sqlite", tmp_path / "pid", tmp_path / "markers"
    markers.mkdir()

    async with server_process(db, pid_file, markers) as client:
        first_pid = _pid(pid_file)
        flying = await create_task(client, "slow", {"name": "Ann"})
        waiting = await create_task(client, "review", {"name": "Bo"})
        assert flying.status == "working" and flying.task_id != waiting.task_id
        await wait_for_runs(markers, "slow.work", 1)
        paused = await wait_for_status(client, waiting.task_id, "input_required")
        assert paused.status_message is not None and "Shout it?" in paused.status_message
        os.kill(first_pid, signal.SIGKILL)

    async with server_process(db, pid_file, markers) as client:
        second_pid = _pid(pid_file)
        # Both tasks are known at once, by the ids the first process handed out.
        assert (await get_task(client, waiting.task_id)).status == "input_required"
        assert (await get_task(client, flying.task_id)).status == "working"
        # The step in flight at the kill runs again here; the finished one does not.
        assert await wait_for_runs(markers, "slow.work", 2) == [first_pid, second_pid]
        (markers / "release").touch()
        done = await task_result(client, flying.task_id)
        assert not done.is_error and done.structured_content == {"greeting": "worked for ANN"}

        resumed = await client.call_tool(
            "resume_workflow", {"jobId": waiting.task_id, "approved": True}
        )
        assert not resumed.is_error, resumed
        approved = await task_result(client, waiting.task_id)
        assert approved.structured_content == {"greeting": "HELLO, BO!"}
        assert (await get_task(client, waiting.task_id)).status == "completed"

        # An id the server never handed out is a typed JSON-RPC error; the server stays up.
        with pytest.raises(MCPError) as unknown:
            await get_task(client, "0" * 32)
        assert unknown.value.code == types.INVALID_PARAMS
        assert (await get_task(client, flying.task_id)).status == "completed"

    assert runs_of(markers, "slow.prepare") == [first_pid]
    assert runs_of(markers, "slow.work") == [first_pid, second_pid]
    assert runs_of(markers, "review.greet") == [first_pid]
    assert runs_of(markers, "review.shout") == [second_pid]
