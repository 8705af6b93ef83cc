"""The PostgreSQL run store's schema, in a schema (namespace) of its own, with versions.

Tables (version 1), the same model as the SQLite store:

- ``meta(key, value)``: ``schema_version`` is the version the tables are at.
- ``runs``: one row per run; ``seq`` is the insertion order (it breaks ties in listings as
  the other stores do); searched fields are columns; the record is ``payload`` (JSON text,
  without owner and lease, kept as text so it round-trips byte for byte).
- ``run_inputs``: each run's input, only ever inserted (status writes never touch it).
- ``steps``: the step journal, one row per (run, step key), in first-journaled order.

Version 2 adds ``run_requests``: resume and cancel requests posted for a run's owner by
another server (taken, deleted, by the owner; see ``ageflow.server.requests``).

Inputs, steps and requests go with their run (``ON DELETE CASCADE``). Several servers may open the
same schema at once: creation and migration run under a transaction-level advisory lock,
so exactly one of them does the work and the others see it done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from ageflow.server.errors import RunStoreError

_V1 = """
CREATE TABLE {s}.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE {s}.runs (
    seq BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL UNIQUE,
    workflow_name TEXT NOT NULL,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_event_at BIGINT NOT NULL,
    owner TEXT,
    lease_until BIGINT,
    payload TEXT NOT NULL
);
CREATE TABLE {s}.run_inputs (
    run_id TEXT PRIMARY KEY REFERENCES {s}.runs (run_id) ON DELETE CASCADE,
    input TEXT NOT NULL
);
CREATE TABLE {s}.steps (
    seq BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES {s}.runs (run_id) ON DELETE CASCADE,
    step_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (run_id, step_key)
);
CREATE INDEX idx_runs_state ON {s}.runs (state, last_event_at DESC, seq);
CREATE INDEX idx_runs_workflow_state ON {s}.runs (workflow_name, state, last_event_at DESC, seq);
CREATE INDEX idx_runs_last_event ON {s}.runs (last_event_at DESC, seq);
CREATE INDEX idx_runs_owner ON {s}.runs (owner) WHERE owner IS NOT NULL;
"""

_V2 = """
CREATE TABLE {s}.run_requests (
    seq BIGSERIAL PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES {s}.runs (run_id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    approved BOOLEAN
);
CREATE INDEX idx_run_requests_run ON {s}.run_requests (run_id);
"""

# version -> the statements that bring the schema from the version before to it.
MIGRATIONS: Mapping[int, str] = {1: _V1, 2: _V2}


def latest_version() -> int:
    return max(MIGRATIONS)


def _lock_key(schema: str) -> int:
    # A stable 63-bit key per schema name for pg_advisory_xact_lock.
    digest = hashlib.blake2b(schema.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF


async def migrate(conn: asyncpg.Connection | PoolConnectionProxy, schema: str) -> int:
    """Create or migrate ``schema`` to the latest version; returns the version found."""
    quoted = quote_ident(schema)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _lock_key(schema))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quoted}")
        exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{quoted}.meta")
        found = 0
        if exists:
            text = await conn.fetchval(
                f"SELECT value FROM {quoted}.meta WHERE key = 'schema_version'"
            )
            found = int(text) if text is not None else 0
        if found > latest_version():
            raise RunStoreError(
                f"schema {schema!r} is at version {found}, newer than this package knows "
                f"({latest_version()}): upgrade ageflow-server-postgres"
            )
        for version in range(found + 1, latest_version() + 1):
            await conn.execute(MIGRATIONS[version].format(s=quoted))
        if found < latest_version():
            await conn.execute(
                f"INSERT INTO {quoted}.meta (key, value) VALUES ('schema_version', $1)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                str(latest_version()),
            )
    return found


def notice_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel of a schema's run requests (at most 63 bytes)."""
    digest = hashlib.blake2b(schema.encode(), digest_size=8).hexdigest()
    return f"ageflow_requests_{digest}"


def quote_ident(name: str) -> str:
    """A schema name as a quoted SQL identifier (names come from configuration, not users)."""
    if not name or "\0" in name:
        raise ValueError(f"invalid schema name {name!r}")
    return '"' + name.replace('"', '""') + '"'
