"""Durable execution cost: the step journal on SQLite, in memory and on PostgreSQL, beside
its peers (LangGraph's SQLite checkpointer, DBOS Transact on SQLite) and the raw SQLite
floors; what the event loop pays for inline commits; the store's part of recovery.

Per-step figures are microseconds per task of a whole run (executor included), best of
``--repeat`` runs after a warm-up. SQLite files live in a temporary directory (the
machine's normal disk).

1. a chain of N no-op function tasks, each step committed before the next starts;
2. N independent no-op tasks (steps finishing together share commits: group commit);
   both also on PostgresRunStore, on a PostgreSQL server this script starts on 127.0.0.1
   (the test kit's server: fsync off, so like SQLite's WAL + synchronous=NORMAL no commit
   waits for the disk; every statement is a network round trip to another process);
3. peers: LangGraph, the same chain of increment nodes with ``AsyncSqliteSaver``; DBOS
   Transact, a workflow of N sequential and one of N concurrent no-op ``@DBOS.step`` calls
   on its SQLite system database (dbos_peer.py, in a child process);
4. floors: one stdlib sqlite3 autocommit INSERT per step on the calling thread, and one
   through aiosqlite's thread, same pragmas as the store, and the part of the latter that
   is only the round trip to the database thread (``SELECT 1``);
5. the loop's stall per inline commit (p50/p99/max) and the writes that fell back to the
   writer's thread: over the chain and independent runs above, and under 200 concurrent
   MCP async jobs (store_stalls.py);
6. recover (store part): a file with 10,000 runs of which 10 unfinished: list the
   claimable ones and load their inputs and journals; time and RSS growth
   (store_recovery.py).

Run: hatch run bench:python benchmarks/store.py   (--repeat 5, --steps 1000, --tuned-gc:
the garbage-collector settings a server process uses, see ageflow.server.gc_tuning)
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import anyio
from peers import best_of, langgraph_increment_graph
from store_recovery import measure_recovery
from store_stalls import CollectorPauses, Stalls, stalls_under_mcp_jobs

from ageflow.core import define_function, define_workflow, task
from ageflow.core.metrics import TaskMetrics, WorkflowResult
from ageflow.executor import StepRecord, WorkflowExecutor
from ageflow.server import InMemoryRunStore, RunStore, create_runner, tune_gc_for_serving
from ageflow.server_postgres import PostgresRunStore
from ageflow.server_sqlite import SqliteRunStore
from ageflow.testing.postgres_server import PostgresServer

TARGETS = {"chain": 100.0, "independent": 40.0}  # us per step, durable on SQLite
PEER_TARGETS = {"LangGraph": 50.0, "DBOS": 1.0}  # at least this many times faster (chain)
MCP_JOBS = 200


def workflow_of(shape: str, n: int) -> Any:
    noop = define_function(lambda x: x, input=Any, output=Any, name="noop")
    tasks: dict[str, Any] = {}
    for i in range(n):
        depends = [f"t{i - 1}"] if shape == "chain" and i else []
        tasks[f"t{i}"] = task(noop, depends_on=depends, input=i)
    return define_workflow(name=f"{shape}{n}", tasks=tasks)


async def durable_run(store: RunStore, workflow: Any) -> WorkflowResult:
    """One durable run through the server runner: the record and input are stored, every
    step is journaled before its dependents start, and each state change is persisted."""
    async with create_runner(store=store) as runner:
        return await runner.run(workflow)


async def time_durable(store: RunStore, shape: str, n: int) -> float:
    workflow = workflow_of(shape, n)
    started = time.perf_counter()
    result = await durable_run(store, workflow)
    elapsed = time.perf_counter() - started
    assert len(result.outputs) == n
    return elapsed


async def time_plain(shape: str, n: int) -> float:
    workflow = workflow_of(shape, n)
    started = time.perf_counter()
    await WorkflowExecutor(workflow).run()
    return time.perf_counter() - started


FLOOR_TABLE = (
    "CREATE TABLE steps (seq INTEGER PRIMARY KEY, run_id TEXT, step_key TEXT, "
    "payload TEXT, UNIQUE (run_id, step_key))"
)
FLOOR_INSERT = "INSERT INTO steps (run_id, step_key, payload) VALUES (?, ?, ?)"


def floor_payload() -> str:
    return json.dumps(StepRecord("t0", "t0", "function", 0, TaskMetrics(latency_ms=0.01)).to_json())


async def time_stdlib_floor(directory: Path, n: int) -> float:
    """The store's inline path with nothing around it: stdlib sqlite3 on this thread."""
    path = directory / f"floor-{uuid.uuid4().hex}.sqlite"
    payload = floor_payload()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")  # as the store's inline connection
        conn.execute(FLOOR_TABLE)
        started = time.perf_counter()
        for i in range(n):
            conn.execute(FLOOR_INSERT, ("run", f"t{i}", payload))
        return time.perf_counter() - started
    finally:
        conn.close()


async def time_aiosqlite_floor(directory: Path, n: int) -> float:
    path = directory / f"floor-{uuid.uuid4().hex}.sqlite"
    payload = floor_payload()
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute(FLOOR_TABLE)
        started = time.perf_counter()
        for i in range(n):
            await conn.execute(FLOOR_INSERT, ("run", f"t{i}", payload))
        return time.perf_counter() - started


async def time_thread_hop(directory: Path, n: int) -> float:
    """One aiosqlite round trip per step that writes nothing (``SELECT 1``): what handing
    work to the database thread and back costs on this machine, before any SQLite work."""
    path = directory / f"hop-{uuid.uuid4().hex}.sqlite"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        started = time.perf_counter()
        for _ in range(n):
            await conn.execute("SELECT 1")
        return time.perf_counter() - started


def langgraph_timer(
    directory: Path, n: int, *, durability: str, synchronous_normal: bool
) -> Callable[[], Awaitable[float]] | None:
    try:
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    except ImportError:
        return None
    graph = langgraph_increment_graph("chain", n)
    if graph is None:
        return None

    async def run() -> float:
        path = directory / f"langgraph-{uuid.uuid4().hex}.sqlite"
        async with aiosqlite.connect(path) as conn:
            saver = AsyncSqliteSaver(conn)
            await saver.setup()
            if synchronous_normal:
                await conn.execute("PRAGMA synchronous = NORMAL")
            app = graph.compile(checkpointer=saver)
            config: Any = {"configurable": {"thread_id": "t"}, "recursion_limit": n + 10}
            started = time.perf_counter()
            state = await app.ainvoke({"count": 0}, config, durability=durability)
            elapsed = time.perf_counter() - started
        assert state["count"] == n
        return elapsed

    return run


async def dbos_times(directory: Path, n: int, repeat: int, *, wal: bool) -> dict[str, float]:
    """DBOS's chain and independent runs (seconds), from dbos_peer.py in a child process;
    empty when dbos is not installed."""
    try:
        import dbos  # noqa: F401
    except ImportError:
        return {}
    command = [sys.executable, str(Path(__file__).with_name("dbos_peer.py")), str(directory)]
    command += ["--steps", str(n), "--repeat", str(repeat)] + (["--wal"] if wal else [])
    done = await anyio.run_process(command, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"dbos_peer.py failed: {done.stderr.decode()[-2000:]}")
    times: dict[str, float] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return times


# -- main ---------------------------------------------------------------------------


@dataclass
class Row:
    shape: str
    journal: str
    seconds: float
    target: str = ""
    commits: str = ""


async def measure_journals(
    directory: Path, repeat: int, n: int
) -> tuple[list[Row], dict[str, Stalls], dict[str, float]]:
    """Executor only, InMemoryRunStore and SqliteRunStore per shape; the SQLite stalls."""
    rows: list[Row] = []
    stalls: dict[str, Stalls] = {}
    ours: dict[str, float] = {}
    async with SqliteRunStore(directory / "runs.sqlite") as sqlite_store:
        memory_store = InMemoryRunStore()
        for shape in ("chain", "independent"):
            plain = await best_of(repeat, lambda s=shape: time_plain(s, n))
            rows.append(Row(shape, "none (executor only, not durable)", plain))
            memory = await best_of(repeat, lambda s=shape: time_durable(memory_store, s, n))
            rows.append(Row(shape, "InMemoryRunStore", memory))
            before = sqlite_store.step_transactions
            sqlite_store.inline_stats.reset()
            elapsed = await best_of(repeat, lambda s=shape: time_durable(sqlite_store, s, n))
            stalls[shape] = Stalls.of(sqlite_store.inline_stats)
            commits = (sqlite_store.step_transactions - before) / (repeat + 1)
            target = f"<= {TARGETS[shape]:.0f}"
            rows.append(Row(shape, "SqliteRunStore (file)", elapsed, target, f"{commits:.0f}"))
            ours[shape] = elapsed
        await memory_store.close()
    return rows, stalls, ours


async def measure_postgres(repeat: int, n: int) -> list[Row]:
    # A server of its own, started off the event loop (initdb takes seconds).
    postgres = PostgresServer()
    await anyio.to_thread.run_sync(postgres.start)
    try:
        async with PostgresRunStore(postgres.dsn, schema="bench") as pg_store:
            return [
                Row(
                    shape,
                    "PostgresRunStore (local server, asyncpg)",
                    await best_of(repeat, lambda s=shape: time_durable(pg_store, s, n)),
                )
                for shape in ("chain", "independent")
            ]
    finally:
        await anyio.to_thread.run_sync(postgres.stop)


async def measure_peers(directory: Path, repeat: int, n: int) -> list[Row]:
    rows: list[Row] = []
    lg_variants = (
        ("LangGraph AsyncSqliteSaver, durability=sync, its pragmas", "sync", False),
        ("LangGraph AsyncSqliteSaver, durability=sync, synchronous=NORMAL", "sync", True),
        ("LangGraph AsyncSqliteSaver, durability=async (its default)", "async", False),
    )
    for label, durability, normal in lg_variants:
        timer = langgraph_timer(directory, n, durability=durability, synchronous_normal=normal)
        if timer is None:
            rows.append(Row("chain", label + ": not installed", float("nan")))
            continue
        rows.append(Row("chain", label, await best_of(max(1, repeat - 1), timer)))
    for wal, label in ((False, "its defaults (rollback journal)"), (True, "file in WAL mode")):
        times = await dbos_times(directory, n, max(1, repeat - 1), wal=wal)
        if not times:
            rows.append(Row("chain", "DBOS Transact: not installed", float("nan")))
            break
        for shape in ("chain", "independent"):
            rows.append(Row(shape, f"DBOS Transact, SQLite system database, {label}", times[shape]))
    rows.append(
        Row(
            "floor",
            "stdlib sqlite3 autocommit INSERT per step, WAL + NORMAL",
            await best_of(repeat, lambda: time_stdlib_floor(directory, n)),
        )
    )
    rows.append(
        Row(
            "floor",
            "aiosqlite autocommit INSERT per step, WAL + NORMAL",
            await best_of(repeat, lambda: time_aiosqlite_floor(directory, n)),
        )
    )
    rows.append(
        Row(
            "floor",
            "of which the thread round trip (aiosqlite SELECT 1)",
            await best_of(repeat, lambda: time_thread_hop(directory, n)),
        )
    )
    return rows


def print_journals(rows: list[Row], ours: dict[str, float], n: int, repeat: int) -> None:
    print(f"Durable steps: {n} tasks per run, best of {repeat}\n")
    print("| shape | journal | us/step | target | step commits/run | SqliteRunStore is faster by |")
    print("|---|---|---:|---:|---:|---:|")
    for row in rows:
        peer = row.journal.startswith(("LangGraph", "DBOS")) and row.seconds == row.seconds
        faster = f"{row.seconds / ours[row.shape]:.1f}x" if peer else ""
        us = row.seconds / n * 1e6
        print(
            f"| {row.shape} | {row.journal} | {us:.1f} | {row.target} | {row.commits} | {faster} |"
        )
    wanted = ", ".join(f"{peer} >= {times:.0f}x" for peer, times in PEER_TARGETS.items())
    print(
        f"\nTargets: chain <= {TARGETS['chain']:.0f} us/step, independent <= "
        f"{TARGETS['independent']:.0f} us/step; on the chain, faster than {wanted}."
    )


def print_stalls(stalls: dict[str, Stalls], mcp_seconds: float) -> None:
    print("\nLoop stall per inline commit (SqliteRunStore)\n")
    print("| while | inline commits | p50 us | p99 us | max us | fell back to the thread |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, stall in stalls.items():
        print(
            f"| {label} | {stall.commits} | {stall.p50_us:.1f} | {stall.p99_us:.1f} "
            f"| {stall.max_us:.1f} | {stall.fallbacks} |"
        )
    print(f"\n({MCP_JOBS} concurrent MCP jobs took {mcp_seconds:.2f} s in all.)")


async def main(repeat: int, n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ageflow-store-bench-") as tmp:
        directory = Path(tmp)
        with CollectorPauses() as pauses:
            rows, stalls, ours = await measure_journals(directory, repeat, n)
        rows += await measure_postgres(repeat, n)
        rows += await measure_peers(directory, repeat, n)
        mcp_stalls, mcp_seconds = await stalls_under_mcp_jobs(directory, MCP_JOBS)
        stalls = {
            f"chain of {n}, {repeat + 1} runs": stalls["chain"],
            f"{n} independent, {repeat + 1} runs": stalls["independent"],
            f"{MCP_JOBS} concurrent MCP async jobs": mcp_stalls,
        }
        print_journals(rows, ours, n, repeat)
        print_stalls(stalls, mcp_seconds)
        print(
            f"(During the chain and independent runs the garbage collector ran "
            f"{len(pauses.pauses_us)} times, {pauses.full_collections()} of them full "
            f"collections; its longest pause was {pauses.longest_us() / 1e3:.1f} ms.)"
        )
        print(f"\nRecovery, store part (best of {repeat}; the file is opened first)\n")
        print("| what | time | RSS growth |")
        print("|---|---:|---:|")
        for what, took, grew in await measure_recovery(directory, repeat):
            print(f"| {what} | {took} | {grew} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument(
        "--tuned-gc",
        action="store_true",
        help="apply ageflow.server.tune_gc_for_serving() first, as a server process would",
    )
    arguments = parser.parse_args()
    if arguments.tuned_gc:
        tune_gc_for_serving()
        print("Garbage collector tuned for serving (tune_gc_for_serving).\n")
    anyio.run(main, arguments.repeat, arguments.steps)
