"""Two async jobs survive a SIGKILL of their stdio server process.

Job A is in flight inside a task, job B waits at a checkpoint. The server process
(tests/mcp_restart_child.py) is killed; a new process on the same SQLite file finishes A
without re-running its finished step and shows B waiting at once, ready to resume.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

pytestmark = pytest.mark.anyio

CHILD = Path(__file__).with_name("mcp_restart_child.py")
DEADLINE_S = 20


def _pid(pid_file: Path) -> int:
    return int(pid_file.read_text())


@asynccontextmanager
async def server_process(db: Path, pid_file: Path, markers: Path) -> AsyncIterator[Any]:
    """A connected SDK client of a new child process; the child is killed on the way out."""
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(CHILD), str(db), str(pid_file), str(markers)],
        env=dict(os.environ),
    )
    try:
        async with Client(params, mode="legacy") as client:
            yield client
    finally:
        with suppress(FileNotFoundError, ValueError, ProcessLookupError):
            os.kill(_pid(pid_file), signal.SIGKILL)


async def call(client: Any, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert not result.is_error, result.structured_content
    return dict(result.structured_content)


async def wait_for_state(client: Any, job_id: str, state: str) -> dict[str, Any]:
    """Poll the job's status as a remote client must, bounded in time."""
    with anyio.fail_after(DEADLINE_S):
        while True:
            status = await call(client, "get_workflow_status", {"jobId": job_id})
            if status["state"] == state:
                return status
            assert status["state"] not in {"done", "failed", "cancelled"}, status
            await anyio.sleep(0.02)


def runs_of(markers: Path, step: str) -> list[int]:
    """The pids of the processes that started ``step``, in order."""
    path = markers / step
    return [int(line) for line in path.read_text().split()] if path.exists() else []


async def wait_for_runs(markers: Path, step: str, count: int) -> list[int]:
    """Wait (bounded) until ``step`` has been started ``count`` times."""
    with anyio.fail_after(DEADLINE_S):
        while True:
            runs = runs_of(markers, step)
            if len(runs) >= count:
                return runs
            await anyio.sleep(0.02)


async def test_in_flight_and_waiting_jobs_both_recover_after_sigkill(tmp_path: Path) -> None:
    db, pid_file, markers = tmp_path / "jobs.sqlite", tmp_path / "pid", tmp_path / "markers"
    markers.mkdir()

    async with server_process(db, pid_file, markers) as client:
        first_pid = _pid(pid_file)
        job_a = (await call(client, "start_slow", {"name": "Ann"}))["jobId"]
        job_b = (await call(client, "start_review", {"name": "Bo"}))["jobId"]
        # A is inside its second task, B waits for approval: kill the server now.
        await wait_for_runs(markers, "slow.work", 1)
        status_a = await call(client, "get_workflow_status", {"jobId": job_a})
        assert status_a["state"] == "running"
        assert status_a["currentTask"] == {"name": "work", "kind": "task"}
        await wait_for_state(client, job_b, "awaiting-checkpoint")
        os.kill(first_pid, signal.SIGKILL)

    assert runs_of(markers, "slow.prepare") == [first_pid]
    assert runs_of(markers, "slow.work") == [first_pid]
    assert not (markers / "review.shout").exists()

    async with server_process(db, pid_file, markers) as client:
        second_pid = _pid(pid_file)
        assert second_pid != first_pid
        # Recovery happened before the first request was read: B waits at once.
        status_b = await call(client, "get_workflow_status", {"jobId": job_b})
        assert status_b["state"] == "awaiting-checkpoint"
        assert status_b["currentTask"] == {
            "name": "shout",
            "kind": "checkpoint",
            "message": "Shout it?",
        }
        assert await call(client, "get_workflow_result", {"jobId": job_b}) == {"pending": True}

        # A's unfinished task starts again in the new process; its finished one does not.
        assert await wait_for_runs(markers, "slow.work", 2) == [first_pid, second_pid]
        assert await call(client, "get_workflow_result", {"jobId": job_a}) == {"pending": True}
        (markers / "release").touch()
        await wait_for_state(client, job_a, "done")
        result_a = await call(client, "get_workflow_result", {"jobId": job_a})
        assert result_a["output"] == {"greeting": "worked for ANN"}

        resumed = await call(client, "resume_workflow", {"jobId": job_b, "approved": True})
        assert resumed == {"resumed": True}
        await wait_for_state(client, job_b, "done")
        result_b = await call(client, "get_workflow_result", {"jobId": job_b})
        assert result_b["output"] == {"greeting": "HELLO, BO!"}

    # Each finished step ran once in all; only the step in flight at the kill ran twice.
    assert runs_of(markers, "slow.prepare") == [first_pid]
    assert runs_of(markers, "slow.work") == [first_pid, second_pid]
    assert runs_of(markers, "review.greet") == [first_pid]
    assert runs_of(markers, "review.shout") == [second_pid]
