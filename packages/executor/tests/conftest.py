from __future__ import annotations

import pytest

from ageflow.core import RunnerRegistry
from ageflow.testing.scripted_runner import ScriptedRunner


@pytest.fixture
def runner() -> ScriptedRunner:
    return ScriptedRunner()


@pytest.fixture
def registry(runner: ScriptedRunner) -> RunnerRegistry:
    return RunnerRegistry({"fake": runner})
