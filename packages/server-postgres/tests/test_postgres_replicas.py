"""Two ``ageflow mcp serve --async`` processes on one PostgreSQL job store.

Each replica is a real subprocess driven by the Python MCP SDK client over stdio. Jobs
started on either are polled, resumed and cancelled through the other; a SIGKILLed
replica's jobs (one in flight, one waiting for approval) are taken over by the other; the
step markers the workflow writes (tests/replica_workflow.py) show that no finished step
ran again and no job ran twice, also with 100 jobs started at once across both.
"""

from __future__ import annotations

import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from replica_cluster import DEADLINE_S, Cluster, Replica, call, start, wait_for_state

from ageflow.testing.postgres_server import PostgresServer

pytestmark = pytest.mark.anyio


async def test_any_replica_polls_resumes_and_cancels_any_job(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    cluster = Cluster(postgres, tmp_path)
    async with cluster.replica("a") as a, cluster.replica("b") as b:
        cluster.release("ann")
        ann = await start(a, "ann")  # runs on a ...
        status = await wait_for_state(b, ann, "awaiting-checkpoint")  # ... b sees it wait
        assert status["currentTask"]["name"] == "finish"
        assert await call(b, "get_workflow_result", {"jobId": ann}) == {"pending": True}
        assert await call(b, "resume_workflow", {"jobId": ann, "approved": True}) == {
            "resumed": True
        }
        await wait_for_state(b, ann, "done")
        result = await call(b, "get_workflow_result", {"jobId": ann})
        assert result["output"] == {"summary": "ann done"}

        # A job in flight on b, cancelled through a: a waits until b has stopped it.
        bo = await start(b, "bo")
        await cluster.wait_for_runs("work", "bo", 1)
        cancelled = await call(a, "cancel_workflow", {"jobId": bo})
        assert cancelled == {"cancelled": True, "priorState": "running"}
        assert (await call(b, "get_workflow_status", {"jobId": bo}))["state"] == "cancelled"

        # A job waiting for approval on a, cancelled through b; then rejected ones stay so.
        cluster.release("cy")
        cy = await start(a, "cy")
        await wait_for_state(b, cy, "awaiting-checkpoint")
        assert await call(b, "cancel_workflow", {"jobId": cy}) == {
            "cancelled": True,
            "priorState": "awaiting-checkpoint",
        }
        refused = await b.client.call_tool("resume_workflow", {"jobId": cy, "approved": True})
        assert refused.is_error

    # Every step ran once, where its job was started (nothing was taken over).
    assert cluster.runs("prepare") == [(a.pid, "ann"), (b.pid, "bo"), (a.pid, "cy")]
    assert cluster.counts("finish") == Counter({"ann": 1})


async def test_a_killed_replicas_jobs_are_taken_over_without_rerunning_finished_steps(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    cluster = Cluster(postgres, tmp_path)
    async with cluster.replica("b") as b:
        async with cluster.replica("a") as a:
            flying = await start(a, "flying")  # in flight inside work at the kill
            cluster.release("waiting")
            waiting = await start(a, "waiting")  # waiting for approval at the kill
            await cluster.wait_for_runs("work", "flying", 1)
            await wait_for_state(b, waiting, "awaiting-checkpoint")
            os.kill(a.pid, signal.SIGKILL)

        # b takes both over: the waiting job waits again, the flying one redoes work only.
        await cluster.wait_for_runs("work", "flying", 2)
        assert cluster.runs("work")[-1] == (b.pid, "flying")
        assert await call(b, "resume_workflow", {"jobId": waiting, "approved": True}) == {
            "resumed": True
        }
        await wait_for_state(b, waiting, "done")
        cluster.release("flying")
        await wait_for_state(b, flying, "awaiting-checkpoint")
        await call(b, "resume_workflow", {"jobId": flying, "approved": True})
        await wait_for_state(b, flying, "done")

    assert cluster.counts("prepare") == Counter({"flying": 1, "waiting": 1})
    assert cluster.counts("work") == Counter({"flying": 2, "waiting": 1})  # in flight: again
    assert cluster.runs("finish") == [(b.pid, "waiting"), (b.pid, "flying")]


async def test_a_hundred_jobs_across_two_replicas_each_run_once_through_a_takeover(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    cluster = Cluster(postgres, tmp_path)
    cluster.release("all")
    names = [f"job{n}" for n in range(100)]
    async with cluster.replica("b") as b:
        async with cluster.replica("a") as a:
            ids: dict[str, str] = {}

            async def start_on(replica: Replica, name: str) -> None:
                ids[name] = await start(replica, name)

            async with anyio.create_task_group() as group:  # all 100 at once
                for n, name in enumerate(names):
                    group.start_soon(start_on, a if n % 2 else b, name)
            for name in names:
                await wait_for_state(b, ids[name], "awaiting-checkpoint")
            os.kill(a.pid, signal.SIGKILL)

        # b answers for every job, its own and the 50 it takes over from a.
        async def approve(name: str) -> None:
            with anyio.fail_after(DEADLINE_S):
                while True:
                    result = await b.client.call_tool(
                        "resume_workflow", {"jobId": ids[name], "approved": True}
                    )
                    if not result.is_error:
                        return
                    await anyio.sleep(0.05)  # a's job is not b's yet: the lease is lapsing

        async with anyio.create_task_group() as group:
            for name in names:
                group.start_soon(approve, name)
        for name in names:
            await wait_for_state(b, ids[name], "done")

    for step in ("prepare", "work", "finish"):
        assert cluster.counts(step) == Counter(dict.fromkeys(names, 1)), step
    assert {pid for pid, _ in cluster.runs("prepare")} == {a.pid, b.pid}
    assert {pid for pid, _ in cluster.runs("finish")} == {b.pid}


async def test_a_task_started_on_one_replica_is_answered_by_the_other(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    cluster = Cluster(postgres, tmp_path)
    cluster.release("tasked")
    async with cluster.replica("a") as a, cluster.replica("b") as b:
        # The SDK's Python client checks tools/call answers against CallToolResult, so the
        # task-augmented call and tasks/* go down its JSON-RPC dispatcher.
        def send(replica: Replica) -> Any:
            return replica.client.session._dispatcher.send_raw_request

        params = {"name": "replica", "arguments": {"name": "tasked"}, "task": {"ttl": 60_000}}
        created = await send(a)("tools/call", params, {})
        handle = {"taskId": created["task"]["taskId"]}
        with anyio.fail_after(DEADLINE_S):
            # Polled: the task runs in another process.
            while (await send(b)("tasks/get", handle, {}))["status"] != "input_required":  # noqa: ASYNC110
                await anyio.sleep(0.02)
        await call(b, "resume_workflow", {"jobId": handle["taskId"], "approved": True})
        result = await send(b)("tasks/result", handle, {})
        assert result["structuredContent"] == {"summary": "tasked done"}
        listed = await send(a)("tasks/list", {}, {})
        assert [t["status"] for t in listed["tasks"] if t["taskId"] == handle["taskId"]] == [
            "completed"
        ]
    assert cluster.runs("finish") == [(a.pid, "tasked")]  # ran where it was started, once


async def test_ageflow_jobs_cancel_reaches_the_replica_that_runs_the_job(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    cluster = Cluster(postgres, tmp_path)
    async with cluster.replica("a") as a:
        job_id = await start(a, "held")  # in flight inside work, owned by a
        await cluster.wait_for_runs("work", "held", 1)
        command = [
            *(sys.executable, "-m", "ageflow.cli", "jobs", "cancel", job_id),
            *("--job-db", cluster.url),
        ]
        done = await anyio.run_process(command, check=False)
        assert done.returncode == 0, done.stderr.decode()
        status = await call(a, "get_workflow_status", {"jobId": job_id})
        assert status["state"] == "cancelled"
    assert cluster.counts("finish") == Counter()
