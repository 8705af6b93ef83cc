"""MCP async job lifecycle over stdio: ageflow-mcp-server vs a bare SDK server (the floor).

One lifecycle = ``start_<wf>``, ``get_workflow_status`` until ``done``, then
``get_workflow_result``, all through the MCP SDK's stdio client against a server process.
The workflow has one instant sync function task. ageflow runs with its durable SQLite job
store (the default), with the in-memory store, and on PostgreSQL (a server this script
starts on 127.0.0.1) with one server process and with two sharing the job store, each job
started on one and polled and fetched through the other; and on SQLite again as MCP Tasks
(**ageflow-sqlite-tasks**: a task-augmented ``tools/call``, ``tasks/get`` until
``completed``, then ``tasks/result``, the same three round trips) and as tasks of the final
Tasks extension (**ageflow-sqlite-ext-tasks**, protocol 2026-07-28: a ``tools/call`` that
declares ``io.modelcontextprotocol/tasks``, then ``tasks/get`` until ``completed``, whose
answer carries the result: two kinds of round trip); the floor is the SDK's low-level
``Server`` with three dict-backed tools of the same names and shapes, no ageflow at all.

Measured: the time of one lifecycle run sequentially (median and p95 over ``--jobs`` jobs
after a warm-up) and the wall time of ``--jobs`` lifecycles run concurrently on one
client session; and the CPU time the server process spent per sequential lifecycle (it
varies less with the machine's load than the wall times). Each server gets a fresh process
per round; each figure is the best of ``--rounds`` rounds.

Run: hatch run python benchmarks/mcp_jobs.py
     (--jobs 200, --rounds 3, --servers floor,ageflow-sqlite: which servers to measure;
     ageflow-postgres needs `pip install 'ageflow-mcp-server[postgres]'`)
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_jobs_servers import CPU_TOOL, WORKFLOW, serve_ageflow, serve_floor
from pydantic import BaseModel

from ageflow.testing.postgres_server import PostgresServer

SERVERS = (
    "floor",
    "ageflow-memory",
    "ageflow-sqlite",
    "ageflow-sqlite-tasks",
    "ageflow-sqlite-ext-tasks",
    "ageflow-postgres",
    "ageflow-postgres-x2",
)
SQLITE = ("ageflow-sqlite", "ageflow-sqlite-tasks", "ageflow-sqlite-ext-tasks")
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
ENVELOPE = {  # the 2026-07-28 per-request envelope, declaring the Tasks extension
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS_EXTENSION: {}}},
}
POSTGRES = ("ageflow-postgres", "ageflow-postgres-x2")
TARGET_RATIO = 1.3
POLL_PAUSE_S = 0.001  # between status polls of a job that is not done yet


# -- the client (this process) ----------------------------------------------------------


async def job_lifecycle(client: Any, text: str, observer: Any = None) -> int:
    """One job from start to result; returns how many status polls it took. With an
    ``observer``, the job is polled and fetched there (another server process)."""
    started = await client.call_tool(f"start_{WORKFLOW}", {"text": text})
    client = client if observer is None else observer
    assert not started.is_error, started.structured_content
    job = {"jobId": started.structured_content["jobId"]}
    polls = 0
    while True:
        polls += 1
        status = await client.call_tool("get_workflow_status", job)
        assert not status.is_error, status.structured_content
        if status.structured_content["state"] == "done":
            break
        await anyio.sleep(POLL_PAUSE_S)
    result = await client.call_tool("get_workflow_result", job)
    assert result.structured_content["output"] == {"text": text}, result.structured_content
    return polls


async def task_lifecycle(client: Any, text: str, observer: Any = None) -> int:
    """One MCP task from creation to result; returns how many ``tasks/get`` polls it took."""
    # The SDK's Python client checks a tools/call answer against CallToolResult, so the
    # task-augmented call goes down its session's JSON-RPC dispatcher.
    dispatcher = client.session._dispatcher
    params = {"name": WORKFLOW, "arguments": {"text": text}, "task": {"ttl": 60_000}}
    created = await dispatcher.send_raw_request("tools/call", params, {})
    task = {"taskId": created["task"]["taskId"]}
    polls, _ = await poll_task(dispatcher, task)
    result = await dispatcher.send_raw_request("tasks/result", task, {})
    assert result["structuredContent"] == {"text": text}, result
    return polls


async def poll_task(dispatcher: Any, task: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``tasks/get`` until the task is completed: the polls it took and the last status."""
    polls = 0
    while True:
        polls += 1
        status: dict[str, Any] = await dispatcher.send_raw_request("tasks/get", task, {})
        if status["status"] == "completed":
            return polls, status
        assert status["status"] == "working", status
        await anyio.sleep(POLL_PAUSE_S)


async def ext_task_lifecycle(client: Any, text: str, observer: Any = None) -> int:
    """One task of the Tasks extension from creation to its inlined result; returns how
    many ``tasks/get`` polls it took."""
    # The claimed CreateTaskResult comes back as it is through the session's dispatcher,
    # with the envelope the SDK's session would stamp on the request.
    dispatcher = client.session._dispatcher
    params = {"name": WORKFLOW, "arguments": {"text": text}, "_meta": ENVELOPE}
    created = await dispatcher.send_raw_request("tools/call", params, {})
    assert created["resultType"] == "task", created
    task = {"taskId": created["taskId"], "_meta": ENVELOPE}
    polls, status = await poll_task(dispatcher, task)
    assert status["result"]["structuredContent"] == {"text": text}, status
    return polls


LIFECYCLES = {
    "ageflow-sqlite-tasks": task_lifecycle,
    "ageflow-sqlite-ext-tasks": ext_task_lifecycle,
}


class Measured(BaseModel):
    server: str
    median_ms: float
    p95_ms: float
    polls_per_job: float
    cpu_ms: float
    concurrent_s: float
    jobs_per_s: float


async def server_cpu(client: Any) -> float:
    result = await client.call_tool(CPU_TOOL, {})
    return float(result.structured_content["cpu"])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def server_command(kind: str, job_db: str | None, jobs: int) -> list[str]:
    command = [sys.executable, __file__, "--serve", kind, "--jobs", str(jobs)]
    if job_db is not None:
        command += ["--job-db", job_db]
    return command


def job_db_of(kind: str, directory: Path, postgres_dsn: str | None) -> str | None:
    if kind in SQLITE:
        return str(directory / f"jobs-{uuid.uuid4().hex}.sqlite")
    if kind in POSTGRES:
        assert postgres_dsn is not None
        return f"{postgres_dsn}?schema=bench_{uuid.uuid4().hex[:12]}"
    return None


async def measure(
    kind: str, directory: Path, jobs: int, warmup: int, postgres_dsn: str | None = None
) -> Measured:
    job_db = job_db_of(kind, directory, postgres_dsn)
    command = server_command(kind, job_db, jobs)
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with AsyncExitStack() as stack:
        # The extension's tasks need protocol 2026-07-28 (server/discover); the rest legacy.
        mode = "2026-07-28" if kind == "ageflow-sqlite-ext-tasks" else "legacy"
        client = await stack.enter_async_context(Client(params, mode=mode))
        # Two processes on one store: jobs start on the first, are polled on the second.
        observer = (
            await stack.enter_async_context(Client(params, mode="legacy"))
            if kind == "ageflow-postgres-x2"
            else None
        )
        await client.list_tools()
        lifecycle = LIFECYCLES.get(kind, job_lifecycle)
        for i in range(warmup):
            await lifecycle(client, f"warm {i}", observer)
        times: list[float] = []
        polls = 0
        cpu_before = await server_cpu(client)
        if observer is not None:
            cpu_before += await server_cpu(observer)
        for i in range(jobs):
            began = time.perf_counter()
            polls += await lifecycle(client, f"seq {i}", observer)
            times.append(time.perf_counter() - began)
        cpu = await server_cpu(client) - cpu_before
        if observer is not None:
            cpu += await server_cpu(observer)

        async def one(i: int) -> None:
            # Two processes: half the jobs start on each, each polled on the other.
            if observer is not None and i % 2:
                await lifecycle(observer, f"par {i}", client)
            else:
                await lifecycle(client, f"par {i}", observer)

        began = time.perf_counter()
        async with anyio.create_task_group() as group:
            for i in range(jobs):
                group.start_soon(one, i)
        concurrent = time.perf_counter() - began
    return Measured(
        server=kind,
        median_ms=statistics.median(times) * 1e3,
        p95_ms=percentile(times, 0.95) * 1e3,
        polls_per_job=polls / jobs,
        cpu_ms=cpu / jobs * 1e3,
        concurrent_s=concurrent,
        jobs_per_s=jobs / concurrent,
    )


def print_table(rows: list[Measured], jobs: int, warmup: int, rounds: int) -> None:
    floor = next(row for row in rows if row.server == "floor")
    print(
        f"MCP job lifecycle over stdio (start, poll status until done, result): "
        f"{jobs} jobs after {warmup} warm-up, best of {rounds} rounds\n"
    )
    print(
        "| server | sequential median ms | x floor | p95 ms | x floor | status polls/job "
        f"| server CPU ms/job | x floor | {jobs} concurrent, wall s | x floor | jobs/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row.server} | {row.median_ms:.2f} | {row.median_ms / floor.median_ms:.2f} "
            f"| {row.p95_ms:.2f} | {row.p95_ms / floor.p95_ms:.2f} | {row.polls_per_job:.2f} "
            f"| {row.cpu_ms:.2f} | {row.cpu_ms / floor.cpu_ms:.2f} "
            f"| {row.concurrent_s:.2f} | {row.concurrent_s / floor.concurrent_s:.2f} "
            f"| {row.jobs_per_s:.0f} |"
        )
    print(f"\nTarget: sequential median <= {TARGET_RATIO}x floor.")


def best(rows: list[Measured]) -> Measured:
    """The best figures of several rounds of one server (each figure on its own)."""
    return Measured(
        server=rows[0].server,
        median_ms=min(row.median_ms for row in rows),
        p95_ms=min(row.p95_ms for row in rows),
        polls_per_job=min(row.polls_per_job for row in rows),
        cpu_ms=min(row.cpu_ms for row in rows),
        concurrent_s=min(row.concurrent_s for row in rows),
        jobs_per_s=max(row.jobs_per_s for row in rows),
    )


async def main(jobs: int, warmup: int, rounds: int, servers: tuple[str, ...] = SERVERS) -> None:
    measured: dict[str, list[Measured]] = {kind: [] for kind in servers}
    postgres: PostgresServer | None = None
    if any(kind in POSTGRES for kind in servers):
        postgres = PostgresServer()
        await anyio.to_thread.run_sync(postgres.start)  # initdb takes seconds: off the loop
    try:
        with tempfile.TemporaryDirectory(prefix="ageflow-mcp-bench-") as tmp:
            # Rounds interleave the servers, so a slow spell of the machine hits them all.
            for _ in range(rounds):
                for kind in servers:
                    dsn = None if postgres is None else postgres.dsn
                    measured[kind].append(await measure(kind, Path(tmp), jobs, warmup, dsn))
    finally:
        if postgres is not None:
            await anyio.to_thread.run_sync(postgres.stop)
    print_table([best(measured[kind]) for kind in servers], jobs, warmup, rounds)


def serve(kind: str, job_db: str | None, jobs: int) -> None:
    run: Callable[[], Awaitable[None]]
    if kind == "floor":
        run = serve_floor
    else:
        db = job_db if kind in (*SQLITE, *POSTGRES) else None

        async def run() -> None:
            await serve_ageflow(db, jobs)

    anyio.run(run)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per measurement")
    parser.add_argument("--warmup", type=int, default=None, help="default: jobs // 10 + 5")
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help="comma-separated, from: " + ", ".join(SERVERS) + " (the floor is always measured)",
    )
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--job-db", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve is not None:
        serve(arguments.serve, arguments.job_db, arguments.jobs)
    else:
        warmup = arguments.jobs // 10 + 5 if arguments.warmup is None else arguments.warmup
        chosen = [kind for kind in arguments.servers.split(",") if kind]
        unknown = [kind for kind in chosen if kind not in SERVERS]
        if unknown:
            parser.error(f"unknown server {unknown[0]!r}; choose from {', '.join(SERVERS)}")
        servers = tuple(kind for kind in SERVERS if kind == "floor" or kind in chosen)
        # The SDK's client warns on each call of the unlisted CPU tool; that is by design here.
        logging.getLogger("client").addFilter(lambda record: CPU_TOOL not in record.getMessage())
        anyio.run(main, arguments.jobs, warmup, arguments.rounds, servers)
