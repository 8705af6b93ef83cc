"""How the node client tests find node, start ``ageflow mcp serve`` and drive a client.

Not a test module. The clients come from tests/node/node_modules, installed by
``scripts/node_clients.py`` (``hatch run test`` runs it first). When they are missing the
tests fail with the command that installs them: they never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

NODE_DIR = Path(__file__).parent
MODULES = NODE_DIR / "node_modules"
START_TIMEOUT = 60  # seconds for a server or client to start on a busy 2-core machine
CALL_TIMEOUT = 60
AGEFLOW = [sys.executable, "-m", "ageflow.cli"]


def node_tool(name: str) -> Path:
    """An executable of tests/node/node_modules/.bin, or a failed test saying how to get it."""
    path = MODULES / ".bin" / name
    if not path.exists():
        pytest.fail(
            f"{path} is missing: run `python scripts/node_clients.py` "
            "(hatch run test does it) to install the pinned node clients",
            pytrace=False,
        )
    return path


def node() -> Path:
    """Node 22 from the npm package ``node`` (the conformance suite needs >= 22)."""
    return node_tool("node")


def node_env() -> dict[str, str]:
    """The environment for node processes: our node first on PATH (for ``npx``-style shims)."""
    env = dict(os.environ)
    env["PATH"] = f"{MODULES / '.bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def copy_workflow(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copy(NODE_DIR / name, target)
    return target


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_command(workflow: Path, *args: str) -> list[str]:
    return [*AGEFLOW, "mcp", "serve", str(workflow), *args]


@asynccontextmanager
async def http_server(
    workflow: Path, *args: str, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """``ageflow mcp serve --http`` on a free port; yields its URL, killed on the way out."""
    port = free_port()
    command = serve_command(workflow, "--http", "--port", str(port), *args)
    process = await anyio.open_process(command, cwd=workflow.parent, env=env)
    try:
        assert process.stderr is not None
        banner = b""
        with anyio.fail_after(START_TIMEOUT):
            while b"listening on" not in banner:
                chunk = await process.stderr.receive()
                banner += chunk
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        await _stop(process)


async def _stop(process: Process) -> None:
    if process.returncode is None:
        process.kill()
    with anyio.CancelScope(shield=True):
        await process.wait()
        await process.aclose()


@dataclass
class TsClient:
    """The TypeScript SDK's client (ts_client.mjs), one JSON request and answer per line."""

    process: Process
    stdout: BufferedByteReceiveStream

    async def request(self, method: str, **params: Any) -> dict[str, Any]:
        """Answer: ``{"ok": True, "result": ...}`` or ``{"ok": False, "error": ...}``."""
        assert self.process.stdin is not None
        line = json.dumps({"method": method, **params}) + "\n"
        await self.process.stdin.send(line.encode())
        with anyio.fail_after(CALL_TIMEOUT):
            answer: dict[str, Any] = json.loads(await self.stdout.receive_until(b"\n", 1 << 24))
        return answer

    async def call(self, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """A tools/call's result as the client returns it; a thrown error fails the test."""
        answer = await self.request("tools/call", name=name, arguments=arguments)
        assert answer["ok"], f"{name} threw instead of returning a result: {answer['error']}"
        result: dict[str, Any] = answer["result"]
        return result


@asynccontextmanager
async def ts_client(*target: str, env: dict[str, str] | None = None) -> AsyncIterator[TsClient]:
    """The TS client connected to ``http <url>`` or ``stdio <command...>``."""
    command = [str(node()), str(NODE_DIR / "ts_client.mjs"), *target]
    process = await anyio.open_process(command, env=env or node_env(), stderr=None)
    try:
        assert process.stdout is not None
        client = TsClient(process, BufferedByteReceiveStream(process.stdout))
        with anyio.fail_after(START_TIMEOUT):
            hello = json.loads(await client.stdout.receive_until(b"\n", 1 << 20))
        assert hello["ok"], f"the TS client could not connect: {hello}"
        yield client
    finally:
        await _stop(process)


def error_of(result: dict[str, Any]) -> dict[str, Any]:
    """Our machine-readable error from an ``isError`` result's text content."""
    assert result.get("isError") is True, result
    text = result["content"][0]["text"]
    error: dict[str, Any] = json.loads(text)
    return error


async def inspector(*args: str) -> tuple[int, dict[str, Any]]:
    """The Inspector's CLI (``inspector --cli ...``): its exit code and the JSON it printed."""
    command = [str(node()), str(node_tool("inspector")), "--cli", *args]
    with anyio.fail_after(CALL_TIMEOUT):
        done = await anyio.run_process(command, env=node_env(), check=False)
    assert done.stdout, f"the Inspector printed nothing: {done.stderr.decode()}"
    printed: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, printed


async def conformance(url: str, out: Path, *args: str) -> tuple[int, str, dict[str, list[Any]]]:
    """The conformance suite's server run: exit code, output and each scenario's checks."""
    command = [str(node()), str(node_tool("conformance")), "server", "--url", url, "-o", str(out)]
    with anyio.fail_after(5 * CALL_TIMEOUT):
        done = await anyio.run_process([*command, *args], env=node_env(), check=False)
    return done.returncode, (done.stdout + done.stderr).decode(), _scenario_checks(out)


def _scenario_checks(out: Path) -> dict[str, list[Any]]:
    # The suite writes out/server-<scenario>-<timestamp>/checks.json per scenario.
    checks: dict[str, list[Any]] = {}
    for found in out.glob("server-*/checks.json"):
        scenario = found.parent.name.removeprefix("server-").rsplit("-", 6)[0]
        checks[scenario] = json.loads(found.read_text())
    return checks
