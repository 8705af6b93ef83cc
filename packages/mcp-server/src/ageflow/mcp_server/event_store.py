"""The SDK's SSE event store (``Last-Event-ID`` resumption), kept in SQLite.

Every message the Streamable HTTP transport sends on an SSE stream is stored first, with an
id the client sees as the SSE ``id``; a client whose stream dropped reconnects with
``GET`` + ``Last-Event-ID`` and is sent every later message of that stream, then the live
tail. The events live in a table of their own in a sibling of the job file
(``jobs.sqlite`` -> ``jobs.sqlite-events``), or in memory when there is no job file.

Bounds: at most ``max_events`` rows (each insert drops the oldest beyond it, so the table
never grows past the bound) and none older than ``max_age_seconds`` (pruned every
``PRUNE_EVERY`` inserts); a session's events are dropped when the session ends.

An event id is ``<sequence>-<token>``, the token random per event: only the session that
received an id can resume with it. :meth:`SqliteEventStore.check` says whether an id is
``ok``, ``malformed`` or ``unknown`` for a session (expired, pruned, made up and another
session's all read ``unknown``, so an answer leaks nothing about other sessions).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final, Literal

import aiosqlite
import anyio
from mcp.server.streamable_http import EventCallback, EventId, EventMessage, EventStore, StreamId
from mcp_types import JSONRPCMessage, jsonrpc_message_adapter

from ageflow.mcp_server.job_store import is_postgres_url

DEFAULT_MAX_EVENTS: Final = 10_000
DEFAULT_MAX_AGE_SECONDS: Final = 3600.0
PRUNE_EVERY: Final = 100
EVENT_ID: Final = re.compile(r"^([1-9][0-9]{0,18})-([0-9a-f]{16})$")
EVENTS_SUFFIX: Final = "-events"

IdCheck = Literal["ok", "malformed", "unknown"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sse_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    stream TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at REAL NOT NULL,
    message TEXT
);
CREATE INDEX IF NOT EXISTS sse_events_by_stream ON sse_events (session, stream, seq);
CREATE INDEX IF NOT EXISTS sse_events_by_age ON sse_events (created_at);
"""


def events_path_for(job_db_path: str | os.PathLike[str] | None) -> str:
    """The event file beside a job file; ``":memory:"`` without a file (and for a
    PostgreSQL job store: a session's events stay with the server that holds it)."""
    if job_db_path is None or str(job_db_path) in ("", ":memory:") or is_postgres_url(job_db_path):
        return ":memory:"
    return f"{job_db_path}{EVENTS_SUFFIX}"


class SqliteEventStore:
    """All sessions' SSE events in one SQLite table; :meth:`for_session` gives the SDK's
    per-session view. Use as ``async with SqliteEventStore(path) as store``."""

    def __init__(
        self,
        path: str | os.PathLike[str] = ":memory:",
        *,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_events < 1 or max_age_seconds <= 0:
            raise ValueError("event store bounds must be positive")
        self.path = str(path)
        self.max_events = max_events
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._db: aiosqlite.Connection | None = None
        self._inserts = 0
        # A replayed stream, until the SDK stores the resumed stream's priming event: what
        # was sent so far and where to send what the stream gets meanwhile.
        self._resuming: dict[tuple[str, str], tuple[int, EventCallback]] = {}
        self._lock = anyio.Lock()
        self.replays = 0
        """How many resumptions were served (for monitoring and tests)."""

    async def __aenter__(self) -> SqliteEventStore:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path)
        try:
            await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA synchronous=NORMAL")
            await db.execute("PRAGMA busy_timeout=5000")
            await db.executescript(_SCHEMA)
            # Sessions do not outlive the process that served them: old events are useless.
            await db.execute("DELETE FROM sse_events")
            await db.commit()
        except BaseException:
            await db.close()
            raise
        self._db = db
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        db, self._db = self._db, None
        if db is not None:
            # Shielded: the close waits for in-flight writes of cancelled callers, whose
            # worker thread would otherwise report to an event loop that is gone.
            with anyio.CancelScope(shield=True):
                await db.close()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("SqliteEventStore is not open: use `async with`")
        return self._db

    def for_session(self, session_id: str) -> SessionEventStore:
        return SessionEventStore(self, session_id)

    async def count(self) -> int:
        async with self._conn().execute("SELECT COUNT(*) FROM sse_events") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def store(self, session: str, stream: str, message: JSONRPCMessage | None) -> EventId:
        resuming = self._resuming.pop((session, stream), None) if message is None else None
        async with self._lock:
            # The SDK stores the resumed stream's priming event after the replay and only
            # then starts its live tail: messages stored in between would reach the client
            # only on its next resumption. They are read with the priming insert (no insert
            # between) and sent before the priming event, still on the replay's stream.
            missed = (
                [] if resuming is None else await self._rows_after(session, stream, resuming[0])
            )
            event_id = await self._insert(session, stream, message)
        if resuming is not None:
            await self._send(missed, resuming[1])
        return event_id

    async def _insert(self, session: str, stream: str, message: JSONRPCMessage | None) -> EventId:
        db = self._conn()
        token = secrets.token_hex(8)
        data = (
            None if message is None else message.model_dump_json(by_alias=True, exclude_unset=True)
        )
        cursor = await db.execute(
            "INSERT INTO sse_events (session, stream, token, created_at, message) "
            "VALUES (?, ?, ?, ?, ?)",
            (session, stream, token, self._clock(), data),
        )
        seq = int(cursor.lastrowid or 0)
        await cursor.close()
        # The sequence only grows, so the rows beyond the bound are a key range.
        await db.execute("DELETE FROM sse_events WHERE seq <= ?", (seq - self.max_events,))
        self._inserts += 1
        if self._inserts % PRUNE_EVERY == 0:
            cutoff = self._clock() - self.max_age_seconds
            await db.execute("DELETE FROM sse_events WHERE created_at < ?", (cutoff,))
        await db.commit()
        return f"{seq}-{token}"

    async def _row(self, session: str, event_id: str) -> tuple[int, str] | None:
        match = EVENT_ID.match(event_id)
        if match is None:
            return None
        seq, token = int(match.group(1)), match.group(2)
        async with self._conn().execute(
            "SELECT stream, created_at FROM sse_events WHERE seq = ? AND session = ? AND token = ?",
            (seq, session, token),
        ) as cursor:
            row = await cursor.fetchone()
        if row is None or float(row[1]) < self._clock() - self.max_age_seconds:
            return None
        return seq, str(row[0])

    async def check(self, session: str, event_id: str) -> IdCheck:
        """Whether ``event_id`` can resume a stream of ``session``."""
        if EVENT_ID.match(event_id) is None:
            return "malformed"
        return "ok" if await self._row(session, event_id) is not None else "unknown"

    async def replay(self, session: str, event_id: str, send: EventCallback) -> StreamId | None:
        found = await self._row(session, event_id)
        if found is None:
            return None
        seq, stream = found
        self.replays += 1
        async with self._lock:
            rows = await self._rows_after(session, stream, seq)
        self._resuming[(session, stream)] = (rows[-1][0] if rows else seq, send)
        await self._send(rows, send)
        return stream

    async def _rows_after(
        self, session: str, stream: str, seq: int
    ) -> list[tuple[int, str, str | None]]:
        async with self._conn().execute(
            "SELECT seq, token, message FROM sse_events "
            "WHERE session = ? AND stream = ? AND seq > ? ORDER BY seq",
            (session, stream, seq),
        ) as cursor:
            return [(int(row[0]), str(row[1]), row[2]) for row in await cursor.fetchall()]

    @staticmethod
    async def _send(rows: list[tuple[int, str, str | None]], send: EventCallback) -> None:
        for seq, token, data in rows:
            if data is None:  # a priming event: nothing to resend
                continue
            message = jsonrpc_message_adapter.validate_json(data)
            await send(EventMessage(message, f"{seq}-{token}"))

    async def forget(self, session: str) -> None:
        """Drop a finished session's events."""
        if self._db is None:
            return
        for key in [key for key in self._resuming if key[0] == session]:
            del self._resuming[key]
        await self._db.execute("DELETE FROM sse_events WHERE session = ?", (session,))
        await self._db.commit()


class SessionEventStore(EventStore):
    """The SDK's ``EventStore`` for one session, over the shared table."""

    def __init__(self, store: SqliteEventStore, session_id: str) -> None:
        self._store = store
        self._session = session_id

    async def store_event(self, stream_id: StreamId, message: JSONRPCMessage | None) -> EventId:
        return await self._store.store(self._session, stream_id, message)

    async def replay_events_after(
        self, last_event_id: EventId, send_callback: EventCallback
    ) -> StreamId | None:
        return await self._store.replay(self._session, last_event_id, send_callback)
