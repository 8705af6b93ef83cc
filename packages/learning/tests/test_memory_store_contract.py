"""The learning store contract against the in-memory stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ageflow.learning import InMemorySkillStore, InMemoryTraceStore, SkillStore, TraceStore
from ageflow.learning.testing import SkillStoreContract, TraceStoreContract


class TestInMemorySkillStore(SkillStoreContract):
    @pytest.fixture
    async def skill_store(self) -> AsyncIterator[SkillStore]:
        store = InMemorySkillStore()
        yield store
        await store.close()


class TestInMemoryTraceStore(TraceStoreContract):
    @pytest.fixture
    async def trace_store(self) -> AsyncIterator[TraceStore]:
        store = InMemoryTraceStore()
        yield store
        await store.close()
