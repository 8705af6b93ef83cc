from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    # The in-memory stores only use anyio, so they run on both backends.
    return str(request.param)
