"""The stdio transport against a real server process, driven by the SDK's stdio client.

The server process is tests/mcp_stdio_child.py; the restart test SIGKILLs it while a job
waits at its checkpoint and resumes the job through a fresh process on the same file.
"""

from __future__ import annotations

import json
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
from mcp_calls import call, wait_for_state

pytestmark = pytest.mark.anyio

CHILD = Path(__file__).with_name("mcp_stdio_child.py")


def _pid(pid_file: Path) -> int:
    return int(pid_file.read_text())


def _kill(pid_file: Path) -> None:
    """SIGKILL the child named in ``pid_file`` if it is still there."""
    with suppress(FileNotFoundError, ValueError, ProcessLookupError):
        os.kill(_pid(pid_file), signal.SIGKILL)


@asynccontextmanager
async def stdio_server_process(db: Path, pid_file: Path) -> AsyncIterator[Any]:
    """A connected SDK client of a new child process; the child is killed on the way out."""
    params = StdioServerParameters(
        command=sys.executable,
        args=[str(CHILD), str(db), str(pid_file)],
        env=dict(os.environ),
    )
    try:
        async with Client(params, mode="legacy") as client:
            yield client
    finally:
        _kill(pid_file)


async def test_initialize_list_tools_and_sync_call(tmp_path: Path) -> None:
    async with stdio_server_process(tmp_path / "jobs.sqlite", tmp_path / "pid") as client:
        session = client.session
        assert session.server_info is not None
        assert session.server_info.name == "stdio-test"
        names = [tool.name for tool in (await client.list_tools()).tools]
        assert names == [
            "greet",
            "review",
            "start_greet",
            "start_review",
            "get_workflow_status",
            "get_workflow_result",
            "resume_workflow",
            "cancel_workflow",
        ]

        failed, content = await call(client, "greet", {"name": "Ann"})
        assert not failed, content
        assert content == {"greeting": "HELLO, ANN!"}

        failed, content = await call(client, "greet", {"name": 7})
        assert failed and content["errorCode"] == "INPUT_VALIDATION_FAILED"


async def test_job_at_checkpoint_survives_sigkill_and_resumes_in_new_process(
    tmp_path: Path,
) -> None:
    db, pid_file = tmp_path / "jobs.sqlite", tmp_path / "pid"
    async with stdio_server_process(db, pid_file) as client:
        failed, started = await call(client, "start_review", {"name": "Cy"})
        assert not failed, started
        job_id = started["jobId"]
        status = await wait_for_state(client, job_id, "awaiting-checkpoint")
        assert status["currentTask"]["kind"] == "checkpoint"
        first_pid = _pid(pid_file)
        os.kill(first_pid, signal.SIGKILL)

    async with stdio_server_process(db, pid_file) as client:
        assert _pid(pid_file) != first_pid
        # Recovery happened before the first request was read: no wait needed.
        failed, resumed = await call(client, "resume_workflow", {"jobId": job_id, "approved": True})
        assert not failed and resumed == {"resumed": True}
        status = await wait_for_state(client, job_id, "done")
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert not failed, result
        assert result["state"] == "done"
        assert result["output"] == {"greeting": "HELLO, CY!"}


def _request(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return (json.dumps(message) + "\n").encode()


async def test_stdout_carries_only_protocol_and_server_exits_when_stdin_closes(
    tmp_path: Path,
) -> None:
    initialize = {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    }
    initialized = b'{"jsonrpc": "2.0", "method": "notifications/initialized"}\n'
    command = [sys.executable, str(CHILD), str(tmp_path / "jobs.sqlite"), str(tmp_path / "pid")]
    process = await anyio.open_process(command)
    try:
        assert process.stdin is not None and process.stdout is not None
        assert process.stderr is not None
        await process.stdin.send(_request(1, "initialize", initialize) + initialized)
        await process.stdin.send(
            _request(2, "tools/call", {"name": "greet", "arguments": {"name": "Di"}})
        )
        stdout = b""
        with anyio.fail_after(20):
            # The call's answer is the second response (after the run's log messages);
            # then closing stdin ends the server.
            while b'"id":2' not in stdout.replace(b" ", b""):
                stdout += await process.stdout.receive()
            await process.stdin.aclose()
            assert await process.wait() == 0
        async for chunk in process.stdout:
            stdout += chunk
        stderr = b"".join([chunk async for chunk in process.stderr]).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    lines = [json.loads(line) for line in stdout.decode().splitlines()]
    messages = [message for message in lines if "id" in message]
    assert [message["id"] for message in messages] == [1, 2]
    notes = {message["method"] for message in lines if "id" not in message}
    assert notes == {"notifications/message"}  # the run's log, at the default level info
    assert messages[1]["result"]["structuredContent"] == {"greeting": "HELLO, DI!"}
    # The banner and the task's stray print went to stderr, never onto the protocol stream.
    assert "[ageflow mcp] stdio-test@0.1.0 listening on stdio" in stderr
    assert "stray output of greet" in stderr


def test_gc_tuning_freezes_startup_objects_and_raises_the_young_threshold() -> None:
    # Run in a child: the settings are process-wide.
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from ageflow.server.gc_tuning import tune_gc_for_serving\n"
        "before = gc.get_freeze_count()\n"
        "tune_gc_for_serving()\n"
        "print(gc.get_freeze_count() > before, gc.get_threshold()[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["True", "10000"]
