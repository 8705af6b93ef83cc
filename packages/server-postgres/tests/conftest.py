"""A real PostgreSQL server for this package's tests, started once per test session.

Each test gets a store in a schema of its own, so tests never see each other's runs. The
replica tests share replica_cluster.py (importable: this folder goes on sys.path).
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from ageflow.server_postgres import PostgresRunStore
from ageflow.testing.postgres_server import PostgresServer

HERE = os.path.dirname(__file__)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

_schemas = itertools.count()


@pytest.fixture
def anyio_backend() -> str:
    # asyncpg is built on asyncio.
    return "asyncio"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    # Fails (PostgresUnavailableError) when the server binaries are missing: never skips.
    with PostgresServer() as server:
        yield server


@pytest.fixture
def schema() -> str:
    return f"test_{next(_schemas)}"


@pytest.fixture
async def pg_store(postgres: PostgresServer, schema: str) -> AsyncIterator[PostgresRunStore]:
    async with PostgresRunStore(postgres.dsn, schema=schema, max_size=4) as store:
        yield store
