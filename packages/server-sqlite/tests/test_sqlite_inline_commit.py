"""The inline write path: commits on the loop, and what happens when a lock is in the way.

Another process holding the write lock makes the inline attempt fail at once (zero busy
timeout); the write is handed to the writer's thread, waits there, and lands, in order,
with the writes queued behind it batched into one transaction.
"""

from __future__ import annotations

import sqlite3
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from anyio.abc import Process

from ageflow.server_sqlite import SqliteRunStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite"


LOCKER = textwrap.dedent(
    """
    import sqlite3, sys
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")  # the write lock, until told to let go
    print("LOCKED", flush=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    """
)


async def hold_write_lock(db: Path) -> Process:
    process = await anyio.open_process([sys.executable, "-c", LOCKER, str(db)])
    assert process.stdout is not None
    with anyio.fail_after(20):
        assert (await process.stdout.receive()).startswith(b"LOCKED")
    return process


async def release(process: Process) -> None:
    assert process.stdin is not None
    await process.stdin.send(b"go\n")
    with anyio.fail_after(20):
        assert await process.wait() == 0


async def test_a_chain_commits_inline_and_checkpoints_off_the_loop(
    db_path, make_record, make_step
) -> None:
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {})
        for i in range(700):
            await store.append_step("r1", make_step(f"t{i}", i))
        stats = store.inline_stats
        assert stats.fallbacks == 0
        assert stats.commits == 701  # the run and every step
        assert len(stats.stalls_ns) == 701
        conns = store._conns
        assert conns is not None and conns.checkpointer is not None
        with anyio.fail_after(10):
            while conns.checkpointer.checkpoints < 2:  # one per 300 commits  # noqa: ASYNC110
                await anyio.sleep(0.01)
    with sqlite3.connect(db_path) as check:
        assert check.execute("SELECT count(*) FROM steps").fetchone()[0] == 700


async def test_a_lock_held_by_another_process_sends_writes_to_the_thread(
    db_path, make_record, make_step
) -> None:
    async with SqliteRunStore(db_path, busy_timeout_ms=20_000) as store:
        await store.create_run(make_record("r1"), {})
        locker = await hold_write_lock(db_path)
        try:
            async with anyio.create_task_group() as group:
                for i in range(20):
                    group.start_soon(store.append_step, "r1", make_step(f"t{i}", i))
                await anyio.sleep(0.2)
                assert await store.get_steps("r1") == {}  # all waiting on the lock
                await release(locker)
        finally:
            if locker.returncode is None:
                locker.kill()
        stats = store.inline_stats
        assert stats.fallbacks == 1  # the first; the rest queued behind it
        assert store.step_transactions == 2  # that one, then the other 19 together
        steps = await store.get_steps("r1")
        assert list(steps) == [f"t{i}" for i in range(20)]  # in the order they were made
        assert all(steps[f"t{i}"].output == i for i in range(20))
        # The lock gone, writes commit inline again.
        await store.append_step("r1", make_step("after"))
        assert stats.fallbacks == 1
    with sqlite3.connect(db_path) as check:
        assert check.execute("SELECT count(*) FROM steps").fetchone()[0] == 21


async def test_owned_writes_wait_for_the_lock_and_keep_their_owner_check(
    db_path, make_record
) -> None:
    async with SqliteRunStore(db_path, busy_timeout_ms=20_000) as store:
        await store.create_run(make_record("r1"), {})
        assert await store.claim_run("r1", "a", lease_until=10, now=0)
        locker = await hold_write_lock(db_path)
        outcomes: list[bool] = []

        async def save(owner: str) -> None:
            outcomes.append(await store.save_run(make_record("r1", state="done"), owner=owner))

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(save, "b")
                group.start_soon(save, "a")
                await anyio.sleep(0.1)
                await release(locker)
        finally:
            if locker.returncode is None:
                locker.kill()
        assert outcomes == [False, True]  # in order; b does not hold the run
        assert store.inline_stats.fallbacks >= 1


UNCLOSED = textwrap.dedent(
    """
    import sys
    from typing import Any
    import anyio
    from ageflow.core import define_function, define_workflow, task
    from ageflow.server import create_runner
    from ageflow.server_sqlite import SqliteRunStore

    async def main() -> None:
        store = SqliteRunStore(sys.argv[1])  # never closed, as a new user might
        noop = define_function(lambda x: x, input=Any, output=Any, name="noop")
        workflow = define_workflow(name="wf", tasks={"a": task(noop, input=1)})
        async with create_runner(store=store) as runner:
            await runner.run(workflow)
        print("MAIN RETURNED", flush=True)

    anyio.run(main)
    """
)


async def test_a_store_never_closed_lets_the_process_exit_and_warns(db_path) -> None:
    args = [sys.executable, "-W", "always::ResourceWarning", "-c", UNCLOSED, str(db_path)]
    with anyio.fail_after(15):
        done = await anyio.run_process(args, check=False)
    stderr = done.stderr.decode()
    assert done.returncode == 0, stderr
    assert "MAIN RETURNED" in done.stdout.decode()
    assert "ResourceWarning" in stderr and "was not closed" in stderr
    assert "Exception in thread" not in stderr
    with sqlite3.connect(db_path) as check:
        assert check.execute("SELECT count(*) FROM steps").fetchone()[0] == 1
