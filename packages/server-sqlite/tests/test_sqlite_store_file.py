"""What only a file-backed SQLite store can show: persistence, settings, open errors,
schema migrations, group commit, query plans and two stores (or processes) on one file."""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from pathlib import Path

import anyio
import pytest

from ageflow.server import RunStoreError, StoreClosedError, StoredInput
from ageflow.server_sqlite import INDEXES, SqliteRunStore, latest_version, queries, schema

pytestmark = pytest.mark.anyio


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite"


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# -- persistence ------------------------------------------------------------------


async def test_reopening_the_file_returns_the_same_data(
    db_path, rich_record, make_record, make_step
) -> None:
    record = rich_record("r1")
    async with SqliteRunStore(db_path) as store:
        await store.create_run(record, {"q": "persist"})
        await store.create_run(make_record("r2", state="done", last_event_at=99), None)
        await store.append_step("r1", make_step("a", 1))
        await store.append_step("r1", make_step("loop[0]/b", {"x": [1]}))
        await store.claim_run("r2", "proc-b", lease_until=700, now=0)

    async with SqliteRunStore(db_path) as again:
        assert await again.get_run("r1") == record
        assert await again.get_input("r1") == StoredInput({"q": "persist"})
        assert await again.get_input("r2") == StoredInput(None)
        assert [r.run_id for r in await again.list_runs()] == ["r2", "r1"]
        assert list(await again.get_steps("r1")) == ["a", "loop[0]/b"]
        assert (await again.get_run("r2")).owner == "proc-b"


async def test_opening_is_lazy_and_creates_missing_directories(tmp_path, make_record) -> None:
    path = tmp_path / "deep" / "er" / "runs.sqlite"
    store = SqliteRunStore(path)
    assert not path.parent.exists()  # nothing happens before the first call

    await store.create_run(make_record("r1"), {})

    assert path.is_file()
    assert store.path == str(path)
    await store.close()


async def test_open_returns_the_store_and_the_path_may_be_a_string(db_path) -> None:
    store = await SqliteRunStore(str(db_path)).open()
    assert await store.list_runs() == []
    await store.close()
    with pytest.raises(StoreClosedError, match=r"runs\.sqlite"):
        await store.open()


async def test_memory_path_creates_no_file(tmp_path, monkeypatch, make_record) -> None:
    monkeypatch.chdir(tmp_path)
    async with SqliteRunStore(":memory:") as store:
        await store.create_run(make_record("r1"), {"q": 1})
        assert await store.get_input("r1") == StoredInput({"q": 1})
    assert list(tmp_path.iterdir()) == []


async def test_wal_normal_sync_busy_timeout_and_foreign_keys_are_set(db_path) -> None:
    async with SqliteRunStore(db_path, busy_timeout_ms=1234) as store:
        conns = store._conns
        assert conns is not None and conns.inline is not None
        # The thread connections wait out another process's lock; the inline one never
        # waits (it falls back to the writer's thread instead).
        for conn, busy_timeout in (
            (conns.writer.raw, 1234),
            (conns.reader.raw, 1234),
            (conns.inline.raw, 0),
        ):

            def pragma(name: str, conn=conn) -> object:
                return conn.execute(f"PRAGMA {name}").fetchone()[0]

            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 1  # NORMAL
            assert pragma("busy_timeout") == busy_timeout
            assert pragma("foreign_keys") == 1
            assert pragma("wal_autocheckpoint") == 0  # the checkpointer thread does it
        assert conns.reader is not conns.writer
    with raw(db_path) as check:  # WAL is a property of the file: it stays
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_write_waits_for_another_writer_up_to_the_busy_timeout(
    db_path, make_record
) -> None:
    async with SqliteRunStore(db_path, busy_timeout_ms=50) as store:
        await store.create_run(make_record("r1"), {})
        other = raw(db_path)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        try:
            with pytest.raises(RunStoreError, match="locked") as caught:
                await store.claim_run("r1", "a", lease_until=10, now=0)
            assert str(db_path) in str(caught.value)
        finally:
            other.execute("ROLLBACK")
            other.close()

        assert await store.claim_run("r1", "a", lease_until=10, now=0)  # usable again


# -- open errors ------------------------------------------------------------------


async def test_a_path_under_a_regular_file_is_a_clear_error(tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    path = blocker / "sub" / "runs.sqlite"
    store = SqliteRunStore(path)

    with pytest.raises(RunStoreError) as caught:
        await store.list_runs()

    assert str(path) in str(caught.value)
    assert "directory" in str(caught.value)
    assert not isinstance(caught.value, StoreClosedError)
    await store.close()


async def test_a_path_that_is_a_directory_is_a_clear_error(tmp_path) -> None:
    store = SqliteRunStore(tmp_path)

    with pytest.raises(RunStoreError) as caught:
        await store.open()

    assert str(tmp_path) in str(caught.value)
    assert isinstance(caught.value.cause, sqlite3.Error)


async def test_a_file_that_is_not_a_database_is_a_clear_error(db_path) -> None:
    garbage = b"definitely not an SQLite database\n" * 200
    db_path.write_bytes(garbage)

    with pytest.raises(RunStoreError) as caught:
        await SqliteRunStore(db_path).open()

    assert str(db_path) in str(caught.value)
    assert "not a database" in str(caught.value)
    assert db_path.read_bytes() == garbage  # left as it was


async def test_a_newer_schema_version_is_refused(db_path) -> None:
    async with SqliteRunStore(db_path):
        pass
    with raw(db_path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")

    with pytest.raises(RunStoreError) as caught:
        await SqliteRunStore(db_path).open()

    message = str(caught.value)
    assert str(db_path) in message
    assert "99" in message
    assert f"version {latest_version()}" in message


async def test_a_failed_open_can_be_retried_after_the_cause_is_fixed(tmp_path) -> None:
    blocker = tmp_path / "later-a-dir"
    blocker.write_text("x")
    store = SqliteRunStore(blocker / "runs.sqlite")
    with pytest.raises(RunStoreError):
        await store.open()

    blocker.unlink()

    assert await store.list_runs() == []
    await store.close()


# -- schema and migrations ---------------------------------------------------------


async def test_a_new_file_gets_the_schema_and_its_version(db_path) -> None:
    async with SqliteRunStore(db_path):
        pass

    with raw(db_path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    assert {"meta", "runs", "run_inputs", "steps"} <= tables
    assert set(INDEXES) <= indexes
    assert version == [(str(latest_version()),)]


async def test_reopening_is_idempotent(db_path, make_record) -> None:
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {})
    for _ in range(2):
        async with SqliteRunStore(db_path) as store:
            assert [r.run_id for r in await store.list_runs()] == ["r1"]

    with raw(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM meta").fetchone()[0] == 1


async def test_two_stores_creating_one_new_file_at_once_both_open(db_path, make_record) -> None:
    first, second = SqliteRunStore(db_path), SqliteRunStore(db_path)
    async with anyio.create_task_group() as group:
        group.start_soon(first.open)
        group.start_soon(second.open)

    await first.create_run(make_record("r1"), {})
    assert [r.run_id for r in await second.list_runs()] == ["r1"]
    await first.close()
    await second.close()


async def test_an_older_file_is_migrated_forward(db_path, make_record, monkeypatch) -> None:
    current = latest_version()
    async with SqliteRunStore(db_path) as store:  # written at the current version
        await store.create_run(make_record("r1"), {"q": 1})

    async def add_note(conn) -> None:
        await conn.execute("ALTER TABLE runs ADD COLUMN note TEXT")
        await conn.execute("UPDATE runs SET note = 'migrated'")

    monkeypatch.setattr(schema, "MIGRATIONS", {**schema.MIGRATIONS, current + 1: add_note})

    async with SqliteRunStore(db_path) as store:
        assert await store.get_input("r1") == StoredInput({"q": 1})

    with raw(db_path) as conn:
        assert conn.execute("SELECT note FROM runs").fetchall() == [("migrated",)]
        assert conn.execute("SELECT value FROM meta").fetchall() == [(str(current + 1),)]


async def test_a_failed_migration_changes_nothing(db_path, make_record, monkeypatch) -> None:
    current = latest_version()
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {})

    async def half_done(conn) -> None:
        await conn.execute("ALTER TABLE runs ADD COLUMN note TEXT")
        await conn.execute("INSERT INTO no_such_table VALUES (1)")

    monkeypatch.setattr(schema, "MIGRATIONS", {**schema.MIGRATIONS, current + 1: half_done})
    with pytest.raises(RunStoreError) as caught:
        await SqliteRunStore(db_path).open()
    assert str(db_path) in str(caught.value)
    assert f"version {current + 1}" in str(caught.value)

    with raw(db_path) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
        assert "note" not in columns
        assert conn.execute("SELECT value FROM meta").fetchall() == [(str(current),)]
    monkeypatch.undo()
    async with SqliteRunStore(db_path) as store:
        assert [r.run_id for r in await store.list_runs()] == ["r1"]


async def test_a_version_1_file_gains_one_statement_run_creation(
    db_path, make_record, monkeypatch
) -> None:
    # A file written before version 2 (runs created with four statements) keeps its
    # runs and then creates runs through the run_creations view.
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", {1: schema.MIGRATIONS[1]})
        async with SqliteRunStore(db_path) as store:
            pass
        with raw(db_path) as conn:
            conn.execute(
                "INSERT INTO runs (run_id, workflow_name, state, created_at, last_event_at,"
                " payload) VALUES ('old', 'wf', 'done', 1, 1, ?)",
                (make_record("old").to_json(),),
            )
            conn.execute("INSERT INTO run_inputs (run_id, input) VALUES ('old', '[1]')")
            conn.commit()
    async with SqliteRunStore(db_path) as store:
        assert await store.get_input("old") == StoredInput([1])
        await store.create_run(make_record("new"), {"q": 2})
        assert await store.get_input("new") == StoredInput({"q": 2})
        with pytest.raises(RunStoreError, match="already exists"):
            await store.create_run(make_record("new"), {"q": 3})
        assert await store.get_input("new") == StoredInput({"q": 2})  # nothing half-written
    with raw(db_path) as conn:
        latest = str(schema.latest_version())
        assert conn.execute("SELECT value FROM meta").fetchall() == [(latest,)]
        assert conn.execute("SELECT count(*) FROM run_inputs").fetchone() == (2,)


async def test_a_version_2_file_gains_one_statement_final_saves(
    db_path, make_record, make_step, monkeypatch
) -> None:
    # A file written before version 3 keeps its runs and journals, then stores a run's
    # last steps with its final state through the run_saves view.
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", {v: schema.MIGRATIONS[v] for v in (1, 2)})
        async with SqliteRunStore(db_path) as store:
            await store.create_run(make_record("old"), {"q": 1})
            await store.append_step("old", make_step("first"))
    with raw(db_path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchall() == [("2",)]
    async with SqliteRunStore(db_path) as store:
        done = make_record("old", state="done", last_event_at=5)
        assert await store.save_run(done, steps=[make_step("last")])
        assert list(await store.get_steps("old")) == ["first", "last"]
        stored = await store.get_run("old")
        assert stored is not None and stored.state == "done"
    with raw(db_path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchall() == [("3",)]


# -- indexes and plans ------------------------------------------------------------


def plan(path: Path, sql: str, params: list[object]) -> str:
    with raw(path) as conn:
        return " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))


async def test_the_server_queries_use_indexes(db_path) -> None:
    async with SqliteRunStore(db_path):
        pass

    by_state = plan(db_path, *queries.list_runs_query(None, ["running"], 10))
    by_workflow = plan(db_path, *queries.list_runs_query(["wf"], ["running"], 10))
    newest = plan(db_path, *queries.list_runs_query(None, None, 10))
    claimable = plan(db_path, *queries.list_claimable_query(["wf"], 5))
    one = plan(db_path, queries.SELECT_RUN, ["r1"])
    expired = plan(db_path, queries.DELETE_FINISHED_BEFORE, [5])
    renew = plan(db_path, queries.RENEW_LEASES, [1, "o", '["r1"]'])

    assert "idx_runs_state" in by_state
    assert "TEMP B-TREE" not in by_state  # read in order, stops at the limit
    assert "idx_runs_workflow_state" in by_workflow
    assert "TEMP B-TREE" not in by_workflow
    assert "idx_runs_last_event_at" in newest
    assert "TEMP B-TREE" not in newest
    assert "idx_runs_workflow_state" in claimable
    assert "sqlite_autoindex_runs" in one
    assert "idx_runs_last_event_at" in expired
    assert "sqlite_autoindex_runs" in renew
    for text in (by_state, by_workflow, claimable, one, expired, renew):
        assert "SCAN runs" not in text.replace("SCAN runs USING", "")


# -- group commit -----------------------------------------------------------------


async def test_concurrent_steps_commit_inline_one_by_one(db_path, make_record, make_step) -> None:
    # With no lock in the way each step commits on the loop at once: nothing to batch.
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {})
        before = store.step_transactions

        async with anyio.create_task_group() as group:
            for i in range(50):
                group.start_soon(store.append_step, "r1", make_step(f"t{i}", i))

        assert store.step_transactions - before == 50
        assert store.inline_stats.fallbacks == 0
        assert len(await store.get_steps("r1")) == 50
    with raw(db_path) as conn:  # committed, not just visible to the store
        assert conn.execute("SELECT count(*) FROM steps").fetchone()[0] == 50


async def test_a_chain_of_steps_commits_one_by_one(db_path, make_record, make_step) -> None:
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {})
        before = store.step_transactions
        for i in range(5):
            await store.append_step("r1", make_step(f"t{i}"))
            with raw(db_path) as conn:  # each is committed when its call returns
                assert conn.execute("SELECT count(*) FROM steps").fetchone()[0] == i + 1
        assert store.step_transactions - before == 5


async def test_cancelled_appenders_leave_the_store_usable(db_path, make_record, make_step) -> None:
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {})
        first_done = anyio.Event()

        async def append(i: int) -> None:
            await store.append_step("r1", make_step(f"t{i}", i))
            first_done.set()

        async with anyio.create_task_group() as group:
            for i in range(30):
                group.start_soon(append, i)
            await first_done.wait()
            group.cancel_scope.cancel()  # the rest are waiting or mid-commit

        assert not store._conns.writer.in_transaction
        await store.append_step("r1", make_step("after", 1))
        assert await store.save_run(make_record("r1", state="done"))
        steps = await store.get_steps("r1")
        assert "after" in steps
        assert all(steps[key].output == int(key[1:]) for key in steps if key != "after")


async def test_close_during_writes_commits_or_refuses_each(db_path, make_record, make_step) -> None:
    store = SqliteRunStore(db_path)
    await store.create_run(make_record("r1"), {})
    outcomes: dict[str, str] = {}
    started = anyio.Event()

    async def append(i: int) -> None:
        started.set()
        try:
            await store.append_step("r1", make_step(f"t{i}", i))
            outcomes[f"t{i}"] = "committed"
        except StoreClosedError:
            outcomes[f"t{i}"] = "refused"

    async with anyio.create_task_group() as group:
        for i in range(20):
            group.start_soon(append, i)
        await started.wait()
        group.start_soon(store.close)

    assert len(outcomes) == 20
    async with SqliteRunStore(db_path) as again:
        stored = set(await again.get_steps("r1"))
    assert stored == {key for key, outcome in outcomes.items() if outcome == "committed"}


# -- two stores, two processes ----------------------------------------------------


async def test_writes_of_one_store_are_seen_by_another_at_once(db_path, make_record) -> None:
    async with SqliteRunStore(db_path) as first, SqliteRunStore(db_path) as second:
        await first.create_run(make_record("r1"), {"q": 1})
        assert await second.get_input("r1") == StoredInput({"q": 1})
        await second.save_run(make_record("r1", state="done", last_event_at=9))
        assert (await first.get_run("r1")).state == "done"


async def test_two_stores_on_one_file_race_for_claims(db_path, make_record) -> None:
    async with SqliteRunStore(db_path) as first, SqliteRunStore(db_path) as second:

        async def claim(store: SqliteRunStore, owner: str, run_id: str, winners: list[str]) -> None:
            if await store.claim_run(run_id, owner, lease_until=10_000, now=0):
                winners.append(owner)

        for n in range(20):
            run_id = f"r{n}"
            await first.create_run(make_record(run_id), {})
            winners: list[str] = []
            async with anyio.create_task_group() as group:
                group.start_soon(claim, first, "first", run_id, winners)
                group.start_soon(claim, second, "second", run_id, winners)

            assert len(winners) == 1, f"run {run_id}: {winners}"
            assert (await second.get_run(run_id)).owner == winners[0]


CLAIM_SCRIPT = textwrap.dedent(
    """
    import sys
    import anyio
    from ageflow.server_sqlite import SqliteRunStore

    async def main(path, run_id, owner, lease_until, now):
        async with SqliteRunStore(path) as store:
            won = await store.claim_run(run_id, owner, int(lease_until), int(now))
            print("granted" if won else "refused")

    anyio.run(main, *sys.argv[1:])
    """
)


async def claim_in_subprocess(path: Path, run_id: str, owner: str, lease: int, now: int) -> str:
    done = await anyio.run_process(
        [sys.executable, "-c", CLAIM_SCRIPT, str(path), run_id, owner, str(lease), str(now)],
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return done.stdout.decode().strip()


async def test_another_process_cannot_take_a_run_until_its_lease_lapses(
    db_path, make_record
) -> None:
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {})
        assert await store.claim_run("r1", "this-process", lease_until=10_000, now=1_000)

        assert await claim_in_subprocess(db_path, "r1", "other", 20_000, now=5_000) == "refused"
        assert (await store.get_run("r1")).owner == "this-process"

        assert await claim_in_subprocess(db_path, "r1", "other", 20_000, now=10_001) == "granted"
        got = await store.get_run("r1")
        assert (got.owner, got.lease_until) == ("other", 20_000)
        # This process has lost the run: its owned writes are refused from now on.
        assert await store.save_run(make_record("r1", state="done"), owner="this-process") is False
        assert await store.renew_leases("this-process", ["r1"], 30_000) == set()


# -- misuse -----------------------------------------------------------------------


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_the_store_also_runs_under_trio(db_path, make_record, make_step) -> None:
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {"q": 1})
        await store.append_step("r1", make_step("a"))
        assert list(await store.get_steps("r1")) == ["a"]


async def test_a_negative_limit_is_refused(db_path) -> None:
    async with SqliteRunStore(db_path) as store:
        with pytest.raises(ValueError, match="limit"):
            await store.list_runs(limit=-1)
