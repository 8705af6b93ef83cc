"""The MCP Inspector's CLI (npm ``@modelcontextprotocol/inspector``) against ``ageflow mcp serve``.

Over stdio the Inspector starts its own server for each call, so the job tests there also
show a job outliving the server process that started it. The Inspector exits 0 for a result
and 5 for an ``isError`` result, printing the result either way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from node_clients import copy_workflow, error_of, http_server, inspector, serve_command

pytestmark = pytest.mark.anyio

IS_ERROR_EXIT = 5


def call_args(tool: str, **arguments: str) -> list[str]:
    args = ["--method", "tools/call", "--tool-name", tool]
    for key, value in arguments.items():
        args += ["--tool-arg", f"{key}={value}"]
    return args


async def test_inspector_over_stdio_lists_calls_and_gets_typed_errors(tmp_path: Path) -> None:
    workflow = copy_workflow(tmp_path, "node_review_workflow.py")
    server = serve_command(workflow, "--async", "--job-db", str(tmp_path / "jobs.sqlite"))
    outcomes: dict[str, tuple[int, dict[str, Any]]] = {}

    async def run(key: str, *args: str) -> None:
        outcomes[key] = await inspector(*server, *args)

    async with anyio.create_task_group() as group:
        group.start_soon(run, "list", "--method", "tools/list")
        group.start_soon(run, "start", *call_args("start_review", name="Ann"))
        group.start_soon(run, "bad", *call_args("review", name="42"))
        group.start_soon(run, "unknown", *call_args("get_workflow_status", jobId="nope"))

    code, listed = outcomes["list"]
    assert code == 0
    assert {tool["name"] for tool in listed["tools"]} >= {"review", "start_review"}
    code, started = outcomes["start"]
    assert code == 0 and started["isError"] is False
    job_id = started["structuredContent"]["jobId"]
    # The Inspector typed 42 as a number: the workflow's input schema wants a string.
    code, bad = outcomes["bad"]
    assert code == IS_ERROR_EXIT and error_of(bad)["errorCode"] == "INPUT_VALIDATION_FAILED"
    code, unknown = outcomes["unknown"]
    assert code == IS_ERROR_EXIT and error_of(unknown)["errorCode"] == "JOB_NOT_FOUND"

    # A later server process on the same job file knows the job the first one accepted.
    code, status = await inspector(*server, *call_args("get_workflow_status", jobId=job_id))
    assert code == 0, status
    assert status["structuredContent"]["state"] in {"running", "awaiting-checkpoint"}


async def test_inspector_over_http_drives_a_job_to_its_result(tmp_path: Path) -> None:
    workflow = copy_workflow(tmp_path, "node_review_workflow.py")
    async with http_server(workflow, "--async", "--job-db", str(tmp_path / "jobs.sqlite")) as url:
        target = [url, "--transport", "http"]
        code, started = await inspector(*target, *call_args("start_review", name="Ann"))
        assert code == 0, started
        job_id = started["structuredContent"]["jobId"]

        with anyio.fail_after(60):
            while True:
                _, status = await inspector(
                    *target, *call_args("get_workflow_status", jobId=job_id)
                )
                if status["structuredContent"]["state"] == "awaiting-checkpoint":
                    break
        code, resumed = await inspector(
            *target, *call_args("resume_workflow", jobId=job_id, approved="true")
        )
        assert code == 0 and resumed["structuredContent"] == {"resumed": True}

        with anyio.fail_after(60):
            while True:
                code, result = await inspector(
                    *target, *call_args("get_workflow_result", jobId=job_id)
                )
                if result.get("structuredContent") != {"pending": True}:
                    break
        assert code == 0 and result["structuredContent"]["output"] == {"greeting": "HELLO, ANN!"}

        code, again = await inspector(
            *target, *call_args("resume_workflow", jobId=job_id, approved="true")
        )
        assert code == IS_ERROR_EXIT and error_of(again)["errorCode"] == "INVALID_RUN_STATE"
        code, finished = await inspector(*target, *call_args("cancel_workflow", jobId=job_id))
        assert code == IS_ERROR_EXIT and error_of(finished)["errorCode"] == "INVALID_RUN_STATE"
        assert error_of(finished)["context"] == {"jobId": job_id, "state": "done"}
        code, unknown = await inspector(*target, *call_args("cancel_workflow", jobId="nope"))
        assert code == IS_ERROR_EXIT and error_of(unknown)["errorCode"] == "JOB_NOT_FOUND"
