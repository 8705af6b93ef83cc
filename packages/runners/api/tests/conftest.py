"""A fake OpenAI-compatible server on 127.0.0.1 (real HTTP) and helpers for the API tests.

The server runs in a background thread (stdlib ``ThreadingHTTPServer``), so it answers
whatever event loop the test uses. Each test scripts its responses in order and reads
back what the runner sent.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ageflow.core.mcp import McpServerConfig
from ageflow.testing.mock_mcp_server import (
    MockMcpServerOpts,
    MockToolSpec,
    mock_mcp_subprocess_command,
)


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: Any

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


@dataclass
class Scripted:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


def tool_call(call_id: str, name: str, args: Any) -> dict[str, Any]:
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


class FakeOpenAI:
    """Scripted ``/v1/chat/completions`` and ``/v1/models``; unscripted requests get 500."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.chat_script: deque[Scripted] = deque()
        self.models_response = Scripted(body={"data": [{"id": "gpt-4o"}, {"id": "gpt-4o-mini"}]})
        self.release = threading.Event()  # lets hanging handlers finish at teardown
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                fake.requests.append(
                    RecordedRequest(self.command, self.path, list(self.headers.items()), body)
                )
                route = self.path.split("?")[0]
                if route.endswith("/models"):
                    scripted = fake.models_response
                elif fake.chat_script:
                    scripted = fake.chat_script.popleft()
                else:
                    scripted = Scripted(status=500, body={"error": "script exhausted"})
                if scripted.hang:
                    fake.release.wait(30)
                    return
                payload = (
                    scripted.body.encode()
                    if isinstance(scripted.body, str)
                    else json.dumps(scripted.body).encode()
                )
                self.send_response(scripted.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for key, value in scripted.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle
            do_POST = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    # -- scripting -----------------------------------------------------------------------

    def reply(self, text: str | None, *, usage: tuple[int, int] | None = (4, 3)) -> None:
        self.respond({"role": "assistant", "content": text}, usage=usage)

    def call_tools(self, *calls: dict[str, Any], usage: tuple[int, int] | None = (1, 1)) -> None:
        self.respond({"role": "assistant", "content": None, "tool_calls": list(calls)}, usage=usage)

    def respond(self, message: dict[str, Any], *, usage: tuple[int, int] | None) -> None:
        body: dict[str, Any] = {"id": "cmpl", "choices": [{"index": 0, "message": message}]}
        if usage is not None:
            body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1]}
        self.chat_script.append(Scripted(body=body))

    def error(self, status: int, body: str = "boom", headers: dict[str, str] | None = None) -> None:
        self.chat_script.append(Scripted(status=status, body=body, headers=headers or {}))

    def hang(self) -> None:
        self.chat_script.append(Scripted(hang=True))

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?")[0].endswith("/chat/completions")]

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI()
    try:
        yield server
    finally:
        server.close()


def mock_mcp_config(
    name: str = "mock",
    tools: list[MockToolSpec] | None = None,
    **kwargs: Any,
) -> McpServerConfig:
    """A config that starts the test kit's mock MCP server as a real stdio subprocess."""
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


@pytest.fixture
def make_tool_call() -> Any:
    return tool_call
