"""``ageflow mcp serve`` as a real process: stdio and HTTP driven by the SDK's clients,
signals, end of stdin, the default job file, and one-line failures (D37, D42).

The server runs as ``python -m ageflow.cli``, serving copies of the fixture workflow
files in tmp_path.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ageflow.cli.version import cli_version

pytestmark = pytest.mark.anyio

TESTS = Path(__file__).parent
AGEFLOW = [sys.executable, "-m", "ageflow.cli"]
START_TIMEOUT = 30  # seconds for a process to import everything on a busy 2-core machine


def workflow_file(tmp_path: Path, fixture: str = "cli_mcp_greet_workflow.py") -> Path:
    target = tmp_path / fixture.removeprefix("cli_mcp_").removeprefix("cli_jobs_")
    shutil.copy(TESTS / fixture, target)
    return target


@asynccontextmanager
async def serve_process(*args: str, cwd: Path) -> AsyncIterator[tuple[Process, str]]:
    """A running ``mcp serve`` and its first stderr line (the banner); killed on the way out."""
    process = await anyio.open_process([*AGEFLOW, "mcp", "serve", *args], cwd=cwd)
    try:
        assert process.stderr is not None
        banner = b""
        with anyio.fail_after(START_TIMEOUT):
            while b"\n" not in banner:
                chunk = await process.stderr.receive()
                banner += chunk
        yield process, banner.decode().splitlines()[0]
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.aclose()


def _request(request_id: int, method: str, params: dict[str, Any]) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return (json.dumps(message) + "\n").encode()


INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "raw", "version": "1"},
}


async def test_stdio_serves_the_workflow_to_the_sdk_client(tmp_path: Path) -> None:
    workflow = workflow_file(tmp_path)
    log = tmp_path / "serve.log"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ageflow.cli", "mcp", "serve", str(workflow), "--log-file", str(log)],
        env=dict(os.environ),
        cwd=str(tmp_path),
    )
    async with Client(params, mode="legacy") as client:
        info = client.session.server_info
        assert info is not None
        assert info.name == "greet"
        assert info.version == cli_version()  # D37: the installed version
        tools = (await client.list_tools()).tools
        assert [tool.name for tool in tools] == ["greet"]
        result = await client.call_tool("greet", {"name": "Ann"})
        assert not result.is_error, result
        assert result.structured_content == {"greeting": "HELLO, ANN!"}
    # --log-file got the banner; the task's stray print went to stderr, not the protocol.
    assert f"[ageflow mcp] greet@{cli_version()} listening on stdio" in log.read_text()


async def _stops_when_stdin_closes(tmp_path: Path) -> None:
    workflow = workflow_file(tmp_path)
    async with serve_process(str(workflow), "--name", "named", cwd=tmp_path) as (process, banner):
        assert banner == f"[ageflow mcp] named@{cli_version()} listening on stdio"
        assert process.stdin is not None and process.stdout is not None
        await process.stdin.send(_request(1, "initialize", INITIALIZE))
        stdout = b""
        with anyio.fail_after(START_TIMEOUT):
            while b"\n" not in stdout:
                stdout += await process.stdout.receive()
            response = json.loads(stdout.splitlines()[0])
            assert response["result"]["serverInfo"] == {"name": "named", "version": cli_version()}
            await process.stdin.aclose()
            assert await process.wait() == 0


async def _stops_on_sigterm_while_idle(tmp_path: Path) -> None:
    # The stdin pipe stays open and silent: the server must still stop on the signal.
    workflow = workflow_file(tmp_path)
    async with serve_process(str(workflow), "--async", cwd=tmp_path) as (process, banner):
        assert "listening on stdio" in banner
        # --async is durable by default: the job file lives under the working directory.
        assert (tmp_path / ".ageflow" / "jobs.sqlite").is_file()
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(START_TIMEOUT):
            assert await process.wait() == 0


async def test_stdio_exits_0_when_stdin_closes_and_on_sigterm(tmp_path: Path) -> None:
    # Two servers at once: each spends most of its time importing.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    async with anyio.create_task_group() as group:
        group.start_soon(_stops_when_stdin_closes, tmp_path / "a")
        group.start_soon(_stops_on_sigterm_while_idle, tmp_path / "b")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_http_serves_the_sdk_client_and_stops_on_sigint(tmp_path: Path) -> None:
    workflow = workflow_file(tmp_path)
    port = _free_port()
    audit = tmp_path / "audit.jsonl"
    args = [str(workflow), "--http", "--port", str(port), "--audit-log", str(audit)]
    async with serve_process(*args, "--rate-limit", "100/60", cwd=tmp_path) as (process, banner):
        assert banner == (
            f"[ageflow mcp] greet@{cli_version()} HTTP transport listening on "
            f"http://127.0.0.1:{port}/mcp"
        )
        async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
            info = client.session.server_info
            assert info is not None
            assert (info.name, info.version) == ("greet", cli_version())
            result = await client.call_tool("greet", {"name": "Bo"})
            assert result.structured_content == {"greeting": "HELLO, BO!"}
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(START_TIMEOUT):
            assert await process.wait() == 0
    events = [json.loads(line) for line in audit.read_text().splitlines()]
    calls = [event for event in events if event["method"] == "tools/call"]
    assert calls and calls[0]["tool_name"] == "greet"
    assert calls[0]["remote_ip"] == "127.0.0.1" and calls[0]["auth_denied"] is False


def test_bind_and_construction_errors_are_one_line_exit_1(tmp_path: Path) -> None:
    workflow = workflow_file(tmp_path)
    hidden = tmp_path / "hidden.py"
    hidden.write_text(
        workflow.read_text().replace('name="greet",', 'name="greet",\n    mcp=False,'),
        encoding="utf-8",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # Both processes at once: each spends most of its time importing.
        commands = [
            [*AGEFLOW, "mcp", "serve", str(workflow), "--http", "--port", str(port)],
            [*AGEFLOW, "mcp", "serve", str(hidden)],
        ]
        processes = [
            subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
            for command in commands
        ]
        results = [(p.wait(START_TIMEOUT), p.communicate()[1]) for p in processes]
    (bind_code, bind_err), (build_code, build_err) = results
    assert bind_code == 1, bind_err
    assert bind_err.splitlines() == [
        f"ageflow: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert build_code == 1, build_err
    lines = build_err.splitlines()
    assert len(lines) == 1, build_err
    assert lines[0].startswith("ageflow: WORKFLOW_NOT_MCP_EXPOSABLE")


def test_clamped_ceilings_are_reported_on_stderr_and_in_the_log(tmp_path: Path) -> None:
    # The workflow keeps the default 1 USD cost ceiling: --max-cost 50 is clamped (D27:
    # each warning is a whole line). stdin is empty, so the server stops at once.
    workflow = workflow_file(tmp_path)
    log = tmp_path / "serve.log"
    done = subprocess.run(
        [*AGEFLOW, "mcp", "serve", str(workflow), "--max-cost", "50", "--log-file", str(log)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    warning = "[mcp] CLI max_cost_usd=50 clamped to workflow ceiling 1 (workflow greet)\n"
    assert warning in done.stderr
    assert warning in log.read_text()
