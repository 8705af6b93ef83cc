"""``ageflow jobs`` against a job file written by a real ``ageflow mcp serve --async``.

Two jobs are started through the SDK stdio client and wait at their checkpoint; while
the server lives the CLI refuses to touch them; after the server is SIGKILLed, ``jobs
list`` shows both awaiting approval, ``jobs resume --approve --workflow`` finishes one
(its finished step is not run again) and ``jobs cancel`` cancels the other.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from typer.testing import CliRunner

from ageflow.cli.app import app

TESTS = Path(__file__).parent
runner = CliRunner()


def jobs_cli(db: Path, *args: str) -> Any:
    return runner.invoke(app, ["jobs", *args, "--job-db", str(db)])


async def call(client: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert not result.is_error, result
    return dict(result.structured_content)


async def wait_until_awaiting(client: Any, job_id: str) -> None:
    """Poll as a remote MCP client must, bounded in time."""
    with anyio.fail_after(20):
        while True:
            status = await call(client, "get_workflow_status", {"jobId": job_id})
            if status["state"] == "awaiting-checkpoint":
                return
            await anyio.sleep(0.05)


def test_jobs_commands_on_a_real_servers_job_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow = tmp_path / "review.py"
    shutil.copy(TESTS / "cli_jobs_review_workflow.py", workflow)
    db = tmp_path / "state" / "jobs.sqlite"
    greeted = tmp_path / "greeted.txt"
    monkeypatch.setenv("CLI_TEST_GREET_LOG", str(greeted))
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            *("-m", "ageflow.cli", "mcp", "serve", str(workflow), "--async"),
            *("--job-db", str(db), "--max-concurrent-jobs", "2"),
        ],
        env=dict(os.environ),
        cwd=str(tmp_path),
    )

    async def serve_then_kill() -> list[str]:
        async with Client(params, mode="legacy") as client:
            ids = []
            for name in ("Ann", "Bo"):
                ids.append((await call(client, "start_review", {"name": name}))["jobId"])
            for job_id in ids:
                await wait_until_awaiting(client, job_id)
            # The server holds both jobs: the CLI sends the user to its MCP tools.
            refused = await anyio.to_thread.run_sync(jobs_cli, db, "cancel", ids[1])
            assert refused.exit_code == 1
            assert "use that server's MCP tool cancel_workflow" in refused.stderr
            shown = await anyio.to_thread.run_sync(jobs_cli, db, "show", ids[0], "--json")
            owner = json.loads(shown.stdout)["owner"]
            os.kill(int(owner.split(":")[1]), signal.SIGKILL)
        return ids

    ann, bo = anyio.run(serve_then_kill)

    listed = jobs_cli(db, "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    states = {job["runId"]: job for job in json.loads(listed.stdout)}
    assert {job_id: job["state"] for job_id, job in states.items()} == {
        ann: "awaiting-checkpoint",
        bo: "awaiting-checkpoint",
    }
    assert not states[ann]["ownerLive"]  # its owner was killed
    assert states[ann]["policy"]["extra"] == {"hitl": "elicit"}
    table = jobs_cli(db, "list").stdout
    assert "shout: Shout it?" in table

    resumed = jobs_cli(db, "resume", ann, "--approve", "--workflow", str(workflow))
    assert resumed.exit_code == 0, resumed.stderr
    assert f"Job {ann} is done." in resumed.stdout
    assert "HELLO, ANN!" in resumed.stdout
    assert sorted(greeted.read_text().splitlines()) == ["Ann", "Bo"]  # greet ran once each

    cancelled = jobs_cli(db, "cancel", bo)
    assert cancelled.exit_code == 0, cancelled.stderr
    final = {
        job["runId"]: job["state"] for job in json.loads(jobs_cli(db, "list", "--json").stdout)
    }
    assert final == {ann: "done", bo: "cancelled"}
    shown = json.loads(jobs_cli(db, "show", ann, "--json").stdout)
    assert shown["result"]["outputs"]["shout"] == {"greeting": "HELLO, ANN!"}
