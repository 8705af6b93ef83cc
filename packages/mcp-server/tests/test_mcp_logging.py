"""The run's events as MCP log messages, from real server processes (stdio and HTTP).

The server is tests/mcp_logging_child.py (``chatty`` retries, warns about its budget and
waits at an auto-approved checkpoint; ``broken`` fails) or ``ageflow mcp serve`` itself
for ``--log-level``. The clients are the SDK's, with a logging callback.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp.types as types
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp_processes import child_env, http_process, python_child

from ageflow.core.events import ErrorInfo, TaskErrorEvent
from ageflow.mcp_server.logging_bridge import LOG_LEVELS, event_log, parse_log_level

pytestmark = [
    pytest.mark.anyio,
    # The SDK flags logging/setLevel as deprecated for the 2026-07-28 protocol only.
    pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning"),
]

CHATTY_AT_INFO = [
    ("info", "task:start", "draft"),
    ("warning", "task:retry", "draft"),
    ("warning", "budget:warning", None),
    ("info", "task:complete", "draft"),
    ("notice", "checkpoint", "publish"),
    ("info", "task:start", "publish"),
    ("info", "task:complete", "publish"),
    ("info", "workflow:complete", None),
]


class Recorder:
    """The log messages and progress notifications a client received."""

    def __init__(self) -> None:
        self.logs: list[types.LoggingMessageNotificationParams] = []
        self.progress: list[str] = []

    async def on_log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params)

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append(str(message))

    def take(self) -> list[tuple[str, str, str | None]]:
        seen = [(p.level, p.data["event"], p.data.get("task")) for p in self.logs]
        self.logs.clear()
        return seen


@asynccontextmanager
async def stdio_client(recorder: Recorder, *args: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=sys.executable,
        args=python_child("mcp_logging_child.py", "stdio", *args)[1:],
        env=child_env(),
    )
    async with Client(params, mode="legacy", logging_callback=recorder.on_log) as client:
        yield client


async def call(client: Client, recorder: Recorder, tool: str, topic: str) -> Any:
    return await client.call_tool(tool, {"topic": topic}, progress_callback=recorder.on_progress)


async def test_stdio_logs_each_event_at_its_level_beside_progress_and_honours_set_level(
    tmp_path: Path,
) -> None:
    recorder = Recorder()
    async with stdio_client(recorder) as client:
        capabilities = client.session.server_capabilities
        assert capabilities is not None and capabilities.logging is not None

        result = await call(client, recorder, "chatty", "cats")
        assert result.is_error is False, result
        assert recorder.take() == CHATTY_AT_INFO  # default level info: no debug
        # The progress notifications are still there, one per phase.
        phases = [message.split(":")[0] for message in recorder.progress]
        assert "task_started" in phases and "awaiting_approval" in phases

        await client.set_logging_level("warning")
        result = await call(client, recorder, "chatty", "dogs")
        assert recorder.take() == [
            ("warning", "task:retry", "draft"),
            ("warning", "budget:warning", None),
        ]
        result = await call(client, recorder, "broken", "rain")
        assert result.is_error is True
        failed = recorder.logs
        assert [(p.level, p.data["event"]) for p in failed] == [
            ("error", "task:error"),
            ("error", "workflow:error"),
        ]
        assert failed[0].logger == "ageflow.broken"
        assert "cannot write about rain" in failed[0].data["message"]
        recorder.take()

        await client.set_logging_level("debug")
        await call(client, recorder, "chatty", "owls")
        assert recorder.take()[0] == ("debug", "workflow:start", None)


async def test_the_server_default_level_is_the_child_argument(tmp_path: Path) -> None:
    recorder = Recorder()
    async with stdio_client(recorder, "error") as client:
        await call(client, recorder, "chatty", "cats")
        assert recorder.take() == []  # nothing at error level happened
        await call(client, recorder, "broken", "cats")
        assert [level for level, _, _ in recorder.take()] == ["error", "error"]


async def test_http_levels_are_per_session(tmp_path: Path) -> None:
    quiet, chatty = Recorder(), Recorder()
    async with (
        http_process(python_child("mcp_logging_child.py", "http")) as url,
        Client(url, mode="legacy", logging_callback=quiet.on_log) as first,
        Client(url, mode="legacy", logging_callback=chatty.on_log) as second,
    ):
        await first.set_logging_level("error")
        await call(first, quiet, "chatty", "cats")
        await call(second, chatty, "chatty", "dogs")
        assert quiet.take() == []
        assert chatty.take() == CHATTY_AT_INFO
        # Each call's messages went to its own client only.
        await call(first, quiet, "broken", "rain")
        assert [event for _, event, _ in quiet.take()] == ["task:error", "workflow:error"]
        assert chatty.take() == []


@asynccontextmanager
async def served_by_cli(tmp_path: Path, recorder: Recorder, *flags: str) -> AsyncIterator[Client]:
    workflow = tmp_path / "greet_workflow.py"
    workflow.write_text(
        "from mcp_greeting import greeting_workflow\n\nworkflow = greeting_workflow('greet')\n"
    )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "ageflow.cli", "mcp", "serve", str(workflow), *flags],
        env=child_env(),
        cwd=str(tmp_path),
    )
    async with Client(params, mode="legacy", logging_callback=recorder.on_log) as client:
        yield client


async def test_cli_log_level_flag_sets_the_default(tmp_path: Path) -> None:
    recorder = Recorder()
    async with served_by_cli(tmp_path, recorder, "--log-level", "DEBUG") as client:
        assert (await client.call_tool("greet", {"name": "Al"})).is_error is False
        events = recorder.take()
        assert events[0] == ("debug", "workflow:start", None)
        assert events[-1] == ("info", "workflow:complete", None)
    async with served_by_cli(tmp_path, recorder, "--log-level", "warning") as client:
        assert (await client.call_tool("greet", {"name": "Al"})).is_error is False
        assert recorder.take() == []


def test_cli_rejects_an_unknown_log_level_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ageflow.cli", "mcp", "serve", "wf.py", "--log-level", "loud"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "--log-level must be one of: debug | info | notice" in done.stderr
    assert "loud" in done.stderr and "Traceback" not in done.stderr


def test_level_names_and_order() -> None:
    assert LOG_LEVELS[0] == "debug" and LOG_LEVELS[-1] == "emergency"
    assert parse_log_level(" Warning ") == "warning"
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        parse_log_level("loud")


def test_every_event_type_has_a_level_and_a_message() -> None:
    retried = TaskErrorEvent(
        run_id="r",
        workflow_name="w",
        task_name="t",
        error=ErrorInfo(name="E", message="m"),
        attempt=1,
        terminal=False,
    )
    level, data = event_log(retried)
    assert level == "warning" and data["terminal"] is False
    final = retried.model_copy(update={"terminal": True})
    assert event_log(final)[0] == "error"
    assert data["message"] == "task t failed: m" and data["runId"] == "r"
