"""ageflow.testing: test kit for ageflow workflows.

- ``create_test_harness(workflow)``: run a workflow against canned agent answers.
- ``MockRunner`` / ``ScriptedRunner``: runners for tests, by task name or by function.
- ``FakeCli`` (fixture ``fake_cli``): fake ``claude`` and ``codex`` executables on PATH.
- ``FakeOpenAI`` (fixture ``fake_openai``): a fake OpenAI-compatible API over real HTTP.
- ``FakeAnthropic``: a fake Anthropic Messages API over real HTTP.
- ``spawn_mock_mcp_server``: an MCP server with echo, error, crash and hang behaviours.

Names load on first use: the pytest plugin imports this package in every test session, and
the MCP SDK alone takes seconds to import.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "TestHarness": "ageflow.testing.harness",
    "create_test_harness": "ageflow.testing.harness",
    "runner_names": "ageflow.testing.harness",
    "MockRaw": "ageflow.testing.mock_runner",
    "MockRunner": "ageflow.testing.mock_runner",
    "MockThrow": "ageflow.testing.mock_runner",
    "TaskStats": "ageflow.testing.mock_runner",
    "ScriptedRunner": "ageflow.testing.scripted_runner",
    "StartedPids": "ageflow.testing.processes",
    "process_gone": "ageflow.testing.processes",
    "FakeCli": "ageflow.testing.fake_cli",
    "FakeCall": "ageflow.testing.fake_cli",
    "FakeResponse": "ageflow.testing.fake_cli",
    "FakeOpenAI": "ageflow.testing.fake_openai",
    "RecordedRequest": "ageflow.testing.fake_openai",
    "tool_call": "ageflow.testing.fake_openai",
    "FakeAnthropic": "ageflow.testing.fake_anthropic",
    "tool_use": "ageflow.testing.fake_anthropic",
    "MockMcpServerOpts": "ageflow.testing.mock_mcp_config",
    "MockToolSpec": "ageflow.testing.mock_mcp_config",
    "SubprocessCommand": "ageflow.testing.mock_mcp_config",
    "spawn_mock_mcp_server": "ageflow.testing.mock_mcp_server",
    "mock_mcp_subprocess_command": "ageflow.testing.mock_mcp_server",
}

__all__ = [
    "FakeAnthropic",
    "FakeCall",
    "FakeCli",
    "FakeOpenAI",
    "FakeResponse",
    "MockMcpServerOpts",
    "MockRaw",
    "MockRunner",
    "MockThrow",
    "MockToolSpec",
    "RecordedRequest",
    "ScriptedRunner",
    "StartedPids",
    "SubprocessCommand",
    "TaskStats",
    "TestHarness",
    "create_test_harness",
    "mock_mcp_subprocess_command",
    "process_gone",
    "runner_names",
    "spawn_mock_mcp_server",
    "tool_call",
    "tool_use",
]

if TYPE_CHECKING:
    from ageflow.testing.fake_anthropic import FakeAnthropic, tool_use
    from ageflow.testing.fake_cli import FakeCall, FakeCli, FakeResponse
    from ageflow.testing.fake_openai import FakeOpenAI, RecordedRequest, tool_call
    from ageflow.testing.harness import TestHarness, create_test_harness, runner_names
    from ageflow.testing.mock_mcp_config import MockMcpServerOpts, MockToolSpec, SubprocessCommand
    from ageflow.testing.mock_mcp_server import mock_mcp_subprocess_command, spawn_mock_mcp_server
    from ageflow.testing.mock_runner import MockRaw, MockRunner, MockThrow, TaskStats
    from ageflow.testing.processes import StartedPids, process_gone
    from ageflow.testing.scripted_runner import ScriptedRunner


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ageflow.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
