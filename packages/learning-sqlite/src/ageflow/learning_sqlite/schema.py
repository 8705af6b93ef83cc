"""The learning database's schema and its forward migrations.

Version 1:

- ``meta(key, value)``: ``schema_version`` is the version the file is at.
- ``skills``: one row per skill. The fields the stores search and sort on are columns
  (times as integer microseconds since the epoch, so they compare as instants); the
  whole record is ``payload`` (JSON). ``seq`` keeps insertion order for ties and
  survives a record being replaced.
- ``traces``: one row per execution trace, the same way; feedback lives in the payload.

Version 2 adds ``traces.has_feedback`` (filled from the payload of existing rows) and
an index on it, so "traces with feedback", which reflection asks for, is not a scan.

A migration brings a file from the previous version to its own; ``migrate`` applies the
missing ones in one transaction and refuses a file newer than this code knows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import aiosqlite
import anyio

from ageflow.learning import LearningStoreError

Migration = Callable[[aiosqlite.Connection], Awaitable[None]]

_V1 = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """
    CREATE TABLE skills (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        agent TEXT NOT NULL,
        workflow TEXT,
        parent_id TEXT,
        status TEXT NOT NULL,
        score REAL NOT NULL,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        payload TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE traces (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        workflow_name TEXT NOT NULL,
        run_at INTEGER NOT NULL,
        payload TEXT NOT NULL
    )
    """,
    # The active skill of an agent (with or without a workflow) and an agent's skills.
    "CREATE INDEX idx_skills_agent ON skills (agent, status, workflow, score DESC)",
    # Walking a lineage down from its root.
    "CREATE INDEX idx_skills_parent ON skills (parent_id)",
    "CREATE INDEX idx_skills_created ON skills (created_at, seq)",
    # Listings are newest first; both end with that order so a limit stops early.
    "CREATE INDEX idx_traces_workflow ON traces (workflow_name, run_at DESC, id DESC)",
    "CREATE INDEX idx_traces_run_at ON traces (run_at DESC, id DESC)",
)

_V2 = (
    "ALTER TABLE traces ADD COLUMN has_feedback INTEGER NOT NULL DEFAULT 0",
    "UPDATE traces SET has_feedback = json_array_length(payload, '$.feedback') > 0",
    "CREATE INDEX idx_traces_feedback ON traces (has_feedback, run_at DESC, id DESC)",
)


def _statements(statements: tuple[str, ...]) -> Migration:
    async def apply(conn: aiosqlite.Connection) -> None:
        for statement in statements:
            await conn.execute(statement)

    return apply


MIGRATIONS: Mapping[int, Migration] = {1: _statements(_V1), 2: _statements(_V2)}
SCHEMA_VERSION = max(MIGRATIONS)


class SchemaVersionError(LearningStoreError):
    """The file was written by a newer ageflow-learning-sqlite than this one."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"the learning store {path} is at schema version {found}, but this "
            f"ageflow-learning-sqlite supports up to version {supported}: upgrade it"
        )
        self.path = path
        self.found = found
        self.supported = supported


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The file's version; 0 for a new file."""
    tables = await conn.execute_fetchall(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    )
    if not list(tables):
        return 0
    rows = list(await conn.execute_fetchall("SELECT value FROM meta WHERE key = 'schema_version'"))
    return int(rows[0][0]) if rows else 0


async def migrate(conn: aiosqlite.Connection, path: str, target: int = SCHEMA_VERSION) -> int:
    """Bring the file up to ``target``; returns the version it was at.

    The connection must be in autocommit mode. ``BEGIN IMMEDIATE`` takes the write lock
    before the version is read, so two processes opening one new file do not both
    migrate it.
    """
    await conn.execute("BEGIN IMMEDIATE")
    try:
        found = await schema_version(conn)
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(path, found, SCHEMA_VERSION)
        for version in range(found + 1, target + 1):
            await MIGRATIONS[version](conn)
        if target > found:
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(target),),
            )
        await conn.execute("COMMIT")
    except BaseException:
        with anyio.CancelScope(shield=True):  # never leave the transaction open
            await conn.execute("ROLLBACK")
        raise
    return found
