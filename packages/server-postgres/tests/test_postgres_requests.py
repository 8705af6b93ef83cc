"""Run requests on PostgreSQL: posted by one server, taken by the run's owner only, with
a LISTEN/NOTIFY wake-up that comes back after the database drops its connection."""

from __future__ import annotations

import anyio
import asyncpg
import pytest

from ageflow.server.requests import RunRequest, RunRequestStore
from ageflow.server_postgres import PostgresRunStore
from ageflow.testing.postgres_server import PostgresServer
from ageflow.testing.store_contract import make_record

pytestmark = pytest.mark.anyio


async def test_requests_go_to_the_runs_owner_once_and_in_order(
    pg_store: PostgresRunStore,
) -> None:
    assert isinstance(pg_store, RunRequestStore)
    await pg_store.create_run(make_record("r1", owner="a", lease_until=10**15), {})
    await pg_store.create_run(make_record("r2", owner="b", lease_until=10**15), {})
    assert await pg_store.post_request(RunRequest("r1", "resume", approved=True))
    assert await pg_store.post_request(RunRequest("r2", "cancel"))
    assert await pg_store.post_request(RunRequest("r1", "cancel"))
    assert not await pg_store.post_request(RunRequest("nope", "cancel"))

    assert await pg_store.take_requests("c") == []  # owns nothing
    assert await pg_store.take_requests("a") == [
        RunRequest("r1", "resume", approved=True),
        RunRequest("r1", "cancel"),
    ]
    assert await pg_store.take_requests("a") == []  # taken once
    # A request waits for whoever owns the run: a takeover brings it along.
    assert await pg_store.claim_run("r2", "a", lease_until=10**16, now=10**15 + 1)
    assert await pg_store.take_requests("b") == []
    assert await pg_store.take_requests("a") == [RunRequest("r2", "cancel")]


async def test_requests_go_with_their_run(pg_store: PostgresRunStore) -> None:
    await pg_store.create_run(make_record("r1", owner="a", lease_until=10**15), {})
    await pg_store.post_request(RunRequest("r1", "cancel"))
    await pg_store.delete_run("r1")
    await pg_store.create_run(make_record("r1", owner="a", lease_until=10**15), {})
    assert await pg_store.take_requests("a") == []


async def next_notice(notices: anyio.abc.ObjectReceiveStream[str]) -> str:
    with anyio.fail_after(10):
        return await notices.receive()


async def test_a_posted_request_wakes_every_listener_and_survives_a_dropped_listener(
    postgres: PostgresServer, pg_store: PostgresRunStore, schema: str
) -> None:
    other = PostgresRunStore(postgres.dsn, schema=schema)
    unrelated = PostgresRunStore(postgres.dsn, schema=f"{schema}_other")
    try:
        await pg_store.create_run(make_record("r1", owner="a", lease_until=10**15), {})
        await unrelated.create_run(make_record("r1", owner="a", lease_until=10**15), {})
        async with (
            pg_store.request_notices() as mine,
            unrelated.request_notices() as theirs,
        ):
            await anyio.sleep(0.3)  # LISTEN is issued on the listener's own connection
            assert await other.post_request(RunRequest("r1", "resume", approved=False))
            assert await next_notice(mine) == "r1"

            # The database drops every connection: the listener comes back and says so.
            admin = await asyncpg.connect(postgres.dsn)
            try:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE pid <> pg_backend_pid() AND datname = current_database()"
                )
            finally:
                await admin.close()
            assert await next_notice(mine) == "*"
            await other.post_request(RunRequest("r1", "cancel"))
            assert await next_notice(mine) == "r1"

            # Another schema's channel heard only its own reconnect, no request of ours.
            assert await next_notice(theirs) == "*"
            with anyio.move_on_after(0.3):
                extra = await theirs.receive()
                pytest.fail(f"a notice of another schema arrived: {extra}")
    finally:
        await other.close()
        await unrelated.close()
