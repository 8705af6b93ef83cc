"""The Tasks extension (``io.modelcontextprotocol/tasks``, 2026-07-28) against ``ageflow mcp
serve --async`` as a subprocess, over stdio and Streamable HTTP, with the Python SDK's
client and a client extension that claims ``resultType: "task"`` and polls
(mcp_task_ext.TasksClient): a task that completes, one that fails with a typed error, one
approved at its checkpoint through ``tasks/update``, one cancelled. The step markers of
tasks_ext_workflow.py count the runner calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.extension import ClientExtension
from mcp_task_ext import (
    TASKS,
    TaskFailed,
    TasksClient,
    approving,
    create_task,
    http_client,
    http_server,
    rpc_error,
    runs_of,
    serve_env,
    stdio_client,
    task_request,
    wait_for_status,
)

pytestmark = pytest.mark.anyio
TRANSPORTS = ["stdio", "http"]


@asynccontextmanager
async def served(
    transport: str, tmp_path: Path, shape: str, extensions: list[ClientExtension]
) -> AsyncIterator[Client]:
    markers = tmp_path / "markers"
    markers.mkdir(exist_ok=True)
    env = serve_env(markers, TASKS_TEST_SHAPE=shape)
    db = tmp_path / f"{shape}.sqlite"
    if transport == "stdio":
        async with stdio_client(db, env, extensions) as client:
            yield client
        return
    async with http_server(db, env) as (url, _), http_client(url, extensions) as client:
        yield client


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_tasks_complete_fail_and_plain_calls_stay_plain(
    transport: str, tmp_path: Path
) -> None:
    tasks = TasksClient()
    async with served(transport, tmp_path, "job", [tasks]) as client:
        assert TASKS in (client.server_capabilities.extensions or {})
        done = await client.call_tool("job", {"name": "ann"})
        assert not done.is_error and done.structured_content == {"greeting": "done for ANN"}
        created = tasks.created[-1]
        assert created.status == "working" and created.ttl_ms and created.poll_interval_ms
        assert len(created.task_id) >= 32  # unguessable: a uuid4's worth of randomness

        with pytest.raises(TaskFailed) as failed:
            await client.call_tool("job", {"name": "bo", "fail": True})
        error = failed.value.error
        assert error["code"] == -32603 and error["data"]["errorCode"] == "WORKFLOW_FAILED"
        assert "work failed for BO" in error["message"]

        # Invalid input creates no task: a JSON-RPC error with our typed error as data.
        bad = await rpc_error(client.call_tool("job", {"nom": "x"}))
        assert bad.code == -32602 and bad.error.data["errorCode"] == "INPUT_VALIDATION_FAILED"

    # A client that does not declare the extension gets the tool's result, as before.
    async with served(transport, tmp_path, "job", []) as plain:
        result = await plain.call_tool("job", {"name": "cy"})
        assert result.structured_content == {"greeting": "done for CY"}
    markers = tmp_path / "markers"
    assert len(runs_of(markers, "prepare")) == 3 and len(runs_of(markers, "work")) == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_checkpoint_approved_through_tasks_update_and_a_cancel(
    transport: str, tmp_path: Path
) -> None:
    tasks = TasksClient(approving(True))
    async with served(transport, tmp_path, "review", [tasks]) as client:
        result = await client.call_tool("review", {"name": "Ann"})
        assert result.structured_content == {"greeting": "HELLO, ANN!"}
        (asked,) = tasks.asked
        assert asked["method"] == "elicitation/create"
        assert "Ship it?" in asked["params"]["message"]
        schema = asked["params"]["requestedSchema"]
        assert schema["properties"]["approved"]["type"] == "boolean"

        # Driven by hand: the poll shows the request, an unknown key is ignored, a cancel.
        session = client.session
        other = await create_task(client, "review", {"name": "Bo"})
        waiting = await wait_for_status(session, other.task_id, "input_required")
        (key,) = waiting["inputRequests"]
        ignored = {"nope": {"action": "accept", "content": {"approved": True}}}
        ack = await task_request(
            session, "tasks/update", taskId=other.task_id, inputResponses=ignored
        )
        assert ack["resultType"] == "complete" and set(ack) <= {"resultType", "_meta"}
        assert (await task_request(session, "tasks/get", taskId=other.task_id))["status"] == (
            "input_required"
        )
        await task_request(session, "tasks/cancel", taskId=other.task_id)
        await wait_for_status(session, other.task_id, "cancelled")
        # Answering a cancelled task's old key changes nothing; a cancel again is acked.
        late = {key: {"action": "accept", "content": {"approved": True}}}
        await task_request(session, "tasks/update", taskId=other.task_id, inputResponses=late)
        await task_request(session, "tasks/cancel", taskId=other.task_id)
        assert (await task_request(session, "tasks/get", taskId=other.task_id))["status"] == (
            "cancelled"
        )

        # Rejected at the checkpoint: the run fails, typed.
        third = await create_task(client, "review", {"name": "Cy"})
        waiting = await wait_for_status(session, third.task_id, "input_required")
        (key,) = waiting["inputRequests"]
        no = {key: {"action": "decline"}}
        await task_request(session, "tasks/update", taskId=third.task_id, inputResponses=no)
        ended = await wait_for_status(session, third.task_id, "failed")
        assert ended["error"]["data"]["errorCode"]

    markers = tmp_path / "markers"
    assert len(runs_of(markers, "greet")) == 3
    assert len(runs_of(markers, "shout")) == 1  # only the approved task shouted
