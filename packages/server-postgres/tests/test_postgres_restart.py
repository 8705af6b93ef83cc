"""PostgreSQL restarts while two replicas hold jobs: one in flight, one waiting for
approval, one finishing its step while the database is down. The replicas reconnect by
themselves and every accepted job ends as it should; a start refused during the outage
is a typed error, not a lost job."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from replica_cluster import DEADLINE_S, Cluster, Replica, call, start, wait_for_state

from ageflow.testing.postgres_server import PostgresServer

pytestmark = pytest.mark.anyio


async def answering(replica: Replica, job_id: str) -> None:
    """Wait until the replica's store answers again (it may still be starting up)."""
    with anyio.fail_after(DEADLINE_S):
        while True:
            result = await replica.client.call_tool("get_workflow_status", {"jobId": job_id})
            if not result.is_error:
                return
            code = json.loads(result.content[0].text)["errorCode"]
            assert code == "JOB_STORE_UNAVAILABLE", result.content
            await anyio.sleep(0.05)


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    # A server of this test's own: restarting the shared one would cut the other tests.
    with PostgresServer() as server:
        yield server


async def test_replicas_reconnect_after_a_database_restart_and_lose_no_job(
    own_postgres: PostgresServer, tmp_path: Path
) -> None:
    cluster = Cluster(own_postgres, tmp_path)
    async with cluster.replica("a") as a, cluster.replica("b") as b:
        cluster.release("waiting")
        waiting = await start(a, "waiting")
        flying = await start(b, "flying")  # finishes its step while the database is down
        await wait_for_state(a, waiting, "awaiting-checkpoint")
        await cluster.wait_for_runs("work", "flying", 1)

        down = anyio.Event()
        cluster.release("later")
        async with anyio.create_task_group() as group:

            async def restart() -> None:
                await anyio.to_thread.run_sync(own_postgres.restart, 2.0)

            group.start_soon(restart)
            await anyio.sleep(0.8)  # the server is down now
            cluster.release("flying")
            refused = await a.client.call_tool("start_replica", {"name": "refused"})
            assert refused.is_error
            assert json.loads(refused.content[0].text)["errorCode"] == "JOB_STORE_UNAVAILABLE"
            down.set()
        assert down.is_set()
        await answering(a, waiting)
        await answering(b, waiting)

        # Back up: the waiting job is resumed through the other replica, the flying one
        # finishes its work (again: its result was never journaled) and waits too.
        await wait_for_state(b, flying, "awaiting-checkpoint")
        for job_id, via in ((waiting, b), (flying, a)):
            assert await call(via, "resume_workflow", {"jobId": job_id, "approved": True}) == {
                "resumed": True
            }
        for job_id in (waiting, flying):
            await wait_for_state(a, job_id, "done")
        later = await start(a, "later")  # the replicas serve new jobs again
        await wait_for_state(b, later, "awaiting-checkpoint")

    assert cluster.counts("prepare") == Counter({"waiting": 1, "flying": 1, "later": 1})
    # Only the step whose result could not be journaled ran again.
    assert cluster.counts("work") == Counter({"waiting": 1, "flying": 2, "later": 1})
    assert cluster.counts("finish") == Counter({"waiting": 1, "flying": 1})
    assert "refused" not in cluster.counts("prepare")
