"""The HTTP transport's session table: each client's SDK session, and routing to it.

A checked request goes to the session its ``Mcp-Session-Id`` names, to the sessionless
2026-07-28 path, or opens a session when it is an initialize POST. A session is an SDK
Streamable HTTP transport running the one SDK server until it ends, idles out or the
transport stops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import uuid4

import anyio
import anyio.abc
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER, StreamableHTTPServerTransport
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from ageflow.mcp_server.event_store import SqliteEventStore
from ageflow.mcp_server.http_asgi import (
    answer_and_report_status,
    method_of,
    request_id_of,
    send_json,
    with_headers,
)
from ageflow.mcp_server.http_modern import is_modern, serve_modern
from ageflow.mcp_server.http_options import HttpOptions
from ageflow.mcp_server.http_resume import (
    at_session_version,
    refused_last_event_id,
    requested_version,
)
from ageflow.mcp_server.server import McpServer

_JSONRPC_INVALID_REQUEST = -32600


class SessionTable:
    """The open sessions of one :class:`HttpTransport`, by session id."""

    def __init__(self, server: McpServer, options: HttpOptions, say: Callable[[str], None]) -> None:
        self._server = server
        self._options = options
        self._say = say
        self.sessions: dict[str, StreamableHTTPServerTransport] = {}
        self.versions: dict[str, str] = {}  # what each session negotiated
        self.task_group: anyio.abc.TaskGroup | None = None
        self.events: SqliteEventStore | None = None

    async def route(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Headers,
        message: Any,
        ip: str,
        cors: list[tuple[str, str]],
        audit: Callable[[str, str | None, str | None], None],
    ) -> None:
        """Hand a checked request to its session, or open one for an initialize POST."""
        method = scope["method"]
        cors_send = with_headers(send, cors)
        session_id = headers.get(MCP_SESSION_ID_HEADER)
        if session_id is None and is_modern(headers):
            # Protocol 2026-07-28: no session, one self-contained request per POST.
            await serve_modern(self._server.server, scope, receive, cors_send, headers, message)
            return
        if session_id is not None:
            transport = self.sessions.get(session_id)
            if transport is None:
                await send_json(send, 404, {"error": "Session not found"}, cors)
                return
            if method == "GET" and await refused_last_event_id(
                self.events, session_id, headers, send, cors
            ):
                return
            scope = at_session_version(scope, self.versions.get(session_id))
            await transport.handle_request(scope, receive, cors_send)
            if transport.is_terminated:
                # The client ended the session (DELETE): free its slot now.
                await self.discard(session_id, transport)
            return
        if method != "POST":
            await send_json(send, 400, {"error": "Missing Mcp-Session-Id header"}, cors)
            return
        if method_of(message) != "initialize" or request_id_of(message) is None:
            # Only an initialize request can open a session; anything else allocates
            # nothing (D34), so bogus requests cannot use up max_sessions.
            await send_json(
                send,
                400,
                {
                    "jsonrpc": "2.0",
                    "id": request_id_of(message),
                    "error": {
                        "code": _JSONRPC_INVALID_REQUEST,
                        "message": "Bad Request: Mcp-Session-Id header required; only an "
                        "initialize request may open a session",
                    },
                },
                cors,
            )
            return
        if len(self.sessions) >= self._options.max_sessions:
            audit(ip, "initialize", None)
            await send_json(send, 429, {"error": "Too Many Sessions"}, cors)
            return
        await self.open_session(scope, receive, cors_send, requested_version(message))

    async def open_session(
        self, scope: Scope, receive: Receive, send: Send, version: str | None
    ) -> None:
        """Create a session for an initialize request; keep it only if that succeeds."""
        task_group = self.task_group
        if task_group is None:
            raise RuntimeError("HttpTransport is not serving")
        session_id = uuid4().hex
        transport = StreamableHTTPServerTransport(
            mcp_session_id=session_id,
            idle_timeout=self._options.session_idle_seconds,
            event_store=None if self.events is None else self.events.for_session(session_id),
            retry_interval=self._options.sse_retry_ms,
        )
        # Registered before answering so concurrent initializes cannot pass max_sessions.
        self.sessions[session_id] = transport
        if version is not None:
            self.versions[session_id] = version
        established = False
        try:
            await task_group.start(self._run, session_id, transport)
            status = await answer_and_report_status(transport.handle_request, scope, receive, send)
            established = status is not None and status < 400
        finally:
            if not established:
                await self.discard(session_id, transport)

    async def _run(
        self,
        session_id: str,
        transport: StreamableHTTPServerTransport,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        sdk_server = self._server.server
        try:
            async with transport.connect() as (read_stream, write_stream):
                task_status.started()
                # The transport cancels this scope once no request has been in flight
                # for session_idle_seconds, which ends the session (D34).
                idle_scope = transport.idle_scope or anyio.CancelScope()
                with idle_scope:
                    await sdk_server.run(
                        read_stream, write_stream, sdk_server.create_initialization_options()
                    )
        except Exception as exc:
            self._say(f"session {session_id} failed: {exc!r}")
        finally:
            await self.discard(session_id, transport)

    async def discard(self, session_id: str, transport: StreamableHTTPServerTransport) -> None:
        """Forget the session at once (its id answers 404 from now) and close it."""
        if self.sessions.get(session_id) is transport:
            del self.sessions[session_id]
            self.versions.pop(session_id, None)
        if not transport.is_terminated:
            with anyio.CancelScope(shield=True):
                await transport.terminate()
        if self.events is not None:
            with anyio.CancelScope(shield=True):
                await self.events.forget(session_id)

    async def close_all(self) -> None:
        for session_id, transport in list(self.sessions.items()):
            await self.discard(session_id, transport)
