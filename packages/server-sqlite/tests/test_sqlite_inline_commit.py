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
from ageflow.server_sqlite.store import INLINE_BATCH_MAX

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


async def test_a_big_batch_is_committed_by_the_thread_a_small_one_inline(
    db_path, make_record, make_step
) -> None:
    async with SqliteRunStore(db_path) as store:
        await store.create_run(make_record("r1"), {})
        stats = store.inline_stats
        before = stats.commits
        small = [make_step(f"s{i}", i) for i in range(INLINE_BATCH_MAX)]
        await store.append_steps("r1", small)
        assert stats.commits == before + 1  # one inline transaction
        big = [make_step(f"b{i}", i) for i in range(INLINE_BATCH_MAX + 1)]
        await store.append_steps("r1", big)
        assert stats.commits == before + 1  # the thread took it: the loop did not wait
        assert stats.fallbacks == 0  # and that is not a fall-back from a lock
        steps = await store.get_steps("r1")
        assert len(steps) == 2 * INLINE_BATCH_MAX + 1
        assert steps[f"b{INLINE_BATCH_MAX}"].output == INLINE_BATCH_MAX
        # A run's final state with its last steps: the same bound.
        last = [make_step(f"l{i}", i) for i in range(INLINE_BATCH_MAX + 1)]
        assert await store.save_run(make_record("r1", state="done"), steps=last)
        assert stats.commits == before + 1
        assert (await store.get_run("r1")).state == "done"
        assert len(await store.get_steps("r1")) == 3 * INLINE_BATCH_MAX + 2
        assert await store.save_run(make_record("r1", state="done"), steps=last[:1])
        assert stats.commits == before + 2  # a small one commits inline


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


async def test_a_write_cancelled_during_its_fall_back_still_lands_before_later_ones(
    db_path, make_record, make_step
) -> None:
    async with SqliteRunStore(db_path, busy_timeout_ms=20_000) as store:
        await store.create_run(make_record("r1"), {})
        locker = await hold_write_lock(db_path)
        scope = anyio.CancelScope()
        returned: list[str] = []

        async def write(key: str, scope: anyio.CancelScope) -> None:
            with scope:
                await store.append_step("r1", make_step(key))
            returned.append(key)

        try:
            async with anyio.create_task_group() as group:
                group.start_soon(write, "cancelled", scope)
                await anyio.sleep(0.1)  # handed to the thread, waiting on the lock
                scope.cancel()
                group.start_soon(write, "later", anyio.CancelScope())
                await anyio.sleep(0.2)
                # The cancelled caller waits for its write (the thread runs it to its end),
                # and the later write waits behind it: the lock is not let go early.
                assert returned == []
                await release(locker)
        finally:
            if locker.returncode is None:
                locker.kill()
        assert returned == ["cancelled", "later"]
    with sqlite3.connect(db_path) as check:
        keys = [k for (k,) in check.execute("SELECT step_key FROM steps ORDER BY seq")]
    assert keys == ["cancelled", "later"]


WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from typing import Any
    import anyio
    from ageflow.core import define_function, define_workflow, task
    from ageflow.server import create_runner
    from ageflow.server_sqlite import SqliteRunStore

    async def main(path: str, name: str, steps: int, go: str) -> None:
        noop = define_function(lambda x: x, input=Any, output=Any, name="noop")
        chain = {
            f"t{i}": task(noop, depends_on=[f"t{i - 1}"] if i else [], input=i)
            for i in range(steps)
        }
        workflow = define_workflow(name=name, tasks=chain)
        async with SqliteRunStore(path, busy_timeout_ms=20_000) as store:
            while not Path(go).exists():  # both start writing together
                time.sleep(0.001)
            async with create_runner(store=store) as runner:
                for _ in range(3):
                    await runner.run(workflow)
            stats = store.inline_stats
            print(stats.commits, stats.fallbacks, flush=True)

    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
    """
)


async def test_two_processes_writing_one_file_at_once_lose_nothing(db_path, make_record) -> None:
    async with SqliteRunStore(db_path):
        pass  # the schema, before either writer opens the file
    go = db_path.with_name("go")
    steps = 300

    async def writer(name: str, out: list[tuple[int, int]]) -> None:
        done = await anyio.run_process(
            [sys.executable, "-c", WRITER, str(db_path), name, str(steps), str(go)], check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        commits, fallbacks = map(int, done.stdout.split())
        out.append((commits, fallbacks))

    counts: list[tuple[int, int]] = []
    with anyio.fail_after(120):
        async with anyio.create_task_group() as group:
            group.start_soon(writer, "wf_a", counts)
            group.start_soon(writer, "wf_b", counts)
            await anyio.sleep(1.0)  # both have opened the file
            go.touch()
    with sqlite3.connect(db_path) as check:
        per_run = check.execute(
            "SELECT r.workflow_name, r.state, count(s.step_key) FROM runs r "
            "JOIN steps s ON s.run_id = r.run_id GROUP BY r.run_id"
        ).fetchall()
    assert sorted(per_run) == [("wf_a", "done", steps)] * 3 + [("wf_b", "done", steps)] * 3
    # Each process committed its writes itself: inline, or on its thread once the other
    # held the lock (how often that happens depends on the scheduler, so it is not asserted).
    assert all(commits > 0 for commits, _ in counts)


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
