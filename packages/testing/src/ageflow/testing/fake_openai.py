"""A fake OpenAI-compatible API on 127.0.0.1: real HTTP, scripted answers, recorded requests.

``FakeOpenAI()`` starts a stdlib ``ThreadingHTTPServer`` in a background thread, so it
answers whatever event loop (or none) the test uses; ``base_url`` ends in ``/v1``. Script
``POST /v1/chat/completions`` answers in order (``reply``, ``call_tools``, ``error``,
``hang``); a chat request with nothing scripted gets a 500. ``GET /v1/models`` answers
``models_response``. Every request is kept in ``requests`` (``chat_requests`` for the chat
ones). The pytest plugin's ``fake_openai`` fixture starts one per test and closes it after.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class RecordedRequest:
    """One request the fake received (``body`` parsed from JSON, or None when empty)."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: Any

    def header_values(self, name: str) -> list[str]:
        """The values of header ``name`` (case-insensitive), in the order sent."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


@dataclass
class Scripted:
    """One scripted answer: a status and body (a str is sent as is), extra headers, or a
    hang (no answer until the fake closes)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


def tool_call(call_id: str, name: str, args: Any) -> dict[str, Any]:
    """A ``tool_calls`` entry as the API sends it (``args`` JSON-encoded unless a str)."""
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


class FakeOpenAI:
    """Scripted ``/v1/chat/completions`` and ``/v1/models`` on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.chat_script: deque[Scripted] = deque()
        self.models_response = Scripted(body={"data": [{"id": "gpt-4o"}, {"id": "gpt-4o-mini"}]})
        self._release = threading.Event()  # lets hanging handlers end when the fake closes
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    # -- scripting ---------------------------------------------------------------------

    def reply(self, text: str | None, *, usage: tuple[int, int] | None = (4, 3)) -> None:
        """Answer the next chat request with an assistant message ``text``."""
        self.respond({"role": "assistant", "content": text}, usage=usage)

    def call_tools(self, *calls: dict[str, Any], usage: tuple[int, int] | None = (1, 1)) -> None:
        """Answer the next chat request with tool calls (see ``tool_call``)."""
        self.respond({"role": "assistant", "content": None, "tool_calls": list(calls)}, usage=usage)

    def respond(self, message: dict[str, Any], *, usage: tuple[int, int] | None) -> None:
        """Answer the next chat request with ``message``; ``usage`` is (prompt, completion)
        tokens, or None to leave usage out."""
        body: dict[str, Any] = {"id": "cmpl", "choices": [{"index": 0, "message": message}]}
        if usage is not None:
            body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1]}
        self.chat_script.append(Scripted(body=body))

    def error(self, status: int, body: str = "boom", headers: dict[str, str] | None = None) -> None:
        """Answer the next chat request with an HTTP error."""
        self.chat_script.append(Scripted(status=status, body=body, headers=headers or {}))

    def hang(self) -> None:
        """Never answer the next chat request (until the fake closes)."""
        self.chat_script.append(Scripted(hang=True))

    # -- reading back ------------------------------------------------------------------

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?")[0].endswith("/chat/completions")]

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- serving -----------------------------------------------------------------------

    def _next_answer(self, path: str) -> Scripted:
        if path.split("?")[0].endswith("/models"):
            return self.models_response
        if self.chat_script:
            return self.chat_script.popleft()
        return Scripted(status=500, body={"error": "script exhausted"})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                headers = list(self.headers.items())
                fake.requests.append(RecordedRequest(self.command, self.path, headers, body))
                scripted = fake._next_answer(self.path)
                if scripted.hang:
                    fake._release.wait(30)
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

        return Handler
