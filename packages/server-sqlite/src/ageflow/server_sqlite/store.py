"""SqliteRunStore: a durable RunStore in one SQLite file, on stdlib sqlite3.

Settings: WAL (readers never wait for the writer), ``synchronous=NORMAL`` (a commit is
durable against a process crash; a power cut may lose the last commits but never corrupts
the file), foreign keys on (a run's input and steps go with it), automatic checkpoints off
(the checkpointer thread runs them, see checkpoint.py).

Writes are serialised by one lock. Each is first tried inline, on the event loop's thread
(inline.py: zero busy timeout, about 20 us); one that meets a lock held by another process
is handed, under the same lock, to the writer connection's worker thread, which waits with
the busy timeout. Writes therefore land in the order they were made, whichever path takes
them. A batch of more than INLINE_BATCH_MAX steps goes to that thread at once, so no
inline commit stalls the loop for long. A second connection serves reads from its own
thread. An in-memory database has a single connection, used from its thread only (a
second one would open another database).

Journaled steps are group-committed (group_commit.py); the connections are opened and
closed by opening.py.

A store that is never closed is closed when it is collected or at interpreter exit, with
a ResourceWarning; no thread of it keeps the interpreter alive.
"""

from __future__ import annotations

import json
import os
import sqlite3
import weakref
from collections.abc import Callable, Collection, Iterable, Sequence
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import anyio

from ageflow.executor.journal import StepRecord
from ageflow.server.errors import RunStoreError, StoreClosedError
from ageflow.server.records import RunRecord
from ageflow.server.store import StoredInput
from ageflow.server_sqlite import queries
from ageflow.server_sqlite.connection import rowcount_of, rows_of
from ageflow.server_sqlite.group_commit import GroupCommit, PendingStep, upsert_steps
from ageflow.server_sqlite.inline import WOULD_WAIT, InlineStats, InlineWriter, WouldWait
from ageflow.server_sqlite.opening import Connections, Unclosed, open_connections
from ageflow.server_sqlite.schema import RUN_NOT_SAVED

T = TypeVar("T")

_MEMORY_PATHS = frozenset({":memory:", ""})
INLINE_BATCH_MAX = 32
"""The most journal steps one inline commit takes (about 4 us each, beside the commit's
own 20 us); a bigger batch (steps alone, or a run's last steps with its final state) is
committed on the writer's thread."""


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
    than the steps when group commit batched them); ``inline_stats`` what the inline
    commits cost the loop and how many writes fell back to the thread.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 5000) -> None:
        self._path = os.fspath(path)
        self._in_memory = self._path in _MEMORY_PATHS
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._conns: Connections | None = None
        self._closed = False
        self._open_lock = anyio.Lock()
        self._write_lock = anyio.Lock(fast_acquire=True)
        self._group_commit = GroupCommit(self._write_one_step, self._write_steps)
        self._unclosed = Unclosed(self._path)
        weakref.finalize(self, self._unclosed.abandon)  # also runs at interpreter exit
        self.step_transactions = 0
        self.inline_stats = InlineStats()

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
        with anyio.CancelScope(shield=True):
            async with self._open_lock:  # an open under way finishes first
                conns, self._conns = self._conns, None
            if conns is not None:
                async with self._write_lock:
                    self._unclosed.conns = None
                    await conns.close()

    def _closed_error(self) -> StoreClosedError:
        return StoreClosedError(f"SQLite run store {self._path}")

    async def _ready(self) -> Connections:
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
                opened = await open_connections(
                    self._path,
                    in_memory=self._in_memory,
                    busy_timeout_ms=self._busy_timeout_ms,
                    inline_stats=self.inline_stats,
                )
            self._conns = self._unclosed.conns = opened
            return opened

    # -- connection access ------------------------------------------------------------

    def _translate(self, exc: Exception) -> Exception:
        """The error to raise for a driver error (StoreClosedError once closed)."""
        if self._closed:
            return self._closed_error()
        if isinstance(exc, sqlite3.Error):
            return RunStoreError(f"run store {self._path}: {exc}", cause=exc)
        return exc

    def _reraise(self, exc: Exception) -> NoReturn:
        error = self._translate(exc)
        if error is exc:
            raise exc
        raise error from exc

    async def _run_write(
        self, op: Callable[[sqlite3.Connection], T], *, may_inline: bool = True
    ) -> T:
        """Run a write (``op`` begins and commits its own transaction, if it needs one):
        inline on the loop when no lock is in the way (and ``may_inline``), else on the
        writer's thread.

        The write lock is held across the fall-back, so later writes wait behind it and
        land after it. Once handed to the thread, the write runs to its end even if this
        caller is cancelled.
        """
        conns = await self._ready()
        inline = conns.inline if may_inline else None
        if inline is not None and not self._write_lock.locked():
            # No fall-back in flight, and nothing here awaits before the commit: no other
            # write can come between, so the common case needs no lock round trip.
            result = self._attempt_inline(conns, inline, op)
            if result is not WOULD_WAIT:
                return result  # type: ignore[return-value]
            inline = None  # it met a lock: the thread waits it out
        async with self._write_lock:
            if inline is not None:  # the fall-back that was in flight has landed
                result = self._attempt_inline(conns, inline, op)
                if result is not WOULD_WAIT:
                    return result  # type: ignore[return-value]
            if self._closed:
                raise self._closed_error()
            try:
                result = await conns.writer.run(op)
            except (sqlite3.Error, ValueError) as exc:
                self._reraise(exc)
            self._committed(conns)
            return result

    def _attempt_inline(
        self, conns: Connections, inline: InlineWriter, op: Callable[[sqlite3.Connection], T]
    ) -> T | WouldWait:
        if self._closed:
            raise self._closed_error()
        try:
            result = inline.attempt(op)
        except (sqlite3.Error, ValueError) as exc:
            self._reraise(exc)
        if result is not WOULD_WAIT:
            self._committed(conns)
        return result

    @staticmethod
    def _committed(conns: Connections) -> None:
        if conns.checkpointer is not None:
            conns.checkpointer.committed()

    async def _write(self, sql: str, params: tuple[Any, ...]) -> int:
        """One write statement on its own (autocommit); the rows it changed."""
        return await self._run_write(rowcount_of(sql, params))

    async def _write_returning(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Like ``_write`` for a statement with RETURNING: the rows it returned."""
        return await self._run_write(rows_of(sql, params))

    async def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        conns = await self._ready()
        try:
            if not self._in_memory:
                return await conns.reader.run(rows_of(sql, params))
            # One connection: a read must not see another call's uncommitted writes.
            async with self._write_lock:
                if self._closed:
                    raise self._closed_error()
                return await conns.writer.run(rows_of(sql, params))
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
            await self._run_write(
                rowcount_of(queries.SAVE_RUN_WITH_STEPS, params),
                may_inline=len(steps) <= INLINE_BATCH_MAX,
            )
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
        await self._group_commit.append(PendingStep(run_id, step.step_key, step.to_json_text()))

    async def append_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        """Several steps of one run in one transaction (an executor's inline batch)."""
        await self._ready()
        items = [PendingStep(run_id, s.step_key, s.to_json_text()) for s in steps]
        if not items:
            return
        with anyio.CancelScope(shield=True):  # all of the batch, or none of it
            await self._write_steps(items)
        for item in items:
            if item.error is not None:
                raise item.error

    async def _write_one_step(self, item: PendingStep) -> None:
        # A chain journals one step at a time: one autocommit statement.
        changed = await self._write(queries.UPSERT_STEP, (item.run_id, item.step_key, item.payload))
        self.step_transactions += 1
        if changed == 0:
            item.error = self._unknown_run_error(item.run_id)

    async def _write_steps(self, batch: list[PendingStep]) -> None:
        # A big batch would stall the loop for a millisecond or more: its thread writes it.
        known = await self._run_write(
            lambda conn: upsert_steps(conn, batch), may_inline=len(batch) <= INLINE_BATCH_MAX
        )
        for item in batch:
            if known is not None and item.run_id not in known:
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
