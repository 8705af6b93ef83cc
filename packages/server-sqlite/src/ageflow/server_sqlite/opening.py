"""The connections of one SqliteRunStore: opening them, closing them, and closing those of
a store that was never closed.

A file store has three: the writer (a worker thread; it waits out locks with the busy
timeout), the reader (its own thread) and the inline writer (the loop's thread, zero busy
timeout), and a checkpointer thread. An in-memory database has a single connection, used
from its thread only (a second one would open another database).
"""

from __future__ import annotations

import contextlib
import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path

import anyio

from ageflow.server.errors import RunStoreError
from ageflow.server_sqlite.checkpoint import Checkpointer
from ageflow.server_sqlite.connection import ThreadConnection, connect
from ageflow.server_sqlite.inline import InlineStats, InlineWriter
from ageflow.server_sqlite.schema import migrate


@dataclass
class Connections:
    writer: ThreadConnection
    reader: ThreadConnection
    inline: InlineWriter | None  # None in memory: one connection, used from its thread
    checkpointer: Checkpointer | None

    def raw(self) -> list[sqlite3.Connection]:
        found = [self.inline.raw] if self.inline is not None else []
        found.append(self.writer.raw)
        if self.reader is not self.writer:
            found.append(self.reader.raw)
        return found

    async def close(self) -> None:
        # The inline connection first: closing the last connection checkpoints, and that
        # must happen in a thread, not on the loop.
        if self.inline is not None:
            self.inline.raw.close()
        if self.checkpointer is not None:
            self.checkpointer.stop()
        if self.reader is not self.writer:
            await self.reader.close()
        await self.writer.close()
        if self.checkpointer is not None:
            await anyio.to_thread.run_sync(self.checkpointer.join)


@dataclass
class Unclosed:
    """What a store never closed still holds; its finalizer closes it (no loop needed)."""

    path: str
    conns: Connections | None = None

    def abandon(self) -> None:
        conns, self.conns = self.conns, None
        if conns is None:
            return
        warnings.warn(
            f"SqliteRunStore({self.path!r}) was not closed; closing its connections now "
            "(use 'async with' or 'await store.close()')",
            ResourceWarning,
            stacklevel=2,
        )
        if conns.checkpointer is not None:
            conns.checkpointer.stop()
        for conn in conns.raw():
            # One in use by a thread that died with its loop cannot close: the OS frees it.
            with contextlib.suppress(sqlite3.Error):
                conn.close()


async def open_connections(
    path: str, *, in_memory: bool, busy_timeout_ms: int, inline_stats: InlineStats
) -> Connections:
    """Open a store's connections (the schema migrated), or raise RunStoreError."""
    if not in_memory:
        parent = Path(path).parent
        try:
            await anyio.to_thread.run_sync(lambda: parent.mkdir(parents=True, exist_ok=True))
        except OSError as exc:
            raise RunStoreError(
                f"cannot open the run store {path}: cannot create its directory "
                f"{parent}: {exc.strerror or exc}",
                cause=exc,
            ) from exc
    opened: list[sqlite3.Connection] = []
    try:
        writer = ThreadConnection(await _connection(path, opened, busy_timeout_ms))
        if in_memory:
            await migrate(writer, path)
            return Connections(writer=writer, reader=writer, inline=None, checkpointer=None)
        await _enable_wal(writer, path, busy_timeout_ms)
        await migrate(writer, path)
        reader = ThreadConnection(await _connection(path, opened, busy_timeout_ms))
        inline = InlineWriter(await _connection(path, opened, 0), inline_stats)
        checkpointer = Checkpointer(path)
        checkpointer.start()
        return Connections(writer, reader, inline, checkpointer)
    except BaseException as exc:
        for conn in reversed(opened):
            conn.close()
        if isinstance(exc, sqlite3.Error):
            raise RunStoreError(f"cannot open the run store {path}: {exc}", cause=exc) from exc
        raise


async def _enable_wal(conn: ThreadConnection, path: str, busy_timeout_ms: int) -> None:
    # Switching a new file to WAL fails at once with SQLITE_BUSY (the busy timeout
    # does not apply) while another process switches it or creates the schema; that
    # lasts milliseconds, so retry within the busy timeout.
    deadline = anyio.current_time() + busy_timeout_ms / 1000
    delay = 0.001
    while True:
        try:
            rows = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
            break
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
            if not busy or anyio.current_time() >= deadline:
                raise
        await anyio.sleep(delay)
        delay = min(delay * 2, 0.05)
    if str(rows[0][0]).lower() != "wal":
        raise RunStoreError(
            f"cannot open the run store {path}: WAL journal mode refused ({rows[0][0]})"
        )


async def _connection(
    path: str, opened: list[sqlite3.Connection], busy_timeout_ms: int
) -> sqlite3.Connection:
    conn = await anyio.to_thread.run_sync(
        lambda: connect(path, busy_timeout_ms=busy_timeout_ms, autocheckpoint=False)
    )
    opened.append(conn)
    return conn
