"""The TypeScript SDK client (npm ``@modelcontextprotocol/sdk``) against ``ageflow mcp serve``.

The SDK's client validates every structured result against the tool's outputSchema and
throws -32602 when it does not match, as hosts built on it do. So each error path here shows
that our error results pass that check and reach the client as ``isError`` results with our
``errorCode``; each success path shows the structured content matches the schema.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from node_clients import TsClient, copy_workflow, error_of, http_server, serve_command, ts_client

pytestmark = pytest.mark.anyio

JOB_TOOLS = {
    "start_review",
    "get_workflow_status",
    "get_workflow_result",
    "resume_workflow",
    "cancel_workflow",
}


@asynccontextmanager
async def connected(
    transport: str, tmp_path: Path, workflow_file: str = "node_review_workflow.py"
) -> AsyncIterator[TsClient]:
    """The TS client connected over ``transport`` to a fresh ``mcp serve --async``."""
    workflow = copy_workflow(tmp_path, workflow_file)
    args = ("--async", "--job-db", str(tmp_path / "jobs.sqlite"))
    if transport == "stdio":
        async with ts_client("stdio", *serve_command(workflow, *args)) as client:
            yield client
    else:
        async with http_server(workflow, *args) as url, ts_client("http", url) as client:
            yield client


async def wait_for_state(client: TsClient, job_id: str, state: str) -> dict[str, Any]:
    with anyio.fail_after(30):
        while True:
            result = await client.call("get_workflow_status", {"jobId": job_id})
            assert not result.get("isError"), result
            status: dict[str, Any] = result["structuredContent"]
            if status["state"] == state:
                return status
            await anyio.sleep(0.05)


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_ts_client_lists_and_runs_the_job_tools(transport: str, tmp_path: Path) -> None:
    async with connected(transport, tmp_path) as client:
        listed = await client.request("tools/list")
        assert listed["ok"], listed
        names = {tool["name"] for tool in listed["result"]["tools"]}
        assert names == {"review", *JOB_TOOLS}

        started = await client.call("start_review", {"name": "Ann"})
        assert not started.get("isError"), started
        job_id = started["structuredContent"]["jobId"]
        status = await wait_for_state(client, job_id, "awaiting-checkpoint")
        checkpoint = {"name": "shout", "kind": "checkpoint", "message": "Shout it?"}
        assert status["currentTask"] == checkpoint

        resumed = await client.call("resume_workflow", {"jobId": job_id, "approved": True})
        assert resumed["structuredContent"] == {"resumed": True}
        await wait_for_state(client, job_id, "done")
        result = await client.call("get_workflow_result", {"jobId": job_id})
        assert not result.get("isError"), result
        assert result["structuredContent"]["output"] == {"greeting": "HELLO, ANN!"}

        # A second job, cancelled while it waits for approval.
        other = (await client.call("start_review", {"name": "Bo"}))["structuredContent"]["jobId"]
        await wait_for_state(client, other, "awaiting-checkpoint")
        cancelled = await client.call("cancel_workflow", {"jobId": other})
        assert cancelled["structuredContent"] == {
            "cancelled": True,
            "priorState": "awaiting-checkpoint",
        }
        # Cancelling a finished job is an isError result naming its state; the job keeps it.
        again = error_of(await client.call("cancel_workflow", {"jobId": job_id}))
        assert again["errorCode"] == "INVALID_RUN_STATE"
        assert again["context"] == {"jobId": job_id, "state": "done"}
        result = await client.call("get_workflow_result", {"jobId": job_id})
        assert result["structuredContent"]["output"] == {"greeting": "HELLO, ANN!"}


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_ts_client_gets_every_error_as_an_is_error_result(
    transport: str, tmp_path: Path
) -> None:
    async with connected(transport, tmp_path) as client:
        await client.request("tools/list")  # the client caches each tool's outputSchema

        bad = error_of(await client.call("review", {"name": 42}))
        assert bad["errorCode"] == "INPUT_VALIDATION_FAILED"
        bad_start = error_of(await client.call("start_review", {}))
        assert bad_start["errorCode"] == "INPUT_VALIDATION_FAILED"

        for tool in ("get_workflow_status", "get_workflow_result", "cancel_workflow"):
            unknown = error_of(await client.call(tool, {"jobId": "no-such-job"}))
            assert unknown["errorCode"] == "JOB_NOT_FOUND", tool
            assert unknown["context"] == {"jobId": "no-such-job"}
        unknown_resume = await client.call("resume_workflow", {"jobId": "nope", "approved": True})
        assert error_of(unknown_resume)["errorCode"] == "JOB_NOT_FOUND"

        # A checkpoint in a sync call needs elicitation, which this client did not offer.
        sync = error_of(await client.call("review", {"name": "Cy"}))
        assert sync["errorCode"] == "HITL_ELICITATION_UNSUPPORTED"

        job_id = (await client.call("start_review", {"name": "Di"}))["structuredContent"]["jobId"]
        pending = await client.call("get_workflow_result", {"jobId": job_id})
        assert pending["structuredContent"] == {"pending": True}
        await wait_for_state(client, job_id, "awaiting-checkpoint")
        denied = await client.call("resume_workflow", {"jobId": job_id, "approved": False})
        assert not denied.get("isError"), denied
        await wait_for_state(client, job_id, "failed")
        failed = error_of(await client.call("get_workflow_result", {"jobId": job_id}))
        assert failed["errorCode"] == "WORKFLOW_FAILED", failed
        assert "shout" in failed["message"], failed
        not_waiting = await client.call("resume_workflow", {"jobId": job_id, "approved": True})
        assert error_of(not_waiting)["errorCode"] == "INVALID_RUN_STATE"


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_ts_client_receives_the_runs_log_lines(transport: str, tmp_path: Path) -> None:
    async with connected(transport, tmp_path, "node_reconnection_workflow.py") as client:
        hello = await client.request("initialize")
        assert "logging" in hello["result"]["capabilities"]
        assert (await client.request("logging/setLevel", level="debug"))["ok"]
        result = await client.call("test_reconnection", {})
        assert result["structuredContent"] == {"message": "Reconnection test completed"}
        seen = (await client.request("notifications"))["result"]["notifications"]
    logged = [note["params"] for note in seen if note["method"] == "notifications/message"]
    assert logged, seen
    assert {entry["level"] for entry in logged} <= {"debug", "info", "notice", "warning"}
    assert any("wait" in str(entry["data"]) for entry in logged), logged
