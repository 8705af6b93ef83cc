"""DeadlineWatch: one task times every run; expired items are handed over in order."""

from __future__ import annotations

import anyio
import pytest

from ageflow.core.wire import now_ms
from ageflow.server.deadlines import DeadlineWatch

pytestmark = pytest.mark.anyio


async def test_items_expire_in_deadline_order_and_dropped_ones_never() -> None:
    expired: list[str] = []
    last = anyio.Event()

    async def on_expired(item: str) -> None:
        expired.append(item)
        if item == "late":
            last.set()

    watch: DeadlineWatch[str] = DeadlineWatch(on_expired)
    async with anyio.create_task_group() as group:
        group.start_soon(watch.run)
        start = now_ms()
        watch.add(start + 400, "late")
        dropped = watch.add(start + 10, "dropped")
        watch.add(start + 60, "early")  # earlier than "late": wakes the sleeping watcher
        watch.drop(dropped)
        assert len(watch) == 2
        with anyio.fail_after(10):
            await last.wait()
        group.cancel_scope.cancel()
    assert expired == ["early", "late"]
    assert now_ms() - start >= 400
    assert len(watch) == 0


async def test_a_deadline_already_past_expires_at_once() -> None:
    done = anyio.Event()

    async def on_expired(item: int) -> None:
        done.set()

    watch: DeadlineWatch[int] = DeadlineWatch(on_expired)
    async with anyio.create_task_group() as group:
        group.start_soon(watch.run)
        watch.add(now_ms() - 1_000, 1)
        with anyio.fail_after(5):
            await done.wait()
        group.cancel_scope.cancel()
