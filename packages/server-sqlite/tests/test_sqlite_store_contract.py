"""The RunStore contract (``ageflow.testing.store_contract``), run against the in-memory
store, an SQLite file and SQLite ``:memory:``.

The stores must behave alike, so the runner can be tested on the in-memory one and
deployed on SQLite. The PostgreSQL store runs the same suite in its own package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ageflow.server import InMemoryRunStore, RunStore
from ageflow.server_sqlite import SqliteRunStore
from ageflow.testing.store_contract import RunStoreContract

pytestmark = pytest.mark.anyio


async def _checked(made: RunStore) -> AsyncIterator[RunStore]:
    assert isinstance(made, RunStore)
    yield made
    await made.close()


class TestInMemoryStore(RunStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[RunStore]:
        async for made in _checked(InMemoryRunStore()):
            yield made


class TestSqliteFileStore(RunStoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[RunStore]:
        async for made in _checked(SqliteRunStore(tmp_path / "runs.sqlite")):
            yield made


class TestSqliteMemoryStore(RunStoreContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[RunStore]:
        async for made in _checked(SqliteRunStore(":memory:")):
            yield made
