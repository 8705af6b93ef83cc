"""The HTTP transport in a real server process, driven by the SDK's Streamable HTTP client.

The server process is tests/mcp_http_child.py; it announces its OS-assigned port in the
banner on stderr. The restart test SIGKILLs it while a job waits at its checkpoint and
finishes the job through a fresh process on the same SQLite file.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp_calls import call, wait_for_state

pytestmark = pytest.mark.anyio

CHILD = Path(__file__).with_name("mcp_http_child.py")
BANNER = re.compile(
    r"\[ageflow mcp\] http-child@0\.1\.0 HTTP transport listening on (http://\S+/mcp)"
)


@asynccontextmanager
async def http_server_process(db: Path, pid_file: Path) -> AsyncIterator[tuple[str, int]]:
    """A child server process: yields its URL and pid; it is killed on the way out."""
    command = [sys.executable, str(CHILD), str(db), str(pid_file)]
    process = await anyio.open_process(command)
    try:
        assert process.stderr is not None
        stderr = b""
        with anyio.fail_after(30):
            while (match := BANNER.search(stderr.decode(errors="replace"))) is None:
                stderr += await process.stderr.receive()
        yield match.group(1), process.pid
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await process.aclose()


async def test_sync_call_and_async_job_over_http(tmp_path: Path) -> None:
    async with (
        http_server_process(tmp_path / "jobs.sqlite", tmp_path / "pid") as (url, _),
        Client(url, mode="legacy") as client,
    ):
        assert client.session.server_info is not None
        assert client.session.server_info.name == "http-child"
        failed, content = await call(client, "greet", {"name": "Ann"})
        assert not failed and content == {"greeting": "HELLO, ANN!"}

        failed, started = await call(client, "start_greet", {"name": "Bo"})
        assert not failed, started
        job_id = started["jobId"]
        await wait_for_state(client, job_id, "done")
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert not failed, result
        assert result["state"] == "done"
        assert result["output"] == {"greeting": "HELLO, BO!"}


async def test_job_survives_sigkill_and_finishes_in_a_new_process(tmp_path: Path) -> None:
    db, pid_file = tmp_path / "jobs.sqlite", tmp_path / "pid"
    async with (
        http_server_process(db, pid_file) as (url, first_pid),
        Client(url, mode="legacy") as client,
    ):
        failed, started = await call(client, "start_review", {"name": "Cy"})
        assert not failed, started
        job_id = started["jobId"]
        status = await wait_for_state(client, job_id, "awaiting-checkpoint")
        assert status["currentTask"]["kind"] == "checkpoint"
        os.kill(first_pid, signal.SIGKILL)

    async with (
        http_server_process(db, pid_file) as (url, second_pid),
        Client(url, mode="legacy") as client,
    ):
        assert second_pid != first_pid
        # Recovery ran before the banner was printed: no wait needed.
        failed, resumed = await call(client, "resume_workflow", {"jobId": job_id, "approved": True})
        assert not failed and resumed == {"resumed": True}
        await wait_for_state(client, job_id, "done")
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert not failed, result
        assert result["output"] == {"greeting": "HELLO, CY!"}
