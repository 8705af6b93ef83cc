"""Helpers for the Anthropic runner tests.

The fake Messages API is ageflow-testing's ``FakeAnthropic``: real HTTP on 127.0.0.1,
scripted answers in order, every request recorded. MCP servers are the test kit's mock
server, started as real stdio subprocesses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ageflow.core.mcp import McpServerConfig
from ageflow.testing.fake_anthropic import FakeAnthropic
from ageflow.testing.mock_mcp_server import (
    MockMcpServerOpts,
    MockToolSpec,
    mock_mcp_subprocess_command,
)

KEY = "sk-ant-test"


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    """A fake Messages API that accepts only the key ``KEY``."""
    with FakeAnthropic(api_key=KEY) as fake:
        yield fake


def mock_mcp_config(
    name: str = "mock", tools: list[MockToolSpec] | None = None, **kwargs: Any
) -> McpServerConfig:
    """A config that starts the test kit's mock MCP server as a stdio subprocess."""
    opt_keys = {"crash_on", "hang_on", "is_error_on"}
    opts = MockMcpServerOpts(
        tools=tools or [MockToolSpec("echo", description="Echo the text back")],
        **{k: v for k, v in kwargs.items() if k in opt_keys},
    )
    cmd = mock_mcp_subprocess_command(opts)
    rest = {k: v for k, v in kwargs.items() if k not in opt_keys}
    return McpServerConfig(name=name, command=cmd.command, args=list(cmd.args), **rest)


@pytest.fixture
def mcp_config_factory() -> Any:
    return mock_mcp_config
