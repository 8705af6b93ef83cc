"""What the event loop pays for inline commits, for benchmarks/store.py.

``SqliteRunStore`` commits journal writes on the loop's thread; each attempt's duration is
a stall of the loop (``store.inline_stats``). Summarised here as p50/p99/max, with how many
writes fell back to the writer's thread; and measured under load: ``jobs`` MCP async jobs
at once (``start_echo``, status polls until done, result) against ageflow-mcp-server in this
process, on its SQLite job store, through the MCP SDK's client on in-memory streams.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp_jobs import job_lifecycle
from mcp_jobs_servers import WORKFLOW, Message

from ageflow.core import define_function, define_workflow, task
from ageflow.mcp_server import ConcurrencyConfig, create_mcp_server
from ageflow.server_sqlite import SqliteRunStore
from ageflow.server_sqlite.inline import InlineStats


@dataclass(frozen=True)
class Stalls:
    commits: int
    fallbacks: int
    p50_us: float
    p99_us: float
    max_us: float

    @classmethod
    def of(cls, stats: InlineStats) -> Stalls:
        stalls = sorted(stats.stalls_ns)
        if not stalls:
            return cls(stats.commits, stats.fallbacks, float("nan"), float("nan"), float("nan"))

        def at(fraction: float) -> float:
            return stalls[min(len(stalls) - 1, round(fraction * (len(stalls) - 1)))] / 1e3

        return cls(stats.commits, stats.fallbacks, at(0.5), at(0.99), stalls[-1] / 1e3)


@dataclass
class CollectorPauses:
    """The garbage collector's pauses while installed (a stall that lands inside an inline
    commit is counted as that commit's)."""

    pauses_us: list[tuple[int, float]] = field(default_factory=list)
    _started: int = 0

    def __enter__(self) -> CollectorPauses:
        gc.callbacks.append(self._on_collect)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_collect)

    def _on_collect(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
        else:
            self.pauses_us.append(
                (info["generation"], (time.perf_counter_ns() - self._started) / 1e3)
            )

    def longest_us(self) -> float:
        return max((pause for _, pause in self.pauses_us), default=0.0)

    def full_collections(self) -> int:
        return sum(1 for generation, _ in self.pauses_us if generation == 2)


async def stalls_under_mcp_jobs(directory: Path, jobs: int) -> tuple[Stalls, float]:
    """The stalls while ``jobs`` MCP jobs run at once, and the wall time they took."""
    echo = define_function(lambda m: Message(text=m.text), input=Message, output=Message)
    workflow = define_workflow(name=WORKFLOW, tasks={"echo": task(echo)})
    limit = 2 * jobs
    async with SqliteRunStore(directory / "mcp-jobs.sqlite") as store:
        server = create_mcp_server(
            workflow,
            async_mode=True,
            job_store=store,
            concurrency=ConcurrencyConfig(max_concurrent_starts=limit, max_concurrent_jobs=limit),
        )
        async with server.running(), Client(server.server, mode="legacy") as client:
            for i in range(10):  # warm-up: imports, caches, the file
                await job_lifecycle(client, f"warm {i}")
            store.inline_stats.reset()
            started = time.perf_counter()
            async with anyio.create_task_group() as group:
                for i in range(jobs):
                    group.start_soon(job_lifecycle, client, f"job {i}")
            elapsed = time.perf_counter() - started
        return Stalls.of(store.inline_stats), elapsed
