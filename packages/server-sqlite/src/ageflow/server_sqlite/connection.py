"""ThreadConnection: a stdlib sqlite3 connection whose calls run in a worker thread.

Calls on one connection are serialised (a capacity limiter of one) and run to their end
even when the caller is cancelled, so a statement queued before another always finishes
first. The worker threads are anyio's: none outlives the event loop, so a store that is
never closed does not keep the interpreter alive (aiosqlite's thread did).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


def connect(path: str, *, busy_timeout_ms: int, autocheckpoint: bool) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are begun explicitly, so none stays
    open by accident), usable from any thread (each store serialises its own use)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if not autocheckpoint:
            # Checkpoints fsync: the store's checkpointer thread runs them instead.
            conn.execute("PRAGMA wal_autocheckpoint = 0")
    except BaseException:
        conn.close()
        raise
    return conn


def rowcount_of(sql: str, params: Sequence[Any]) -> Callable[[sqlite3.Connection], int]:
    """A statement to run on a connection; it returns the rows the statement changed."""
    return lambda conn: conn.execute(sql, params).rowcount


def rows_of(sql: str, params: Sequence[Any]) -> Callable[[sqlite3.Connection], list[Any]]:
    """A statement to run on a connection; it returns the rows the statement returned."""
    return lambda conn: conn.execute(sql, params).fetchall()


class ThreadConnection:
    """Async access to one sqlite3 connection through worker threads."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self._limiter = anyio.CapacityLimiter(1)

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await anyio.to_thread.run_sync(fn, self.raw, limiter=self._limiter)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the rows it changed."""
        return await self.run(rowcount_of(sql, params))

    async def execute_fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return await self.run(rows_of(sql, params))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return await self.run(lambda conn: conn.executemany(sql, rows).rowcount)

    async def close(self) -> None:
        await self.run(lambda conn: conn.close())
