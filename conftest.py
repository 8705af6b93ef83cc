"""Shared pytest configuration for the whole workspace."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # Library code uses anyio only; the suite runs on asyncio to stay fast on 2 cores.
    return "asyncio"
