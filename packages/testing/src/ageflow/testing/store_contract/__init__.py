"""The RunStore contract: one test suite every run store must pass.

Subclass ``RunStoreContract`` in a test module and give it a ``store`` fixture that yields
a fresh, empty store (closed after the test); pytest then runs every contract test against
it. The in-memory, SQLite and PostgreSQL stores all run this same suite, so the server
runner behaves alike on each::

    class TestMyStore(RunStoreContract):
        @pytest.fixture
        async def store(self) -> AsyncIterator[RunStore]:
            async with MyStore(...) as made:
                yield made

The builders (``make_record``, ``rich_record``, ``make_step``, ``stored``) are exported
for a backend's own tests.
"""

from __future__ import annotations

from ageflow.testing.store_contract._builders import make_record, make_step, rich_record, stored
from ageflow.testing.store_contract._journal import JournalContract
from ageflow.testing.store_contract._runs import RunsContract


class RunStoreContract(RunsContract, JournalContract):
    """Every contract test; a subclass provides the ``store`` fixture."""


__all__ = ["RunStoreContract", "make_record", "make_step", "rich_record", "stored"]
