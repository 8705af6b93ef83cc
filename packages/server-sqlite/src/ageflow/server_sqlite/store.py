"""SqliteRunStore: a durable RunStore in one SQLite file, on aiosqlite.

Settings: WAL (readers never wait for the writer), ``synchronous=NORMAL`` (a commit is
durable against a process crash; a power cut may lose the last commits but never corrupts
the file), a busy timeout (another process's write is waited for, not failed), foreign
keys on (a run's input and steps go with it).

Connections: one writer, whose writes are serialised by a lock (transactions of several
statements are shielded from cancellation: one left open on the shared connection would
swallow every later write), and one reader for lookups and listings. An in-memory
database has a single connection (a second one would open a different database).

Journaled steps are group-committed: steps that arrive while a commit is in flight are
written together by the next transaction, and each caller returns once its own step is
committed. A chain of steps therefore commits one by one, while many independent tasks
finishing together share transactions.

A store that is never closed does not keep the interpreter alive: the connections'
worker threads are daemons, and at exit (or when the store is collected) a
ResourceWarning says the store was never closed. Every commit is already durable then.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import warnings
import weakref
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

import aiosqlite
import anyio

from ageflow.executor.journal import StepRecord
from ageflow.server.errors import RunStoreError, StoreClosedError
from ageflow.server.records import RunRecord
from ageflow.server.store import StoredInput
from ageflow.server_sqlite import queries
from ageflow.server_sqlite.schema import RUN_NOT_SAVED, migrate

_MEMORY_PATHS = frozenset({":memory:", ""})


@dataclass
class _Connections:
    writer: aiosqlite.Connection
    reader: aiosqlite.Connection

    async def close(self) -> None:
        if self.reader is not self.writer:
            await self.reader.close()
        await self.writer.close()


@dataclass(eq=False)
class _PendingStep:
    """A step queued for a group commit; ``finished`` once a commit took it (or failed)."""

    run_id: str
    step_key: str
    payload: str
    finished: bool = False
    error: Exception | None = None


def _warn_unclosed(path: str) -> None:
    warnings.warn(
        f"SqliteRunStore({path!r}) was never closed; use 'async with' or 'await close()'",
        ResourceWarning,
        stacklevel=2,
    )


def _record(row: Iterable[Any]) -> RunRecord:
    payload, owner, lease_until = row
    return RunRecord.from_json(payload, owner=owner, lease_until=lease_until)


class SqliteRunStore:
    """A RunStore in an SQLite file (or ``":memory:"``).

    Opens on first use, on ``await store.open()``, or with ``async with``. A missing
    directory is created. Opening fails with a RunStoreError naming the path when the
    path cannot be written, the file is not a database, or its schema is newer than this
    package knows. After ``close()`` every call raises StoreClosedError.

    ``step_transactions`` counts the transactions that committed journaled steps (fewer
    than the steps when group commit batched them).
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 5000) -> None:
        self._path = os.fspath(path)
        self._in_memory = self._path in _MEMORY_PATHS
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._conns: _Connections | None = None
        self._closed = False
        self._open_lock = anyio.Lock()
        self._write_lock = anyio.Lock(fast_acquire=True)
        self._queued_steps: list[_PendingStep] = []
        self._committing = False  # a step commit is in flight
        self._commit_done: anyio.Event | None = None  # made by the first caller to wait on it
        self.step_transactions = 0
        self._unclosed: weakref.finalize[[str], SqliteRunStore] | None = None

    @property
    def path(self) -> str:
        return self._path

    def __repr__(self) -> str:
        return f"SqliteRunStore({self._path!r})"

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> SqliteRunStore:
        """Open now (otherwise the first call opens); returns the store."""
        await self._ready()
        return self

    async def __aenter__(self) -> SqliteRunStore:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections once the write in progress ends. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._unclosed is not None:
            self._unclosed.detach()
        with anyio.CancelScope(shield=True):
            async with self._open_lock:  # an open under way finishes first
                conns, self._conns = self._conns, None
            if conns is not None:
                async with self._write_lock:
                    await conns.close()

    def _closed_error(self) -> StoreClosedError:
        return StoreClosedError(f"SQLite run store {self._path}")

    async def _ready(self) -> _Connections:
        if self._closed:
            raise self._closed_error()
        conns = self._conns
        if conns is not None:
            return conns
        async with self._open_lock:
            if self._closed:
                raise self._closed_error()
            if self._conns is not None:
                return self._conns
            with anyio.CancelScope(shield=True):  # never leave a half-open connection
                opened = await self._connect()
            self._conns = opened
            # Warns at exit (or on collection) when close() never ran; the daemon worker
            # threads then end with the interpreter instead of holding it open.
            self._unclosed = weakref.finalize(self, _warn_unclosed, self._path)
            return opened

    async def _connect(self) -> _Connections:
        try:
            # aiosqlite hands results back through asyncio futures: say so plainly under trio.
            asyncio.get_running_loop()
        except RuntimeError:
            raise RunStoreError(
                f"cannot open the run store {self._path}: SqliteRunStore needs the asyncio "
                "backend (aiosqlite is built on asyncio)"
            ) from None
        if not self._in_memory:
            parent = Path(self._path).parent
            try:
                await anyio.to_thread.run_sync(lambda: parent.mkdir(parents=True, exist_ok=True))
            except OSError as exc:
                raise RunStoreError(
                    f"cannot open the run store {self._path}: cannot create its directory "
                    f"{parent}: {exc.strerror or exc}",
                    cause=exc,
                ) from exc
        opened: list[aiosqlite.Connection] = []
        try:
            writer = await self._connection(opened)
            if not self._in_memory:
                await self._enable_wal(writer)
            await writer.execute("PRAGMA foreign_keys = ON")
            await migrate(writer, self._path)
            reader = writer if self._in_memory else await self._connection(opened)
            return _Connections(writer=writer, reader=reader)
        except BaseException as exc:
            for conn in reversed(opened):
                await conn.close()
            if isinstance(exc, sqlite3.Error):
                raise RunStoreError(
                    f"cannot open the run store {self._path}: {exc}", cause=exc
                ) from exc
            raise

    async def _enable_wal(self, conn: aiosqlite.Connection) -> None:
        # Switching a new file to WAL fails at once with SQLITE_BUSY (the busy timeout
        # does not apply) while another process switches it or creates the schema; that
        # lasts milliseconds, so retry within the busy timeout.
        deadline = anyio.current_time() + self._busy_timeout_ms / 1000
        delay = 0.001
        while True:
            try:
                rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
                break
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or anyio.current_time() >= deadline:
                    raise
            await anyio.sleep(delay)
            delay = min(delay * 2, 0.05)
        if str(rows[0][0]).lower() != "wal":
            raise RunStoreError(
                f"cannot open the run store {self._path}: WAL journal mode refused ({rows[0][0]})"
            )

    async def _connection(self, opened: list[aiosqlite.Connection]) -> aiosqlite.Connection:
        # Autocommit: transactions are begun explicitly, so none stays open by accident.
        conn = aiosqlite.connect(self._path, isolation_level=None)
        # A daemon worker: an unclosed store must not keep the interpreter alive (aiosqlite
        # starts its thread when the connection is awaited, so this is set before).
        conn._thread.daemon = True
        await conn
        opened.append(conn)
        await conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        await conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    # -- connection access ------------------------------------------------------------

    def _translate(self, exc: Exception) -> Exception:
        """The error to raise for a driver error (StoreClosedError once closed)."""
        if self._closed:
            # aiosqlite raises ValueError for a connection close() has just shut.
            return self._closed_error()
        if isinstance(exc, sqlite3.Error):
            return RunStoreError(f"run store {self._path}: {exc}", cause=exc)
        return exc

    def _reraise(self, exc: Exception) -> NoReturn:
        error = self._translate(exc)
        if error is exc:
            raise exc
        raise error from exc

    async def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one write statement on its own (autocommit); returns the rows it changed.

        No cancel shield is needed: once queued, the connection's thread runs the
        statement to its end even if this caller is cancelled, before anything queued later.
        """
        conns = await self._ready()
        async with self._write_lock:
            if self._closed:
                raise self._closed_error()
            try:
                cursor = await conns.writer.execute(sql, params)
            except (sqlite3.Error, ValueError) as exc:
                self._reraise(exc)
        return cursor.rowcount

    async def _write_returning(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Like ``_write`` for a statement with RETURNING: the rows it returned."""
        conns = await self._ready()
        async with self._write_lock:
            if self._closed:
                raise self._closed_error()
            try:
                return list(await conns.writer.execute_fetchall(sql, params))
            except (sqlite3.Error, ValueError) as exc:
                self._reraise(exc)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Several statements in one write transaction, shielded from cancellation: a
        transaction left open on the shared connection would swallow every later write."""
        conns = await self._ready()
        async with self._write_lock:
            with anyio.CancelScope(shield=True):
                if self._closed:
                    raise self._closed_error()
                conn = conns.writer
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn
                        await conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            await conn.execute("ROLLBACK")
                        raise
                except (sqlite3.Error, ValueError) as exc:
                    self._reraise(exc)

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        conns = await self._ready()
        try:
            if not self._in_memory:
                return list(await conns.reader.execute_fetchall(sql, params))
            # One connection: a read must not see another call's uncommitted writes.
            async with self._write_lock:
                if self._closed:
                    raise self._closed_error()
                return list(await conns.writer.execute_fetchall(sql, params))
        except (sqlite3.Error, ValueError) as exc:
            self._reraise(exc)

    # -- runs -------------------------------------------------------------------------

    async def create_run(self, record: RunRecord, input: Any) -> None:
        payload, input_text = record.to_json(), json.dumps(input)
        params = (
            record.run_id,
            record.workflow_name,
            record.state,
            record.created_at,
            record.last_event_at,
            record.owner,
            record.lease_until,
            payload,
            input_text,
        )
        try:
            await self._write(queries.CREATE_RUN, params)
        except RunStoreError as exc:
            if isinstance(exc.__cause__, sqlite3.IntegrityError):
                raise RunStoreError(f"a run with id {record.run_id!r} already exists") from exc
            raise

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._fetch(queries.SELECT_RUN, (run_id,))
        return _record(rows[0]) if rows else None

    async def get_input(self, run_id: str) -> StoredInput | None:
        rows = await self._fetch(queries.SELECT_INPUT, (run_id,))
        return StoredInput(json.loads(rows[0][0])) if rows else None

    async def save_run(
        self, record: RunRecord, *, owner: str | None = None, steps: Sequence[StepRecord] = ()
    ) -> bool:
        if steps:
            return await self._save_run_with_steps(record, owner, steps)
        params = (record.state, record.last_event_at, record.to_json(), record.run_id)
        if owner is None:
            return await self._write(queries.SAVE_RUN, params) == 1
        return await self._write(queries.SAVE_OWNED_RUN, (*params, owner)) == 1

    async def _save_run_with_steps(
        self, record: RunRecord, owner: str | None, steps: Sequence[StepRecord]
    ) -> bool:
        texts = json.dumps([step.to_json_text() for step in steps], ensure_ascii=False)
        params = (record.run_id, record.state, record.last_event_at, record.to_json(), owner, texts)
        try:
            await self._write(queries.SAVE_RUN_WITH_STEPS, params)
        except RunStoreError as exc:
            refused = isinstance(exc.__cause__, sqlite3.IntegrityError) and RUN_NOT_SAVED in str(
                exc.__cause__
            )
            if refused:
                return False
            raise
        self.step_transactions += 1
        return True

    async def list_runs(
        self,
        *,
        workflow_names: Collection[str] | None = None,
        states: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be 0 or more, not {limit}")
        await self._ready()
        if limit == 0 or (workflow_names is not None and not workflow_names):
            return []
        if states is not None and not states:
            return []
        sql, params = queries.list_runs_query(workflow_names, states, limit)
        return [_record(row) for row in await self._fetch(sql, tuple(params))]

    async def delete_run(self, run_id: str) -> None:
        await self._write(queries.DELETE_RUN, (run_id,))

    async def delete_finished_before(self, cutoff_ms: int) -> list[str]:
        rows = await self._write_returning(queries.DELETE_FINISHED_BEFORE, (cutoff_ms,))
        return [run_id for _, run_id in sorted(rows)]

    # -- step journal -----------------------------------------------------------------

    async def append_step(self, run_id: str, step: StepRecord) -> None:
        await self._ready()
        item = _PendingStep(run_id, step.step_key, step.to_json_text())
        self._queued_steps.append(item)
        try:
            while not item.finished:
                if self._committing:
                    # Wait for the commit in flight; if this step was not in it, lead the next.
                    if self._commit_done is None:
                        self._commit_done = anyio.Event()
                    await self._commit_done.wait()
                else:
                    await self._commit_queued_steps()
        except BaseException:
            if not item.finished and item in self._queued_steps:
                self._queued_steps.remove(item)  # cancelled before any commit took it
            raise
        if item.error is not None:
            raise item.error

    async def append_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        """Several steps of one run in one transaction (an executor's inline batch)."""
        await self._ready()
        items = [_PendingStep(run_id, s.step_key, s.to_json_text()) for s in steps]
        if not items:
            return
        with anyio.CancelScope(shield=True):  # all of the batch, or none of it
            await self._write_steps(items)
        for item in items:
            if item.error is not None:
                raise item.error

    async def _commit_queued_steps(self) -> None:
        """Commit every queued step in one transaction; the caller's own step is among them."""
        batch, self._queued_steps = self._queued_steps, []
        self._committing = True
        try:
            if len(batch) == 1:
                await self._write_one_step(batch[0])  # the caller's own: nobody else waits on it
            else:
                with anyio.CancelScope(shield=True):  # other callers wait on this commit
                    await self._write_steps(batch)
        except Exception as exc:
            for item in batch:
                if item.error is None:
                    item.error = exc
        finally:
            for item in batch:
                item.finished = True
            self._committing = False
            done, self._commit_done = self._commit_done, None
            if done is not None:
                done.set()

    async def _write_one_step(self, item: _PendingStep) -> None:
        # A chain journals one step at a time: one autocommit statement, one round trip.
        changed = await self._write(queries.UPSERT_STEP, (item.run_id, item.step_key, item.payload))
        self.step_transactions += 1
        if changed == 0:
            item.error = self._unknown_run_error(item.run_id)

    async def _write_steps(self, batch: list[_PendingStep]) -> None:
        async with self._transaction() as conn:
            cursor = await conn.executemany(
                queries.UPSERT_STEP, [(i.run_id, i.step_key, i.payload) for i in batch]
            )
            if cursor.rowcount != len(batch):
                run_ids = json.dumps(sorted({item.run_id for item in batch}))
                known = {
                    row[0]
                    for row in await conn.execute_fetchall(queries.SELECT_KNOWN_RUN_IDS, (run_ids,))
                }
                for item in batch:
                    if item.run_id not in known:
                        item.error = self._unknown_run_error(item.run_id)
        self.step_transactions += 1

    @staticmethod
    def _unknown_run_error(run_id: str) -> RunStoreError:
        return RunStoreError(f"cannot journal a step of unknown run {run_id!r}")

    async def get_steps(self, run_id: str) -> dict[str, StepRecord]:
        rows = await self._fetch(queries.SELECT_STEPS, (run_id,))
        steps = (StepRecord.from_json_text(payload) for (payload,) in rows)
        return {step.step_key: step for step in steps}

    # -- ownership --------------------------------------------------------------------

    async def claim_run(self, run_id: str, owner: str, lease_until: int, now: int) -> bool:
        return await self._write(queries.CLAIM_RUN, (owner, lease_until, run_id, now)) == 1

    async def renew_leases(
        self, owner: str, run_ids: Collection[str], lease_until: int
    ) -> set[str]:
        await self._ready()
        if not run_ids:
            return set()
        rows = await self._write_returning(
            queries.RENEW_LEASES, (lease_until, owner, json.dumps(list(run_ids)))
        )
        return {row[0] for row in rows}

    async def release_runs(self, owner: str, run_ids: Collection[str]) -> None:
        await self._ready()
        if not run_ids:
            return
        await self._write(queries.RELEASE_RUNS, (owner, json.dumps(list(run_ids))))

    async def list_claimable(self, workflow_names: Collection[str], now: int) -> list[RunRecord]:
        await self._ready()
        if not workflow_names:
            return []
        sql, params = queries.list_claimable_query(workflow_names, now)
        return [_record(row) for row in await self._fetch(sql, tuple(params))]
