"""Replicas for the tests: ``ageflow mcp serve --async`` subprocesses of
tests/replica_workflow.py on one PostgreSQL schema, each driven by the Python MCP SDK
client over stdio, and the step markers their jobs leave (not a test module)."""

from __future__ import annotations

import itertools
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from ageflow.testing.postgres_server import PostgresServer

WORKFLOW = Path(__file__).with_name("replica_workflow.py")
DEADLINE_S = 30
LEASE_MS = 1500  # the replicas look for runs to take over every half second
_schemas = itertools.count()


@dataclass
class Replica:
    client: Any
    pid: int


class Cluster:
    """Replicas of one workflow on one schema, and the markers their steps leave."""

    def __init__(self, postgres: PostgresServer, tmp_path: Path) -> None:
        self.url = f"{postgres.dsn}?schema=replicas_{next(_schemas)}"
        self.tmp = tmp_path
        self.markers = tmp_path / "markers"
        self.markers.mkdir()

    @asynccontextmanager
    async def replica(self, name: str) -> AsyncIterator[Replica]:
        pid_file = self.tmp / f"{name}.pid"
        env = {
            **os.environ,
            "REPLICA_MARKERS": str(self.markers),
            "REPLICA_PID_FILE": str(pid_file),
        }
        params = StdioServerParameters(
            command=sys.executable,
            args=[
                *("-m", "ageflow.cli", "mcp", "serve", str(WORKFLOW), "--async"),
                *("--job-db", self.url, "--lease", str(LEASE_MS)),
                *("--max-concurrent-jobs", "200", "--max-concurrent-jobs-per-workflow", "200"),
            ],
            env=env,
            cwd=str(self.tmp),
        )
        try:
            async with Client(params, mode="legacy") as client:
                yield Replica(client, int(pid_file.read_text()))
        finally:
            with suppress(FileNotFoundError, ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)

    def release(self, name: str) -> None:
        (self.markers / f"release-{name}").touch()

    def runs(self, step: str) -> list[tuple[int, str]]:
        """(pid, job name) of every start of ``step``, in order."""
        path = self.markers / step
        if not path.exists():
            return []
        return [
            (int(pid), name)
            for pid, name in (line.split() for line in path.read_text().split("\n") if line)
        ]

    def counts(self, step: str) -> Counter[str]:
        return Counter(name for _, name in self.runs(step))

    async def wait_for_runs(self, step: str, name: str, count: int) -> None:
        with anyio.fail_after(DEADLINE_S):
            # Polled: the markers are written by other processes.
            while self.counts(step)[name] < count:  # noqa: ASYNC110
                await anyio.sleep(0.02)


async def call(replica: Replica, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await replica.client.call_tool(tool, args)
    assert not result.is_error, (tool, args, result.content)
    return dict(result.structured_content)


async def start(replica: Replica, name: str) -> str:
    return str((await call(replica, "start_replica", {"name": name}))["jobId"])


async def wait_for_state(replica: Replica, job_id: str, state: str) -> dict[str, Any]:
    """Poll as a remote client must, bounded in time."""
    with anyio.fail_after(DEADLINE_S):
        while True:
            status = await call(replica, "get_workflow_status", {"jobId": job_id})
            if status["state"] == state:
                return status
            assert status["state"] not in {"done", "failed", "cancelled"} - {state}, status
            await anyio.sleep(0.02)
