"""Live check against the real Anthropic API; runs only when ``ANTHROPIC_API_KEY`` is set.

``AGEFLOW_TEST_ANTHROPIC_MODEL`` picks the model (default ``claude-haiku-4-5``).
"""

from __future__ import annotations

import os

import pytest

from ageflow.core.runner import RunnerSpawnArgs
from ageflow.runners.anthropic import AnthropicRunner

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(not os.environ.get("ANTHROPIC_API_KEY"), reason="ANTHROPIC_API_KEY not set"),
]


async def test_live_answer_and_session():
    model = os.environ.get("AGEFLOW_TEST_ANTHROPIC_MODEL", "claude-haiku-4-5")
    async with AnthropicRunner(model=model, max_tokens=64, max_retries=2) as runner:
        assert (await runner.validate()).ok
        first = await runner.spawn(RunnerSpawnArgs(prompt="Reply with the single word: pong"))
        second = await runner.spawn(
            RunnerSpawnArgs(
                prompt="Repeat the word you just said, nothing else.",
                session_handle=first.session_handle,
            )
        )
    assert "pong" in first.stdout.lower()
    assert "pong" in second.stdout.lower()
    assert first.tokens_in > 0 and first.tokens_out > 0
