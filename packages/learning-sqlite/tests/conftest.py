from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # aiosqlite is built on asyncio; the stores only run there.
    return "asyncio"
