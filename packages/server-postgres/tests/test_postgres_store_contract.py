"""The RunStore contract (``ageflow.testing.store_contract``) on a real PostgreSQL server:
the same suite the in-memory and SQLite stores pass."""

from __future__ import annotations

import pytest

from ageflow.server import RunStore
from ageflow.server_postgres import PostgresRunStore
from ageflow.testing.store_contract import RunStoreContract

pytestmark = pytest.mark.anyio


class TestPostgresStore(RunStoreContract):
    @pytest.fixture
    def store(self, pg_store: PostgresRunStore) -> RunStore:
        assert isinstance(pg_store, RunStore)
        return pg_store
