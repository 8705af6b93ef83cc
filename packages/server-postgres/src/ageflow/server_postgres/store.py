"""PostgresRunStore: a RunStore in PostgreSQL, on asyncpg, that several servers can share.

Every method is one statement or one short transaction on a pooled connection, so many
servers (and many runs in each) write at once; PostgreSQL's row locks make a claim atomic
(of two servers claiming a lapsed run, one wins). All network I/O is awaited: nothing
blocks the event loop. A connection the server dropped is replaced by the pool on the next
call; the call that was in flight fails with RunStoreError, and the runner's own retry and
lease rules decide what happens next (no accepted run is lost: it is in the database).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any

import anyio
import asyncpg
from anyio.streams.memory import MemoryObjectReceiveStream

from ageflow.executor.journal import StepRecord
from ageflow.server.errors import RunStoreError, StoreClosedError
from ageflow.server.records import UNFINISHED_STATES, RunRecord
from ageflow.server.requests import RunRequest
from ageflow.server.store import StoredInput
from ageflow.server_postgres.notices import listen_for_requests
from ageflow.server_postgres.schema import migrate, notice_channel, quote_ident

_UNFINISHED = sorted(UNFINISHED_STATES)

# What a call can meet when the database or the network fails under it; InternalClientError
# is asyncpg's answer when a connection is cut in the middle of a protocol exchange.
_DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError)


def _record(row: asyncpg.Record) -> RunRecord:
    return RunRecord.from_json(row["payload"], owner=row["owner"], lease_until=row["lease_until"])


def _changed(status: str) -> int:
    # asyncpg answers a write with its command tag, e.g. "UPDATE 1" or "INSERT 0 1".
    return int(status.rsplit(" ", 1)[-1])


class PostgresRunStore:
    """A RunStore in the schema ``schema`` (default ``ageflow``) of the database at ``dsn``.

    Opens on first use, on ``await store.open()``, or with ``async with``; opening creates
    or migrates the schema. Fails with a RunStoreError naming the database (never the
    password) when it cannot connect or the schema is newer than this package. After
    ``close()`` every call raises StoreClosedError.
    """

    def __init__(
        self, dsn: str, *, schema: str = "ageflow", min_size: int = 1, max_size: int = 10
    ) -> None:
        self._dsn = dsn
        self._schema = schema
        self._s = quote_ident(schema)
        self._channel = notice_channel(schema)
        self._pool_sizes = (min_size, max_size)
        self._pool: asyncpg.Pool | None = None
        self._closed = False
        self._open_lock = anyio.Lock()

    def __repr__(self) -> str:
        return f"PostgresRunStore({_redacted(self._dsn)!r}, schema={self._schema!r})"

    # -- lifecycle --------------------------------------------------------------------

    async def open(self) -> PostgresRunStore:
        await self._ready()
        return self

    async def __aenter__(self) -> PostgresRunStore:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the pool once calls in flight end. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            async with self._open_lock:
                pool, self._pool = self._pool, None
            if pool is not None:
                try:
                    await pool.close()
                except _DB_ERRORS:
                    pool.terminate()  # a connection the server cut cannot close politely

    async def _ready(self) -> asyncpg.Pool:
        if self._closed:
            raise StoreClosedError(f"PostgreSQL run store {_redacted(self._dsn)}")
        if self._pool is not None:
            return self._pool
        async with self._open_lock:
            if self._closed:
                raise StoreClosedError(f"PostgreSQL run store {_redacted(self._dsn)}")
            if self._pool is None:
                self._pool = await self._connect()
            return self._pool

    async def _connect(self) -> asyncpg.Pool:
        low, high = self._pool_sizes
        try:
            pool = await asyncpg.create_pool(self._dsn, min_size=low, max_size=high)
        except _DB_ERRORS as exc:
            raise RunStoreError(
                f"cannot open the PostgreSQL run store {_redacted(self._dsn)}: {exc}"
            ) from exc
        try:
            async with pool.acquire() as conn:
                await migrate(conn, self._schema)
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _execute(self, sql: str, *args: Any) -> str:
        pool = await self._ready()
        try:
            status: str = await pool.execute(sql.format(s=self._s), *args)
        except _DB_ERRORS as exc:
            raise self._failure(exc) from exc
        return status

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        pool = await self._ready()
        try:
            rows: list[asyncpg.Record] = await pool.fetch(sql.format(s=self._s), *args)
        except _DB_ERRORS as exc:
            raise self._failure(exc) from exc
        return rows

    def _failure(self, exc: BaseException) -> RunStoreError:
        return RunStoreError(f"PostgreSQL run store {_redacted(self._dsn)}: {exc}")

    # -- runs -------------------------------------------------------------------------

    async def create_run(self, record: RunRecord, input: Any) -> None:
        pool = await self._ready()
        input_text = json.dumps(input)
        try:
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    f"INSERT INTO {self._s}.runs (run_id, workflow_name, state, created_at,"
                    " last_event_at, owner, lease_until, payload)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    record.run_id,
                    record.workflow_name,
                    record.state,
                    record.created_at,
                    record.last_event_at,
                    record.owner,
                    record.lease_until,
                    record.to_json(),
                )
                await conn.execute(
                    f"INSERT INTO {self._s}.run_inputs (run_id, input) VALUES ($1, $2)",
                    record.run_id,
                    input_text,
                )
        except asyncpg.UniqueViolationError as exc:
            raise RunStoreError(f"a run with id {record.run_id!r} already exists") from exc
        except _DB_ERRORS as exc:
            raise self._failure(exc) from exc

    async def get_run(self, run_id: str) -> RunRecord | None:
        rows = await self._fetch(
            "SELECT payload, owner, lease_until FROM {s}.runs WHERE run_id = $1", run_id
        )
        return _record(rows[0]) if rows else None

    async def get_input(self, run_id: str) -> StoredInput | None:
        rows = await self._fetch("SELECT input FROM {s}.run_inputs WHERE run_id = $1", run_id)
        return StoredInput(json.loads(rows[0]["input"])) if rows else None

    async def save_run(
        self, record: RunRecord, *, owner: str | None = None, steps: Sequence[StepRecord] = ()
    ) -> bool:
        update = (
            "UPDATE {s}.runs SET state = $1, last_event_at = $2, payload = $3"
            " WHERE run_id = $4 AND ($5::text IS NULL OR owner = $5)"
        )
        args = (record.state, record.last_event_at, record.to_json(), record.run_id, owner)
        if not steps:
            return _changed(await self._execute(update, *args)) == 1
        pool = await self._ready()
        try:
            async with pool.acquire() as conn, conn.transaction():
                if _changed(await conn.execute(update.format(s=self._s), *args)) != 1:
                    return False  # nothing written: the transaction has no effect
                await conn.executemany(_UPSERT_STEP.format(s=self._s), _step_rows(record, steps))
        except _DB_ERRORS as exc:
            raise self._failure(exc) from exc
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
        rows = await self._fetch(
            "SELECT payload, owner, lease_until FROM {s}.runs"
            " WHERE ($1::text[] IS NULL OR workflow_name = ANY($1))"
            " AND ($2::text[] IS NULL OR state = ANY($2))"
            " ORDER BY last_event_at DESC, seq LIMIT $3",
            None if workflow_names is None else list(workflow_names),
            None if states is None else list(states),
            limit,
        )
        return [_record(row) for row in rows]

    async def delete_run(self, run_id: str) -> None:
        await self._execute("DELETE FROM {s}.runs WHERE run_id = $1", run_id)

    async def delete_finished_before(self, cutoff_ms: int) -> list[str]:
        rows = await self._fetch(
            "DELETE FROM {s}.runs WHERE last_event_at < $1 AND NOT (state = ANY($2))"
            " RETURNING seq, run_id",
            cutoff_ms,
            _UNFINISHED,
        )
        return [row["run_id"] for row in sorted(rows, key=lambda row: row["seq"])]

    # -- step journal -----------------------------------------------------------------

    async def append_step(self, run_id: str, step: StepRecord) -> None:
        status = await self._execute(_UPSERT_STEP, run_id, step.step_key, step.to_json_text())
        if _changed(status) == 0:
            raise _unknown_run(run_id)

    async def append_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        """Several steps of one run in one transaction (an executor's inline batch)."""
        pool = await self._ready()
        if not steps:
            return
        try:
            async with pool.acquire() as conn, conn.transaction():
                # FOR KEY SHARE: the run cannot be deleted under the batch.
                known = await conn.fetchval(
                    f"SELECT 1 FROM {self._s}.runs WHERE run_id = $1 FOR KEY SHARE", run_id
                )
                if known is None:
                    raise _unknown_run(run_id)
                rows = [(run_id, step.step_key, step.to_json_text()) for step in steps]
                await conn.executemany(_UPSERT_STEP.format(s=self._s), rows)
        except _DB_ERRORS as exc:
            raise self._failure(exc) from exc

    async def get_steps(self, run_id: str) -> dict[str, StepRecord]:
        rows = await self._fetch(
            "SELECT payload FROM {s}.steps WHERE run_id = $1 ORDER BY seq", run_id
        )
        steps = (StepRecord.from_json_text(row["payload"]) for row in rows)
        return {step.step_key: step for step in steps}

    # -- ownership --------------------------------------------------------------------

    async def claim_run(self, run_id: str, owner: str, lease_until: int, now: int) -> bool:
        # Under READ COMMITTED the second of two racing claims waits for the first's row
        # lock, then re-checks the condition against the row as the first left it.
        status = await self._execute(
            "UPDATE {s}.runs SET owner = $1, lease_until = $2 WHERE run_id = $3"
            " AND (owner IS NULL OR owner = $1 OR COALESCE(lease_until, 0) < $4)",
            owner,
            lease_until,
            run_id,
            now,
        )
        return _changed(status) == 1

    async def renew_leases(
        self, owner: str, run_ids: Collection[str], lease_until: int
    ) -> set[str]:
        await self._ready()
        if not run_ids:
            return set()
        rows = await self._fetch(
            "UPDATE {s}.runs SET lease_until = $1 WHERE owner = $2 AND run_id = ANY($3)"
            " RETURNING run_id",
            lease_until,
            owner,
            list(run_ids),
        )
        return {row["run_id"] for row in rows}

    async def release_runs(self, owner: str, run_ids: Collection[str]) -> None:
        await self._ready()
        if not run_ids:
            return
        await self._execute(
            "UPDATE {s}.runs SET owner = NULL, lease_until = NULL"
            " WHERE owner = $1 AND run_id = ANY($2)",
            owner,
            list(run_ids),
        )

    async def list_claimable(self, workflow_names: Collection[str], now: int) -> list[RunRecord]:
        await self._ready()
        if not workflow_names:
            return []
        rows = await self._fetch(
            "SELECT payload, owner, lease_until FROM {s}.runs"
            " WHERE workflow_name = ANY($1) AND state = ANY($2)"
            " AND (owner IS NULL OR COALESCE(lease_until, 0) < $3) ORDER BY seq",
            list(workflow_names),
            _UNFINISHED,
            now,
        )
        return [_record(row) for row in rows]

    # -- requests for a run's owner (ageflow.server.requests) ---------------------------

    async def post_request(self, request: RunRequest) -> bool:
        # One statement: the request and its notice commit together (NOTIFY is sent on
        # commit), so an owner woken by the notice always finds the request.
        rows = await self._fetch(
            "WITH posted AS (INSERT INTO {s}.run_requests (run_id, kind, approved)"
            " SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM {s}.runs WHERE run_id = $1)"
            " RETURNING run_id) SELECT pg_notify($4, run_id) FROM posted",
            request.run_id,
            request.kind,
            request.approved,
            self._channel,
        )
        return bool(rows)

    async def take_requests(self, owner: str) -> list[RunRequest]:
        rows = await self._fetch(
            "DELETE FROM {s}.run_requests q USING {s}.runs r"
            " WHERE q.run_id = r.run_id AND r.owner = $1"
            " RETURNING q.seq, q.run_id, q.kind, q.approved",
            owner,
        )
        ordered = sorted(rows, key=lambda row: row["seq"])
        return [RunRequest(row["run_id"], row["kind"], row["approved"]) for row in ordered]

    def request_notices(self) -> AbstractAsyncContextManager[MemoryObjectReceiveStream[str]]:
        return listen_for_requests(self._dsn, self._channel, _redacted(self._dsn))


# A step of an unknown run inserts nothing (status "INSERT 0 0") instead of failing;
# a replaced step keeps its seq, so the journal keeps first-completion order.
_UPSERT_STEP = (
    "INSERT INTO {s}.steps (run_id, step_key, payload)"
    " SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM {s}.runs WHERE run_id = $1)"
    " ON CONFLICT (run_id, step_key) DO UPDATE SET payload = excluded.payload"
)


def _step_rows(record: RunRecord, steps: Sequence[StepRecord]) -> list[tuple[str, str, str]]:
    return [(record.run_id, step.step_key, step.to_json_text()) for step in steps]


def _unknown_run(run_id: str) -> RunStoreError:
    return RunStoreError(f"cannot journal a step of unknown run {run_id!r}")


def _redacted(dsn: str) -> str:
    """The DSN without its password, for messages and reprs."""
    scheme, sep, rest = dsn.partition("://")
    if not sep or "@" not in rest:
        return dsn
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
