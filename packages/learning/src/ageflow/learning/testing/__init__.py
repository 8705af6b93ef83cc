"""The learning store contract: the tests every SkillStore and TraceStore must pass.

Subclass ``SkillStoreContract`` (with a ``skill_store`` fixture) or
``TraceStoreContract`` (with a ``trace_store`` fixture) in a test module; each fixture
yields a fresh, empty store. The in-memory stores and the SQLite ones run this same
suite, so the skill layer behaves alike on each::

    class TestMySkills(SkillStoreContract):
        @pytest.fixture
        async def skill_store(self) -> AsyncIterator[SkillStore]:
            store = MySkillStore()
            yield store
            await store.close()

The tests are marked for anyio; the module using them picks the backend with an
``anyio_backend`` fixture.
"""

from __future__ import annotations

from ageflow.learning.testing._builders import (
    at,
    make_skill,
    make_task_trace,
    make_trace,
    rich_trace,
)
from ageflow.learning.testing._skills import SkillStoreContract
from ageflow.learning.testing._traces import TraceStoreContract

__all__ = [
    "SkillStoreContract",
    "TraceStoreContract",
    "at",
    "make_skill",
    "make_task_trace",
    "make_trace",
    "rich_trace",
]
