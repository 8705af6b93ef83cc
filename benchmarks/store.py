"""Durable execution cost: the step journal on SQLite and in memory, LangGraph's SQLite
checkpointer, the raw SQLite floor, and the store's part of recovery at scale.

Per-step figures are microseconds per task of a whole run (executor included), best of
``--repeat`` runs. SQLite files live in a temporary directory (the machine's normal disk).

1. a chain of N no-op function tasks, each step committed before the next starts;
2. N independent no-op tasks (steps finishing together share commits: group commit);
   Also on PostgresRunStore, on a PostgreSQL server this script starts on 127.0.0.1 (the
   test kit's server: fsync off, so like SQLite's WAL + synchronous=NORMAL no commit waits
   for the disk; every statement is a network round trip to another process);
3. LangGraph: the same chain of increment nodes with ``AsyncSqliteSaver``;
4. the floor: one aiosqlite autocommit INSERT per step, same pragmas as the store, and
   the part of it that is only the round trip to the database thread (``SELECT 1``);
5. recover (store part): a file with 10,000 runs of which 10 unfinished: list the
   claimable ones and load their inputs and journals; time and RSS growth.

Run: hatch run bench:python benchmarks/store.py   (--repeat 3, --steps 1000, --tuned-gc:
the garbage-collector settings a server process uses, see ageflow.server.gc_tuning)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import anyio
from peers import best_of, langgraph_increment_graph

from ageflow.core import define_function, define_workflow, task
from ageflow.core.metrics import TaskMetrics, WorkflowResult
from ageflow.executor import StepRecord, WorkflowExecutor
from ageflow.server import (
    InMemoryRunStore,
    RunRecord,
    RunStore,
    create_runner,
    tune_gc_for_serving,
)
from ageflow.server_postgres import PostgresRunStore
from ageflow.server_sqlite import SqliteRunStore, queries
from ageflow.testing.postgres_server import PostgresServer

TARGETS = {"chain": 200.0, "independent": 80.0}  # us per step, durable on SQLite


def workflow_of(shape: str, n: int) -> Any:
    noop = define_function(lambda x: x, input=Any, output=Any, name="noop")
    tasks: dict[str, Any] = {}
    for i in range(n):
        depends = [f"t{i - 1}"] if shape == "chain" and i else []
        tasks[f"t{i}"] = task(noop, depends_on=depends, input=i)
    return define_workflow(name=f"{shape}{n}", tasks=tasks)


def now_ms() -> int:
    return int(time.time() * 1000)


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


async def time_sqlite_floor(directory: Path, n: int) -> float:
    path = directory / f"floor-{uuid.uuid4().hex}.sqlite"
    payload = json.dumps(
        StepRecord("t0", "t0", "function", 0, TaskMetrics(latency_ms=0.01)).to_json()
    )
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        await conn.execute("PRAGMA journal_mode = WAL")
        await conn.execute("PRAGMA synchronous = NORMAL")
        await conn.execute(
            "CREATE TABLE steps (seq INTEGER PRIMARY KEY, run_id TEXT, step_key TEXT, "
            "payload TEXT, UNIQUE (run_id, step_key))"
        )
        started = time.perf_counter()
        for i in range(n):
            await conn.execute(
                "INSERT INTO steps (run_id, step_key, payload) VALUES (?, ?, ?)",
                ("run", f"t{i}", payload),
            )
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


# -- recovery at scale --------------------------------------------------------------


def populate(path: Path, runs: int, unfinished: int, steps_per_run: int) -> None:
    """Write the file directly with the store's own SQL (setup, not measured)."""
    step = StepRecord("s", "s", "function", {"value": "x" * 40}, TaskMetrics(latency_ms=1.0))
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("BEGIN")
        for i in range(runs):
            run_id = f"run-{i:05d}"
            state = "running" if i % (runs // unfinished) == 0 else "done"
            record = RunRecord(
                run_id=run_id,
                workflow_name="wf",
                state=state,
                created_at=i,
                last_event_at=i,
                progress={"done": steps_per_run},
            )
            conn.execute(
                queries.CREATE_RUN,
                (
                    run_id,
                    "wf",
                    state,
                    i,
                    i,
                    None,
                    None,
                    record.to_json(),
                    json.dumps({"q": f"question {i}"}),
                ),
            )
            for s in range(steps_per_run):
                payload = step.to_json() | {"stepKey": f"t{s}"}
                conn.execute(queries.UPSERT_STEP, (run_id, f"t{s}", json.dumps(payload)))
        conn.execute("COMMIT")


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def measure_recovery(directory: Path, repeat: int) -> list[tuple[str, str, str]]:
    path = directory / "recover.sqlite"
    async with SqliteRunStore(path):
        pass  # schema
    await anyio.to_thread.run_sync(populate, path, 10_000, 10, 10)
    size_mib = path.stat().st_size / 2**20

    async def recover_part() -> tuple[float, int]:
        rss_before = rss_kib()
        async with SqliteRunStore(path) as store:
            started = time.perf_counter()
            claimable = await store.list_claimable(["wf"], now=now_ms())
            loaded = [
                (await store.get_input(run.run_id), await store.get_steps(run.run_id))
                for run in claimable
            ]
            elapsed = time.perf_counter() - started
            grew = rss_kib() - rss_before
        assert len(claimable) == 10
        assert all(len(steps) == 10 for _, steps in loaded)
        return elapsed, grew

    async def load_everything() -> tuple[float, int]:
        rss_before = rss_kib()
        async with SqliteRunStore(path) as store:
            started = time.perf_counter()
            every = await store.list_runs()
            elapsed = time.perf_counter() - started
            grew = rss_kib() - rss_before
            assert len(every) == 10_000
            del every
        return elapsed, grew

    recovered_workflow = define_workflow(
        name="wf",
        tasks={
            f"t{i}": task(define_function(lambda x: x, input=Any, output=Any, name=f"t{i}"))
            for i in range(10)
        },
    )

    async def runner_recover() -> tuple[float, int, float]:
        """The runner's recover(): claim the 10, load inputs and journals, restart them."""
        copy = directory / f"recover-{uuid.uuid4().hex}.sqlite"
        shutil.copy(path, copy)
        rss_before = rss_kib()
        async with SqliteRunStore(copy) as store, create_runner(store=store) as runner:
            started = time.perf_counter()
            recovered = await runner.recover(recovered_workflow)
            elapsed = time.perf_counter() - started
            for run_id in recovered:
                handle = await runner.wait(run_id)
                assert handle is not None
                assert handle.state == "done"
            finished = time.perf_counter() - started
            grew = rss_kib() - rss_before
        assert len(recovered) == 10
        copy.unlink()
        return elapsed, grew, finished

    await recover_part()  # warm-up
    ours = min([await recover_part() for _ in range(repeat)])
    await runner_recover()  # warm-up
    full = min([await runner_recover() for _ in range(repeat)])
    naive = min([await load_everything() for _ in range(repeat)])
    return [
        (
            "runner.recover(): 10 unfinished of 10,000 claimed, journals loaded, restarted",
            f"{full[0] * 1e3:.2f} ms (all 10 done after {full[2] * 1e3:.2f} ms)",
            f"{full[1]:+d} KiB",
        ),
        (
            "recover (store part): list 10 claimable of 10,000 + inputs + journals",
            f"{ours[0] * 1e3:.2f} ms",
            f"{ours[1]:+d} KiB",
        ),
        (
            "for contrast: list_runs() loading all 10,000 records (the original's way)",
            f"{naive[0] * 1e3:.2f} ms",
            f"{naive[1]:+d} KiB",
        ),
        (f"(file: 10,000 runs x 10 steps, {size_mib:.1f} MiB)", "", ""),
    ]


# -- main ---------------------------------------------------------------------------


async def main(repeat: int, n: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ageflow-store-bench-") as tmp:
        directory = Path(tmp)
        rows: list[tuple[str, str, float, str, str]] = []
        async with SqliteRunStore(directory / "runs.sqlite") as sqlite_store:
            memory_store = InMemoryRunStore()
            for shape in ("chain", "independent"):
                plain = await best_of(repeat, lambda s=shape: time_plain(s, n))
                rows.append((shape, "none (executor only, not durable)", plain, "", ""))
                for label, store in (
                    ("InMemoryRunStore", memory_store),
                    ("SqliteRunStore (file)", sqlite_store),
                ):
                    before = sqlite_store.step_transactions
                    elapsed = await best_of(
                        repeat, lambda st=store, s=shape: time_durable(st, s, n)
                    )
                    commits = (sqlite_store.step_transactions - before) / (repeat + 1)
                    is_sqlite = store is sqlite_store
                    target = f"<= {TARGETS[shape]:.0f}" if is_sqlite else ""
                    per_run = f"{commits:.0f}" if is_sqlite else ""
                    rows.append((shape, label, elapsed, target, per_run))
            await memory_store.close()
        # PostgreSQL: a server of its own, started off the event loop (initdb takes seconds).
        postgres = PostgresServer()
        await anyio.to_thread.run_sync(postgres.start)
        try:
            async with PostgresRunStore(postgres.dsn, schema="bench") as pg_store:
                for shape in ("chain", "independent"):
                    elapsed = await best_of(repeat, lambda s=shape: time_durable(pg_store, s, n))
                    rows.append(
                        (shape, "PostgresRunStore (local server, asyncpg)", elapsed, "", "")
                    )
        finally:
            await anyio.to_thread.run_sync(postgres.stop)
        lg_variants = (
            ("LangGraph AsyncSqliteSaver, durability=sync, its pragmas", "sync", False),
            ("LangGraph AsyncSqliteSaver, durability=sync, synchronous=NORMAL", "sync", True),
            ("LangGraph AsyncSqliteSaver, durability=async (its default)", "async", False),
        )
        for label, durability, normal in lg_variants:
            timer = langgraph_timer(directory, n, durability=durability, synchronous_normal=normal)
            if timer is None:
                rows.append(("chain", label + ": not installed", float("nan"), "", ""))
                continue
            rows.append(("chain", label, await best_of(max(1, repeat - 1), timer), "", ""))
        floor = await best_of(repeat, lambda: time_sqlite_floor(directory, n))
        rows.append(("floor", "aiosqlite autocommit INSERT per step, WAL + NORMAL", floor, "", ""))
        hop = await best_of(repeat, lambda: time_thread_hop(directory, n))
        rows.append(("floor", "of which the thread round trip (aiosqlite SELECT 1)", hop, "", ""))

        print(f"Durable steps: {n} tasks per run, best of {repeat}\n")
        print("| shape | journal | us/step | target | step commits/run |")
        print("|---|---|---:|---:|---:|")
        for shape, label, elapsed, target, commits in rows:
            print(f"| {shape} | {label} | {elapsed / n * 1e6:.1f} | {target} | {commits} |")

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
