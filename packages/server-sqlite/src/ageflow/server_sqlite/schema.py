"""The SQLite run store's schema: tables, indexes and forward migrations.

Tables (version 1):

- ``meta(key, value)``: the row ``schema_version`` holds the version this file is at.
- ``runs``: one row per run. ``seq`` is the insertion order (an alias of the rowid, so it
  survives VACUUM); it breaks ties in listings exactly as the in-memory store does. The
  searched fields (workflow, state, times, owner, lease) are columns; the whole record
  is ``payload`` (JSON, without owner and lease).
- ``run_inputs``: the input each run was created with, as JSON. Only ever inserted: no
  status write can touch it (the original lost inputs on the first status write, D1).
- ``steps``: the step journal, one row per (run, step key); ``seq`` keeps the order in
  which steps were first journaled (a replaced step keeps its place).

Inputs and steps go with their run (``ON DELETE CASCADE``).

Version 2 adds ``run_creations``: a view over a run and its input whose ``INSTEAD OF
INSERT`` trigger writes both rows. Creating a run is then one statement, one trip to
the database thread instead of four (begin, two inserts, commit), and still atomic.

Version 3 adds ``run_saves``: a view whose ``INSTEAD OF INSERT`` trigger replaces a run's
record and journals steps with it (given as a JSON array of step texts), in one statement.
A run's last steps are stored with its final state this way: one write instead of two.
The trigger refuses the whole write (``RAISE``) when the run is unknown or, with an
``expected_owner`` given, held by another owner (the owner column itself never changes).

A migration is an async function that brings a database from the previous version to
its key's version. ``migrate`` applies the missing ones in order, in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Mapping

from ageflow.server.errors import RunStoreError
from ageflow.server_sqlite.connection import ThreadConnection

Migration = Callable[[ThreadConnection], Awaitable[None]]

_V1_STATEMENTS = (
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL UNIQUE,
        workflow_name TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_event_at INTEGER NOT NULL,
        owner TEXT,
        lease_until INTEGER,
        payload TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE run_inputs (
        run_id TEXT PRIMARY KEY REFERENCES runs (run_id) ON DELETE CASCADE,
        input TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE steps (
        seq INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        step_key TEXT NOT NULL,
        payload TEXT NOT NULL,
        UNIQUE (run_id, step_key)
    )
    """,
    # Each index ends with the listing order (newest first, then insertion order), so a
    # filtered listing reads rows in order and stops at the limit without sorting.
    "CREATE INDEX idx_runs_state ON runs (state, last_event_at DESC)",
    "CREATE INDEX idx_runs_workflow_state ON runs (workflow_name, state, last_event_at DESC)",
    "CREATE INDEX idx_runs_last_event_at ON runs (last_event_at DESC)",
    "CREATE INDEX idx_runs_owner ON runs (owner)",
)

INDEXES = ("idx_runs_state", "idx_runs_workflow_state", "idx_runs_last_event_at", "idx_runs_owner")


async def _v1_initial(conn: ThreadConnection) -> None:
    for statement in _V1_STATEMENTS:
        await conn.execute(statement)


_V2_STATEMENTS = (
    """
    CREATE VIEW run_creations AS
    SELECT runs.run_id, workflow_name, state, created_at, last_event_at, owner, lease_until,
           payload, run_inputs.input
    FROM runs JOIN run_inputs ON run_inputs.run_id = runs.run_id
    """,
    """
    CREATE TRIGGER run_creations_insert INSTEAD OF INSERT ON run_creations
    BEGIN
        INSERT INTO runs (run_id, workflow_name, state, created_at, last_event_at,
                          owner, lease_until, payload)
        VALUES (NEW.run_id, NEW.workflow_name, NEW.state, NEW.created_at, NEW.last_event_at,
                NEW.owner, NEW.lease_until, NEW.payload);
        INSERT INTO run_inputs (run_id, input) VALUES (NEW.run_id, NEW.input);
    END
    """,
)


async def _v2_run_creations(conn: ThreadConnection) -> None:
    for statement in _V2_STATEMENTS:
        await conn.execute(statement)


# The message of the trigger's refusal (the store turns it into "not saved").
RUN_NOT_SAVED = "ageflow: run not saved"

_V3_STATEMENTS = (
    """
    CREATE VIEW run_saves AS
    SELECT run_id, state, last_event_at, payload, owner AS expected_owner, NULL AS steps
    FROM runs
    """,
    f"""
    CREATE TRIGGER run_saves_insert INSTEAD OF INSERT ON run_saves
    BEGIN
        SELECT RAISE(ABORT, '{RUN_NOT_SAVED}') WHERE NOT EXISTS (
            SELECT 1 FROM runs
            WHERE run_id = NEW.run_id
              AND (NEW.expected_owner IS NULL OR owner = NEW.expected_owner)
        );
        UPDATE runs SET state = NEW.state, last_event_at = NEW.last_event_at,
                        payload = NEW.payload
        WHERE run_id = NEW.run_id;
        INSERT INTO steps (run_id, step_key, payload)
        SELECT NEW.run_id, json_extract(value, '$.stepKey'), value
        FROM json_each(NEW.steps) WHERE true
        ON CONFLICT (run_id, step_key) DO UPDATE SET payload = excluded.payload;
    END
    """,
)


async def _v3_run_saves(conn: ThreadConnection) -> None:
    for statement in _V3_STATEMENTS:
        await conn.execute(statement)


# version -> the migration that produces it from version - 1 (version 0: an empty file).
MIGRATIONS: Mapping[int, Migration] = {1: _v1_initial, 2: _v2_run_creations, 3: _v3_run_saves}


def latest_version(migrations: Mapping[int, Migration] | None = None) -> int:
    return max(MIGRATIONS if migrations is None else migrations)


async def read_version(conn: ThreadConnection) -> int:
    """The schema version of the open database; 0 when it has none yet."""
    has_meta = await conn.execute_fetchall(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    )
    if not list(has_meta):
        return 0
    rows = list(await conn.execute_fetchall("SELECT value FROM meta WHERE key = 'schema_version'"))
    return int(rows[0][0]) if rows else 0


async def migrate(conn: ThreadConnection, path: str) -> int:
    """Bring the database up to the latest version; returns the version it is at.

    ``conn`` must be in autocommit mode (isolation_level None). The version is read
    inside the write transaction, so two processes opening one new file do not both
    create the schema.
    """
    migrations = MIGRATIONS  # read at call time: tests install extra versions
    target = latest_version(migrations)
    await conn.execute("BEGIN IMMEDIATE")
    try:
        found = await read_version(conn)
        if found > target:
            raise RunStoreError(
                f"the run store {path} has schema version {found}, newer than version "
                f"{target} that this ageflow-server-sqlite supports; upgrade the package"
            )
        for version in sorted(v for v in migrations if v > found):
            try:
                await migrations[version](conn)
            except sqlite3.Error as exc:
                raise RunStoreError(
                    f"migrating the run store {path} to schema version {version} "
                    f"(from {found}) failed: {exc}",
                    cause=exc,
                ) from exc
        if found != target:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(target),),
            )
        await conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise
    return target
