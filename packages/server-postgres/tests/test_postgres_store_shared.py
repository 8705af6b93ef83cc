"""What only a shared database shows: two stores (two servers) on one schema, a server
that drops every connection, bad DSNs and schemas newer than the package."""

from __future__ import annotations

import anyio
import asyncpg
import pytest

from ageflow.server import RunStoreError
from ageflow.server_postgres import PostgresRunStore, latest_version
from ageflow.testing.postgres_server import PostgresServer
from ageflow.testing.store_contract import make_record, make_step, stored

pytestmark = pytest.mark.anyio


async def test_two_servers_open_one_schema_at_once_and_share_its_runs(
    postgres: PostgresServer, schema: str
) -> None:
    a = PostgresRunStore(postgres.dsn, schema=schema)
    b = PostgresRunStore(postgres.dsn, schema=schema)
    async with anyio.create_task_group() as group:  # both create the schema: one does
        group.start_soon(a.open)
        group.start_soon(b.open)
    try:
        await a.create_run(make_record("r1", owner="a", lease_until=100), {"n": 1})
        await a.append_step("r1", make_step("first"))
        assert (await b.get_input("r1")).value == {"n": 1}  # type: ignore[union-attr]
        assert list(await b.get_steps("r1")) == ["first"]
        # Server a's lease lapsed: of two servers taking the run over, exactly one wins.
        wins = []

        async def claim(store: PostgresRunStore, owner: str) -> None:
            if await store.claim_run("r1", owner, lease_until=1_000, now=200):
                wins.append(owner)

        async with anyio.create_task_group() as group:
            group.start_soon(claim, a, "a2")
            group.start_soon(claim, b, "b")
        assert len(wins) == 1
        assert (await stored(a, "r1")).owner == wins[0]
    finally:
        await a.close()
        await b.close()


async def test_a_store_survives_the_server_dropping_its_connections(
    postgres: PostgresServer, pg_store: PostgresRunStore, schema: str
) -> None:
    await pg_store.create_run(make_record("r1"), {})
    await pg_store.append_step("r1", make_step("a"))
    admin = await asyncpg.connect(postgres.dsn)
    try:
        # Every other connection goes, as when the database restarts or a proxy cuts them.
        dropped = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND datname = current_database()"
        )
        assert dropped >= 1
    finally:
        await admin.close()
    # Nothing accepted is lost, and the store goes on working on fresh connections.
    # At most the calls that meet a dropped pooled connection fail, one per connection.
    failures: list[str] = []
    with anyio.fail_after(10):
        while True:
            try:
                steps = await pg_store.get_steps("r1")
                break
            except RunStoreError as exc:
                failures.append(str(exc).lower())
    assert len(failures) <= 4, failures  # the pool's max_size
    assert all(text.startswith("postgresql run store") for text in failures), failures
    assert list(steps) == ["a"]
    await pg_store.append_step("r1", make_step("b"))
    assert list(await pg_store.get_steps("r1")) == ["a", "b"]


async def test_bad_dsns_fail_with_a_store_error_that_hides_the_password(
    postgres: PostgresServer,
) -> None:
    closed_port = f"postgresql://bob:s3cret@127.0.0.1:{postgres.port + 1}/nowhere"
    store = PostgresRunStore(closed_port)
    assert "s3cret" not in repr(store)
    with pytest.raises(RunStoreError) as failure:
        await store.get_run("r1")
    assert "s3cret" not in str(failure.value)
    assert "bob@127.0.0.1" in str(failure.value)
    unknown_db = postgres.dsn.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(RunStoreError, match="no_such_database"):
        await PostgresRunStore(unknown_db).open()


async def test_a_schema_newer_than_the_package_is_refused(
    postgres: PostgresServer, pg_store: PostgresRunStore, schema: str
) -> None:
    admin = await asyncpg.connect(postgres.dsn)
    try:
        await admin.execute(
            f"UPDATE {schema}.meta SET value = $1 WHERE key = 'schema_version'",
            str(latest_version() + 1),
        )
    finally:
        await admin.close()
    with pytest.raises(RunStoreError, match="newer than this package"):
        await PostgresRunStore(postgres.dsn, schema=schema).open()
