"""Recovery at scale, the store's part, for benchmarks/store.py: a file of 10,000 runs of
which 10 are unfinished; list the claimable ones and load their inputs and journals, and
the runner's whole recover(); time and RSS growth."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import anyio

from ageflow.core import define_function, define_workflow, task
from ageflow.core.metrics import TaskMetrics
from ageflow.executor import StepRecord
from ageflow.server import RunRecord, create_runner
from ageflow.server_sqlite import SqliteRunStore, queries


def now_ms() -> int:
    return int(time.time() * 1000)


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
