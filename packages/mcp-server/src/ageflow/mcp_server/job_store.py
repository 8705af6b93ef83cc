"""The job store a server (or ``ageflow jobs``) opens from one target string.

A ``postgresql://`` (or ``postgres://``) URL is a :class:`PostgresRunStore` that several
servers share (``?schema=NAME`` picks its schema, default ``ageflow``); anything else is a
SQLite file, created with its directory when missing (``":memory:"`` keeps jobs in memory).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ageflow.server import RunStore, RunStoreError
from ageflow.server_sqlite import SqliteRunStore

if TYPE_CHECKING:
    from ageflow.server_postgres import PostgresRunStore

DEFAULT_JOB_DB_PATH = Path(".ageflow") / "jobs.sqlite"
_POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres_url(target: str | os.PathLike[str] | None) -> bool:
    return target is not None and urlsplit(str(target)).scheme in _POSTGRES_SCHEMES


def postgres_store(url: str) -> PostgresRunStore:
    """The PostgreSQL store a URL names; ``schema`` is ours, the rest goes to asyncpg."""
    try:
        from ageflow.server_postgres import PostgresRunStore
    except ImportError as exc:  # an optional dependency
        raise RunStoreError(
            "a postgresql:// job store needs ageflow-server-postgres: "
            "pip install 'ageflow-mcp-server[postgres]'"
        ) from exc
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    rest = [(key, value) for key, value in query if key != "schema"]
    dsn = urlunsplit(parts._replace(query=urlencode(rest)))
    schema = schemas[-1] if schemas else "ageflow"
    if not schema or "\0" in schema:
        raise RunStoreError(f"the job store URL names an invalid schema: {schema!r}")
    return PostgresRunStore(dsn, schema=schema)


@asynccontextmanager
async def open_job_store(target: str | os.PathLike[str] | None) -> AsyncIterator[RunStore]:
    """Open the store ``target`` names (default ``.ageflow/jobs.sqlite``); closed on exit."""
    store: RunStore
    if is_postgres_url(target):
        store = await postgres_store(str(target)).open()
    else:
        path: str | os.PathLike[str] = DEFAULT_JOB_DB_PATH if target is None else target
        if str(path) not in (":memory:", ""):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        store = await SqliteRunStore(path).open()
    try:
        yield store
    finally:
        await store.close()
