"""Live checks against a real OpenAI-compatible API; skipped unless configured.

``AGEFLOW_TEST_API_URL`` and ``AGEFLOW_TEST_API_KEY`` (optional ``AGEFLOW_TEST_API_MODEL``,
default ``gpt-4o-mini``) select the endpoint.
"""

from __future__ import annotations

import os

import pytest

from ageflow.core.runner import RunnerSpawnArgs
from ageflow.runners.api import ApiRunner

URL = os.environ.get("AGEFLOW_TEST_API_URL")
KEY = os.environ.get("AGEFLOW_TEST_API_KEY")

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not (URL and KEY), reason="AGEFLOW_TEST_API_URL/KEY not set"),
]


async def test_live_completion():
    model = os.environ.get("AGEFLOW_TEST_API_MODEL", "gpt-4o-mini")
    async with ApiRunner(base_url=URL or "", api_key=KEY or "", model=model) as runner:
        assert (await runner.validate()).ok
        result = await runner.spawn(RunnerSpawnArgs(prompt="Reply with the single word: pong"))
    assert "pong" in result.stdout.lower()
    assert result.tokens_in > 0 and result.tokens_out > 0
