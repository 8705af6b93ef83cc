"""One watcher for every run's deadline, instead of a timer task per run.

Runs are added with the epoch-ms time they must end by; a single long-lived task sleeps
until the earliest one and hands each expired run to a callback. Adding a run costs a
heap push (and a wake-up only when it becomes the earliest), which matters when many
short runs each carry a deadline (every MCP job does).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import anyio

from ageflow.core.wire import now_ms

T = TypeVar("T")


class DeadlineWatch(Generic[T]):
    """Calls ``on_expired(item)`` once an item's deadline passes, unless it was dropped."""

    def __init__(self, on_expired: Callable[[T], Awaitable[None]]) -> None:
        self._on_expired = on_expired
        self._heap: list[tuple[int, int, T]] = []
        self._order = itertools.count()  # ties keep insertion order; items need no ordering
        self._active: dict[int, T] = {}
        self._earlier = anyio.Event()

    def add(self, deadline_at: int, item: T) -> int:
        """Watch ``item`` until ``deadline_at`` (epoch ms); returns a key for ``drop``."""
        key = next(self._order)
        self._active[key] = item
        heapq.heappush(self._heap, (deadline_at, key, item))
        if self._heap[0][1] == key:
            self._earlier.set()  # the watcher sleeps toward a later deadline: wake it
        return key

    def drop(self, key: int) -> None:
        """Stop watching (the run ended first); its heap entry is skipped when reached."""
        self._active.pop(key, None)

    def __len__(self) -> int:
        return len(self._active)

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            self._discard_dropped()
            if not self._heap:
                await self._wait_for_earlier(None)
                continue
            deadline_at, key, item = self._heap[0]
            delay = (deadline_at - now_ms()) / 1000
            if delay > 0:
                await self._wait_for_earlier(delay)
                continue
            heapq.heappop(self._heap)
            if self._active.pop(key, None) is not None:
                await self._on_expired(item)  # must not raise: one failure stops no other

    def _discard_dropped(self) -> None:
        while self._heap and self._heap[0][1] not in self._active:
            heapq.heappop(self._heap)

    async def _wait_for_earlier(self, seconds: float | None) -> None:
        event = self._earlier
        with anyio.move_on_after(seconds):
            await event.wait()
        if event.is_set():
            self._earlier = anyio.Event()
