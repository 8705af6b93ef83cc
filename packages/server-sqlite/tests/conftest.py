"""Builders shared by the SQLite store tests (as fixtures: tests import no conftest).

They are the store contract's own builders (``ageflow.testing.store_contract``).
"""

from __future__ import annotations

from typing import Any

import pytest

from ageflow.testing import store_contract


@pytest.fixture
def anyio_backend() -> str:
    # The store runs under trio too (one test says so); the rest run on asyncio.
    return "asyncio"


@pytest.fixture
def make_record() -> Any:
    return store_contract.make_record


@pytest.fixture
def rich_record() -> Any:
    return store_contract.rich_record


@pytest.fixture
def make_step() -> Any:
    return store_contract.make_step
