"""ageflow.testing: test kit for ageflow workflows.

- ``create_test_harness(workflow)``: run a workflow against canned agent answers.
- ``MockRunner`` / ``ScriptedRunner``: runners for tests, by task name or by function.
- ``FakeCli`` (fixture ``fake_cli``): fake ``claude`` and ``codex`` executables on PATH.
- ``spawn_mock_mcp_server``: an MCP server with echo, error, crash and hang behaviours.
"""

from ageflow.testing.harness import TestHarness, create_test_harness, runner_names
from ageflow.testing.mock_runner import MockRaw, MockRunner, MockThrow, TaskStats
from ageflow.testing.scripted_runner import ScriptedRunner

__all__ = [
    "MockRaw",
    "MockRunner",
    "MockThrow",
    "ScriptedRunner",
    "TaskStats",
    "TestHarness",
    "create_test_harness",
    "runner_names",
]
