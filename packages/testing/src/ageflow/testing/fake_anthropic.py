"""A fake Anthropic Messages API on 127.0.0.1: real HTTP, scripted answers, recorded requests.

``FakeAnthropic()`` starts a stdlib ``ThreadingHTTPServer`` in a background thread, so it
answers whatever event loop (or none) the test uses; ``base_url`` is the server root, as
the ``anthropic`` SDK expects (it appends ``/v1/messages``). Script ``POST /v1/messages``
answers in order (``reply``, ``use_tools``, ``respond``, ``error``, ``overloaded``,
``raw``, ``hang``); a message request with nothing scripted gets a 500 ``api_error``.
``GET /v1/models`` answers ``models_response``. With ``api_key=`` set, a request whose
``x-api-key`` differs gets the API's 401 ``authentication_error`` (the script is kept).
Every request is kept in ``requests`` (``message_requests`` for the message ones); a
hanging answer notices when the client closes the connection (``disconnected``).
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ageflow.testing.fake_openai import RecordedRequest, Scripted

__all__ = ["FakeAnthropic", "RecordedRequest", "Scripted", "tool_use"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_HANG_LIMIT_S = 30.0  # a hanging handler gives up by itself, so no thread outlives a test run


def tool_use(block_id: str, name: str, input: dict[str, Any]) -> dict[str, Any]:
    """A ``tool_use`` content block as the API sends it."""
    return {"type": "tool_use", "id": block_id, "name": name, "input": input}


def _error_body(kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def _credentials(headers: list[tuple[str, str]]) -> list[str]:
    """The keys a request carries: ``x-api-key`` values and ``Authorization`` bearer tokens
    (SDK releases differ in which one they send)."""
    found = [value for key, value in headers if key.lower() == "x-api-key"]
    for key, value in headers:
        if key.lower() == "authorization" and value.lower().startswith("bearer "):
            found.append(value[len("bearer ") :])
    return found


def _usage(usage: tuple[int, int] | dict[str, int] | None) -> dict[str, int] | None:
    if usage is None or isinstance(usage, dict):
        return usage
    return {"input_tokens": usage[0], "output_tokens": usage[1]}


class FakeAnthropic:
    """Scripted ``/v1/messages`` and ``/v1/models`` on a free port of 127.0.0.1."""

    def __init__(self, *, api_key: str | None = None, model: str = "claude-sonnet-4-6") -> None:
        self.api_key = api_key
        self.model = model
        self.requests: list[RecordedRequest] = []
        self.messages_script: deque[Scripted] = deque()
        self.models_response = Scripted(
            body={
                "data": [{"type": "model", "id": model, "display_name": model}],
                "has_more": False,
                "first_id": model,
                "last_id": model,
            }
        )
        self.disconnected = threading.Event()
        """Set when a client closed its connection while an answer was hanging."""
        self._received = threading.Condition()
        self._release = threading.Event()  # lets hanging handlers end when the fake closes
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    # -- scripting ---------------------------------------------------------------------

    def reply(
        self,
        text: str,
        *,
        usage: tuple[int, int] | dict[str, int] | None = (4, 3),
        stop_reason: str = "end_turn",
    ) -> None:
        """Answer the next message request with one text block."""
        self.respond([{"type": "text", "text": text}], stop_reason=stop_reason, usage=usage)

    def use_tools(
        self,
        *blocks: dict[str, Any],
        text: str | None = None,
        usage: tuple[int, int] | dict[str, int] | None = (1, 1),
    ) -> None:
        """Answer the next message request with ``tool_use`` blocks (see ``tool_use``),
        after an optional text block, and ``stop_reason: tool_use``."""
        content = ([{"type": "text", "text": text}] if text else []) + list(blocks)
        self.respond(content, stop_reason="tool_use", usage=usage)

    def respond(
        self,
        content: list[dict[str, Any]],
        *,
        stop_reason: str | None = "end_turn",
        usage: tuple[int, int] | dict[str, int] | None = (4, 3),
    ) -> None:
        """Answer the next message request with ``content`` blocks. ``usage`` is
        (input, output) tokens, a dict of usage fields (cache tokens too), or None."""
        body: dict[str, Any] = {
            "id": f"msg_{len(self.messages_script) + len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
        }
        shaped = _usage(usage)
        if shaped is not None:
            body["usage"] = shaped
        self.messages_script.append(Scripted(body=body))

    def error(
        self,
        status: int,
        message: str = "boom",
        *,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next message request with the API's error JSON and ``status``."""
        body = _error_body(error_type or _ERROR_TYPES.get(status, "api_error"), message)
        self.messages_script.append(Scripted(status=status, body=body, headers=headers or {}))

    def overloaded(self, *, retry_after: str | None = None) -> None:
        """Answer the next message request with 529 ``overloaded_error``."""
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        self.error(529, "Overloaded", headers=headers)

    def raw(self, status: int, body: str) -> None:
        """Answer the next message request with ``body`` as it is (malformed JSON, say)."""
        self.messages_script.append(Scripted(status=status, body=body))

    def hang(self) -> None:
        """Never answer the next message request (until the client leaves or the fake closes)."""
        self.messages_script.append(Scripted(hang=True))

    # -- reading back ------------------------------------------------------------------

    @property
    def message_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?")[0].endswith("/v1/messages")]

    def wait_for_requests(self, count: int, timeout_s: float = 10.0) -> bool:
        """Block until ``count`` requests arrived (True) or ``timeout_s`` passed (False)."""
        with self._received:
            return self._received.wait_for(lambda: len(self.requests) >= count, timeout_s)

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeAnthropic:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- serving -----------------------------------------------------------------------

    def _next_answer(self, path: str, headers: list[tuple[str, str]]) -> Scripted:
        if self.api_key is not None and _credentials(headers) != [self.api_key]:
            return Scripted(
                status=401, body=_error_body("authentication_error", "invalid x-api-key")
            )
        if path.split("?")[0].endswith("/v1/models"):
            return self.models_response
        if self.messages_script:
            return self.messages_script.popleft()
        return Scripted(status=500, body=_error_body("api_error", "script exhausted"))

    def _wait_while_connected(self, connection: socket.socket) -> None:
        """Hold a hanging answer until the fake closes or the client goes away."""
        deadline = time.monotonic() + _HANG_LIMIT_S
        while time.monotonic() < deadline and not self._release.is_set():
            readable, _, _ = select.select([connection], [], [], 0.02)
            if readable:
                try:
                    peeked = connection.recv(1, socket.MSG_PEEK)
                except OSError:
                    peeked = b""
                if not peeked:
                    self.disconnected.set()
                    return

    def _record(self, request: RecordedRequest) -> None:
        with self._received:
            self.requests.append(request)
            self._received.notify_all()

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
                scripted = fake._next_answer(self.path, headers)
                fake._record(RecordedRequest(self.command, self.path, headers, body))
                if scripted.hang:
                    fake._wait_while_connected(self.connection)
                    self.close_connection = True
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
