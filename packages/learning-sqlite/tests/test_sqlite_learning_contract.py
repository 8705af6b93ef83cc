"""The learning store contract (``ageflow.learning.testing``) on an SQLite file and on
SQLite ``:memory:``: the same tests the in-memory stores pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ageflow.learning import SkillStore, TraceStore
from ageflow.learning.testing import SkillStoreContract, TraceStoreContract
from ageflow.learning_sqlite import LearningDatabase


class TestSqliteFileSkillStore(SkillStoreContract):
    @pytest.fixture
    async def skill_store(self, tmp_path: Path) -> AsyncIterator[SkillStore]:
        async with LearningDatabase(tmp_path / "learning.sqlite") as db:
            yield db.skills


class TestSqliteMemorySkillStore(SkillStoreContract):
    @pytest.fixture
    async def skill_store(self) -> AsyncIterator[SkillStore]:
        async with LearningDatabase(":memory:") as db:
            yield db.skills


class TestSqliteFileTraceStore(TraceStoreContract):
    @pytest.fixture
    async def trace_store(self, tmp_path: Path) -> AsyncIterator[TraceStore]:
        async with LearningDatabase(tmp_path / "learning.sqlite") as db:
            yield db.traces


class TestSqliteMemoryTraceStore(TraceStoreContract):
    @pytest.fixture
    async def trace_store(self) -> AsyncIterator[TraceStore]:
        async with LearningDatabase(":memory:") as db:
            yield db.traces
