"""The learning database: one SQLite file holding both stores.

Settings: WAL (readers do not wait for the writer), ``synchronous=NORMAL`` (a commit is
durable once the WAL is checkpointed; a power cut may lose the last commits but never
corrupts the file) and a busy timeout for other processes on the same file.

There is one writer connection, and every write is one statement in autocommit mode,
taken under a lock so that writes are serialised in the order they were asked for. A
file also gets a reader connection, so reads never queue behind a write; ``:memory:``
has only the one connection (a second would open another, empty database).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite
import anyio

from ageflow.learning import LearningStoreError
from ageflow.learning_sqlite.schema import migrate
from ageflow.learning_sqlite.skills import SqliteSkillStore
from ageflow.learning_sqlite.traces import SqliteTraceStore

MEMORY = ":memory:"


class LearningDatabase:
    """Both learning stores on one SQLite file (or ``":memory:"``).

    Use it as an async context manager, or call ``open`` and ``close``::

        async with LearningDatabase("learning.sqlite") as db:
            await db.traces.save_trace(trace)
            skill = await db.skills.active_for("writer")

    Closing either store closes the database. Needs the asyncio backend (aiosqlite).
    """

    def __init__(self, path: str | PathLike[str], *, busy_timeout_ms: int = 5000) -> None:
        self._path = str(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = anyio.Lock()
        self._open_lock = anyio.Lock()
        self._closed = False
        self.skills = SqliteSkillStore(self)
        self.traces = SqliteTraceStore(self)

    @property
    def path(self) -> str:
        return self._path

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connect and bring the schema up to date. Idempotent."""
        if self._closed:
            raise LearningStoreError(f"the learning store {self._path} is closed")
        if self._writer is not None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise LearningStoreError(
                f"cannot open the learning store {self._path}: it needs the asyncio "
                "backend (aiosqlite is built on asyncio)"
            ) from None
        async with self._open_lock:
            if self._is_open():  # another task opened it while this one waited
                return
            with anyio.CancelScope(shield=True):  # never leave a half-open connection
                await self._connect()

    def _is_open(self) -> bool:
        return self._writer is not None

    async def _connect(self) -> None:
        in_memory = self._path == MEMORY
        if not in_memory:
            parent = Path(self._path).parent
            try:
                await anyio.to_thread.run_sync(lambda: parent.mkdir(parents=True, exist_ok=True))
            except OSError as exc:
                raise LearningStoreError(
                    f"cannot open the learning store {self._path}: cannot create its "
                    f"directory {parent}: {exc.strerror or exc}"
                ) from exc
        opened: list[aiosqlite.Connection] = []
        try:
            writer = await self._connection(opened)
            if not in_memory:
                await writer.execute("PRAGMA journal_mode = WAL")
            await migrate(writer, self._path)
            self._reader = writer if in_memory else await self._connection(opened)
            self._writer = writer
        except BaseException as exc:
            for conn in reversed(opened):
                await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise LearningStoreError(
                    f"cannot open the learning store {self._path}: {exc}"
                ) from exc
            raise

    async def _connection(self, opened: list[aiosqlite.Connection]) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self._path, isolation_level=None)
        opened.append(conn)
        await conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        await conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def close(self) -> None:
        """Close the connections once the write in progress ends. Idempotent."""
        self._closed = True
        async with self._write_lock:
            with anyio.CancelScope(shield=True):
                writer, reader = self._writer, self._reader
                self._writer = self._reader = None
                if reader is not None and reader is not writer:
                    await reader.close()
                if writer is not None:
                    await writer.close()

    async def read(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """The rows a query returns, read on the reader connection."""
        reader = await self._connected(lambda: self._reader)
        try:
            return list(await reader.execute_fetchall(sql, tuple(params)))
        except sqlite3.Error as exc:
            raise LearningStoreError(f"learning store {self._path}: {exc}") from exc

    async def write(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Run one write statement (atomic on its own) after the writes before it; returns
        the rows of its RETURNING clause, if any."""
        async with self._write_lock:
            writer = await self._connected(lambda: self._writer)
            # Shielded: a write cancelled half-way would leave the caller unsure whether
            # it happened; it is one statement, so it finishes quickly.
            rows: list[sqlite3.Row] = []
            with anyio.CancelScope(shield=True):
                try:
                    rows = list(await writer.execute_fetchall(sql, tuple(params)))
                except sqlite3.Error as exc:
                    raise LearningStoreError(f"learning store {self._path}: {exc}") from exc
            return rows

    async def _connected(
        self, pick: Callable[[], aiosqlite.Connection | None]
    ) -> aiosqlite.Connection:
        if self._closed:
            raise LearningStoreError(f"the learning store {self._path} is closed")
        if self._writer is None:
            await self.open()
        conn = pick()
        if conn is None:
            raise LearningStoreError(f"the learning store {self._path} is closed")
        return conn
