"""pytest plugin of ageflow-testing (registered as a ``pytest11`` entry point).

Fixtures:

- ``fake_cli``: fake ``claude`` and ``codex`` executables first on PATH (a ``FakeCli``);
- ``fake_cli_pids``: shims before the fakes that report each started process's pid
  (``await fake_cli_pids.next_pid()``); pair it with ``ageflow.testing.process_gone``;
- ``mock_mcp_server``: an async factory of in-process mock MCP servers, stopped after the
  test (needs the anyio plugin, i.e. an ``@pytest.mark.anyio`` test);
- ``fake_openai``: a fake OpenAI-compatible API on 127.0.0.1 (a ``FakeOpenAI``).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from ageflow.testing.fake_cli import CONFIG_ENV, FakeCli
from ageflow.testing.fake_openai import FakeOpenAI
from ageflow.testing.mock_mcp_server import (
    MockMcpServerHandle,
    MockMcpServerOpts,
    spawn_mock_mcp_server,
)
from ageflow.testing.processes import StartedPids

MockMcpServerFactory = Callable[[MockMcpServerOpts], Awaitable[MockMcpServerHandle]]


@pytest.fixture
def fake_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCli:
    """Fake ``claude``/``codex`` on PATH for this test; child processes find them by name."""
    fake = FakeCli.install(tmp_path / "fake-cli")
    monkeypatch.setenv("PATH", fake.path_with_bin())
    monkeypatch.setenv(CONFIG_ENV, str(fake.config_path))
    return fake


@pytest.fixture
def fake_cli_pids(
    tmp_path: Path, fake_cli: FakeCli, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartedPids]:
    """The pid of each fake CLI process as it starts, to check later that it was killed."""
    pids = StartedPids(tmp_path / "pid-shims", fake_cli)
    monkeypatch.setenv("PATH", f"{pids.directory}{os.pathsep}{os.environ['PATH']}")
    yield pids
    pids.close()


@pytest.fixture
async def mock_mcp_server(anyio_backend: object) -> AsyncIterator[MockMcpServerFactory]:
    """``await mock_mcp_server(opts)`` starts an in-process mock; all are stopped at teardown."""
    async with AsyncExitStack() as stack:

        async def spawn(opts: MockMcpServerOpts) -> MockMcpServerHandle:
            handle = await spawn_mock_mcp_server(opts)
            stack.push_async_callback(handle.stop)
            return handle

        yield spawn


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI-compatible API for this test (``base_url`` ends in ``/v1``)."""
    with FakeOpenAI() as fake:
        yield fake
