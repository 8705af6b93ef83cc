"""The TypeScript SDK client's experimental MCP Tasks (2025-11-25 form) against
``ageflow mcp serve --async``: the SDK's own ``callToolStream``, ``getTask``,
``getTaskResult``, ``listTasks`` and ``cancelTask``, over stdio and Streamable HTTP.

A task is a durable job: its id works with the job tools too (``resume_workflow`` answers
the checkpoint a task waits at, shown as ``input_required``)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from node_clients import (
    TsClient,
    copy_workflow,
    error_of,
    http_server,
    node_env,
    serve_command,
    ts_client,
)
from test_ts_client import connected

pytestmark = pytest.mark.anyio


async def ok(client: TsClient, method: str, **params: Any) -> dict[str, Any]:
    answer = await client.request(method, **params)
    assert answer["ok"], (method, answer)
    result: dict[str, Any] = answer["result"]
    return result


async def wait_for_status(client: TsClient, task_id: str, status: str) -> dict[str, Any]:
    with anyio.fail_after(30):
        while True:
            task = await ok(client, "tasks/get", taskId=task_id)
            if task["status"] == status:
                return task
            assert task["status"] not in {"completed", "failed", "cancelled"}, task
            await anyio.sleep(0.05)


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_ts_client_runs_a_workflow_as_a_durable_task(transport: str, tmp_path: Path) -> None:
    async with connected(transport, tmp_path) as client:
        init = await ok(client, "initialize")
        assert init["capabilities"]["tasks"]["requests"]["tools"]["call"] == {}
        listed = await ok(client, "tools/list")
        executions = {tool["name"]: tool.get("execution") for tool in listed["tools"]}
        assert executions["review"] == {"taskSupport": "optional"}
        assert executions["start_review"] is None  # the job tools stay plain tools

        # A task that waits at the checkpoint, is approved through the job tool, completes.
        created = await ok(client, "tasks/start", name="review", arguments={"name": "Ann"})
        task = created["task"]
        assert task["status"] == "working" and task["pollInterval"] > 0
        waiting = await wait_for_status(client, task["taskId"], "input_required")
        assert "Shout it?" in waiting["statusMessage"]
        resumed = await client.call("resume_workflow", {"jobId": task["taskId"], "approved": True})
        assert resumed["structuredContent"] == {"resumed": True}
        result = await ok(client, "tasks/result", taskId=task["taskId"])
        assert result["structuredContent"] == {"greeting": "HELLO, ANN!"}
        assert result["_meta"]["io.modelcontextprotocol/related-task"]["taskId"] == task["taskId"]
        assert (await ok(client, "tasks/get", taskId=task["taskId"]))["status"] == "completed"

        # A task the client cancels while it waits; then a cancel of it again is an error.
        other = (await ok(client, "tasks/start", name="review", arguments={"name": "Bo"}))["task"]
        await wait_for_status(client, other["taskId"], "input_required")
        cancelled = await ok(client, "tasks/cancel", taskId=other["taskId"])
        assert cancelled["status"] == "cancelled"
        again = await client.request("tasks/cancel", taskId=other["taskId"])
        assert not again["ok"] and again["error"]["code"] == -32602
        failed = await ok(client, "tasks/result", taskId=other["taskId"])
        assert failed["isError"] is True

        # A task whose checkpoint is rejected fails, with our typed error as its result.
        rejected = (await ok(client, "tasks/start", name="review", arguments={"name": "Ed"}))[
            "task"
        ]
        await wait_for_status(client, rejected["taskId"], "input_required")
        await client.call("resume_workflow", {"jobId": rejected["taskId"], "approved": False})
        failure = await ok(client, "tasks/result", taskId=rejected["taskId"])
        assert failure["isError"] is True
        assert error_of(failure)["errorCode"] == "WORKFLOW_FAILED"
        gone_wrong = await ok(client, "tasks/get", taskId=rejected["taskId"])
        assert gone_wrong["status"] == "failed" and gone_wrong["statusMessage"]

        listed_tasks = await ok(client, "tasks/list")
        statuses = {t["taskId"]: t["status"] for t in listed_tasks["tasks"]}
        assert statuses == {
            task["taskId"]: "completed",
            other["taskId"]: "cancelled",
            rejected["taskId"]: "failed",
        }

        # Unknown ids and bad input are typed JSON-RPC errors; bad arguments a failed call.
        for method in ("tasks/get", "tasks/result", "tasks/cancel"):
            unknown = await client.request(method, taskId="no-such-task")
            assert not unknown["ok"] and unknown["error"]["code"] == -32602, (method, unknown)
        bad = await client.request("tasks/start", name="review", arguments={"name": 42})
        assert not bad["ok"] and bad["error"]["code"] == -32602, bad
        assert "name" in bad["error"]["message"]


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_ts_client_streams_a_task_to_its_result(transport: str, tmp_path: Path) -> None:
    # Checkpoints approved by the server (--hitl auto): the stream runs to its result.
    workflow = copy_workflow(tmp_path, "node_review_workflow.py")
    args = ("--async", "--job-db", str(tmp_path / "jobs.sqlite"), "--hitl", "auto")
    async with AsyncExitStack() as stack:
        if transport == "stdio":
            client = await stack.enter_async_context(
                ts_client("stdio", *serve_command(workflow, *args))
            )
        else:
            url = await stack.enter_async_context(http_server(workflow, *args))
            client = await stack.enter_async_context(ts_client("http", url))
        streamed = await ok(client, "tasks/call", name="review", arguments={"name": "Di"})
        messages = streamed["messages"]
        assert messages[0]["type"] == "taskCreated", messages
        assert messages[-1]["type"] == "result", messages
        assert messages[-1]["result"]["structuredContent"] == {"greeting": "HELLO, DI!"}
        task_id = messages[0]["task"]["taskId"]
        assert (await ok(client, "tasks/get", taskId=task_id))["status"] == "completed"


async def test_no_tasks_serves_exactly_the_job_tools(tmp_path: Path) -> None:
    workflow = copy_workflow(tmp_path, "node_review_workflow.py")
    args = ("--async", "--job-db", str(tmp_path / "jobs.sqlite"), "--no-tasks")
    async with ts_client("stdio", *serve_command(workflow, *args)) as client:
        init = await ok(client, "initialize")
        assert "tasks" not in init["capabilities"]
        listed = await ok(client, "tools/list")
        assert all("execution" not in tool for tool in listed["tools"]), listed
        unknown = await client.request("tasks/get", taskId="anything")
        assert not unknown["ok"] and unknown["error"]["code"] == -32601  # method not found


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_ts_client_approves_an_input_required_task_through_tasks_result(
    transport: str, tmp_path: Path
) -> None:
    # The client can elicit: tasks/result puts the checkpoint to it, its answer resumes.
    workflow = copy_workflow(tmp_path, "node_review_workflow.py")
    args = ("--async", "--job-db", str(tmp_path / "jobs.sqlite"))
    env = {**node_env(), "TS_CLIENT_ELICIT": "accept"}
    async with AsyncExitStack() as stack:
        if transport == "stdio":
            client = await stack.enter_async_context(
                ts_client("stdio", *serve_command(workflow, *args), env=env)
            )
        else:
            url = await stack.enter_async_context(http_server(workflow, *args))
            client = await stack.enter_async_context(ts_client("http", url, env=env))
        task = (await ok(client, "tasks/start", name="review", arguments={"name": "Flo"}))["task"]
        await wait_for_status(client, task["taskId"], "input_required")
        result = await ok(client, "tasks/result", taskId=task["taskId"])
        assert result["structuredContent"] == {"greeting": "HELLO, FLO!"}
        asked = (await ok(client, "elicitations"))["elicitations"]
        assert len(asked) == 1 and "Shout it?" in asked[0]["message"], asked
        assert asked[0]["requestedSchema"]["properties"]["approved"]["type"] == "boolean"
