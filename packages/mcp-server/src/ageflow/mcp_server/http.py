"""The Streamable HTTP transport: many MCP clients over HTTP, sharing one :class:`McpServer`.

:func:`serve_http` validates :class:`HttpOptions`, binds the listener, opens
``server.running()`` (job store, recovery) and serves until cancelled. :class:`HttpTransport` is the
ASGI app behind it, which checks each request in a fixed order (client IP, ``Host``,
CORS preflight, ``Origin``, path, bearer auth, rate limit, body size, audit) before
routing it to the session named by its ``Mcp-Session-Id`` header. Every session is an SDK
Streamable HTTP transport running the one SDK server, so all clients share one
concurrency controller and one job service. The options live in ``http_options``, the
checks in ``http_security``, the ASGI plumbing in ``http_asgi``, the session table in
``_http_sessions``, the socket and embedded uvicorn in ``_http_listener``.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import anyio
import anyio.abc
import uvicorn
from mcp.server.streamable_http import StreamableHTTPServerTransport
from starlette.datastructures import Headers
from starlette.types import Message, Receive, Scope, Send

from ageflow.mcp_server._http_listener import EmbeddedUvicorn, bind, url_host
from ageflow.mcp_server._http_sessions import SessionTable
from ageflow.mcp_server.event_store import SqliteEventStore
from ageflow.mcp_server.http_asgi import (
    ClientGone,
    method_of,
    parse_json,
    read_body,
    replay_body,
    send_empty,
    send_json,
    send_text,
    tool_name_of,
)
from ageflow.mcp_server.http_options import (
    AuditEvent,
    HttpConfigError,
    HttpOptions,
    RateLimit,
    validate_http_options,
)
from ageflow.mcp_server.http_resume import event_store_for
from ageflow.mcp_server.http_security import (
    WILDCARD_HOSTS,
    CorsPolicy,
    FixedWindowRateLimiter,
    RebindingGuard,
    bearer_token_matches,
    client_ip,
)
from ageflow.mcp_server.principal import acting_as, http_principal
from ageflow.mcp_server.server import McpServer

__all__ = [
    "SHUTDOWN_GRACE_SECONDS",
    "AuditEvent",
    "HttpConfigError",
    "HttpOptions",
    "HttpTransport",
    "RateLimit",
    "serve_http",
    "validate_http_options",
]

SHUTDOWN_GRACE_SECONDS = 5.0
"""How long stopping waits for open HTTP responses before cancelling them."""


class HttpTransport:
    """The ASGI app of the HTTP transport and its session table.

    Build it, then ``await transport.serve()`` (what :func:`serve_http` does); the
    constructor validates the options. ``session_count`` and ``rate_limiter_size`` are
    read-only views for monitoring and tests. ``clock`` drives the rate limiter's
    windows (monotonic seconds).
    """

    def __init__(
        self,
        server: McpServer,
        options: HttpOptions,
        *,
        log: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        validate_http_options(options)
        self._server = server
        self._options = options
        self._principal = http_principal(options.auth_bearer)  # the token never changes
        self._log = log
        self._cors = CorsPolicy(options.cors_origins)
        self._guard = RebindingGuard(options.host, options.allowed_hosts)
        limit = options.rate_limit
        self._limiter = (
            FixedWindowRateLimiter(limit.window_seconds, limit.max_requests, clock=clock)
            if limit is not None
            else None
        )
        self._table = SessionTable(server, options, self._say)
        self._closing = False
        self._started = False
        if self._cors.any_origin:
            self._say(
                "warning: CORS allows any origin (*); do not use this in production, "
                "name the allowed origins instead"
            )

    @property
    def session_count(self) -> int:
        """Open sessions, including one whose opening request is being answered."""
        return len(self._sessions)

    @property
    def _sessions(self) -> dict[str, StreamableHTTPServerTransport]:
        """The open sessions by id (the session table's own dict)."""
        return self._table.sessions

    @property
    def event_store(self) -> SqliteEventStore | None:
        """The SSE event store while serving (resumption with Last-Event-ID)."""
        return self._table.events

    @property
    def rate_limiter_size(self) -> int:
        """Client IPs the rate limiter currently tracks (0 without a rate limit)."""
        return 0 if self._limiter is None else self._limiter.size

    def _say(self, line: str) -> None:
        out = sys.stderr if self._log is None else self._log
        print(f"[ageflow mcp] {line}", file=out)
        out.flush()

    # -- lifecycle ---------------------------------------------------------------

    async def serve(
        self,
        *,
        task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen and serve until cancelled, inside ``server.running()``.

        Reports ``(host, port)`` with the real port through ``task_status`` once
        requests are accepted. On cancellation every session is closed and the listener
        stops; bind errors propagate as :class:`OSError`.
        """
        if self._started:
            raise RuntimeError("HttpTransport.serve(): the transport was already started")
        self._started = True
        options = self._options
        # Bind first: an address in use is reported before the job store is touched.
        # Connections made while jobs are recovered wait in the listen backlog.
        sock = await bind(options.host, options.port)
        try:
            port = int(sock.getsockname()[1])
            async with (
                self._server.running(),
                event_store_for(self._server, options) as self._table.events,
            ):
                self._server.sse_close_seconds = options.sse_close_seconds
                await self._serve_on(sock, port, task_status)
        finally:
            sock.close()

    async def _serve_on(
        self,
        sock: socket.socket,
        port: int,
        task_status: anyio.abc.TaskStatus[tuple[str, int]],
    ) -> None:
        options = self._options
        uvicorn_server = EmbeddedUvicorn(
            uvicorn.Config(
                self,
                lifespan="off",
                log_level="warning",
                log_config=None,  # leave the host program's logging setup alone
                access_log=False,
                proxy_headers=False,  # trust_proxy is this transport's own decision
                server_header=False,
                ws="none",
                timeout_graceful_shutdown=int(SHUTDOWN_GRACE_SECONDS),
            )
        )
        stopped = anyio.Event()
        # Shielded: uvicorn stops through should_exit, after the sessions closed; the
        # scope is cancelled only if that graceful stop overruns.
        uvicorn_scope = anyio.CancelScope(shield=True)

        async def run_uvicorn() -> None:
            try:
                with uvicorn_scope:
                    await uvicorn_server.serve(sockets=[sock])
            finally:
                stopped.set()

        async with anyio.create_task_group() as task_group:
            self._table.task_group = task_group
            task_group.start_soon(run_uvicorn)
            try:
                await uvicorn_server.ready.wait()
                self._say(
                    f"{self._server.name}@{self._server.version} HTTP transport listening on "
                    f"http://{url_host(options.host)}:{port}{options.path}"
                )
                if options.auth_bearer is None:
                    self._say(
                        "warning: no authentication; any local process can call this server "
                        "(loopback only)"
                    )
                if options.host in WILDCARD_HOSTS and not options.allowed_hosts:
                    self._say(
                        f"warning: bound to {options.host} but no allowed_hosts given; only "
                        "requests whose Host header names a loopback host are accepted"
                    )
                task_status.started((options.host, port))
                await anyio.sleep_forever()
            finally:
                with anyio.CancelScope(shield=True):
                    self._closing = True
                    await self._table.close_all()
                    uvicorn_server.should_exit = True
                    with anyio.move_on_after(SHUTDOWN_GRACE_SECONDS + 2):
                        await stopped.wait()
                    uvicorn_scope.cancel()
                task_group.cancel_scope.cancel()

    # -- ASGI ----------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self._handle(scope, receive, tracking_send)
        except ClientGone:
            return
        except Exception as exc:
            self._say(f"unhandled error in HTTP handler: {exc!r}")
            if not started:
                await send_json(send, 500, {"error": "Internal Server Error"})

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The request checks, in order; the first that fails answers the request."""
        options = self._options
        headers = Headers(scope=scope)
        method = scope["method"]
        peer = scope.get("client")
        ip = client_ip(
            peer[0] if peer else None,
            headers.get("x-forwarded-for"),
            trust_proxy=options.trust_proxy,
        )

        if not self._guard.host_allowed(headers.get("host")):
            await send_json(send, 421, {"error": "Misdirected Request: Host not allowed"})
            return

        origin = headers.get("origin")
        cors = self._cors.headers(origin)
        if method == "OPTIONS":
            await send_empty(send, 204, cors)
            return
        if not self._guard.origin_allowed(origin, self._cors):
            await send_json(send, 403, {"error": "Forbidden: Origin not allowed"})
            return
        if scope["path"] != options.path:
            await send_text(send, 404, "Not Found", cors)
            return

        token = options.auth_bearer
        if token is not None and not bearer_token_matches(headers.get("authorization"), token):
            self._audit(ip, None, None, auth_denied=True)
            await send_json(
                send,
                401,
                {"error": "Unauthorized"},
                [*cors, ("WWW-Authenticate", 'Bearer realm="ageflow-mcp"')],
            )
            return

        if method not in ("GET", "POST", "DELETE"):
            await send_json(
                send,
                405,
                {"error": "Method Not Allowed"},
                [*cors, ("Allow", "GET, POST, DELETE, OPTIONS")],
            )
            return

        message: Any = None
        if method == "POST":
            if self._limiter is not None and not self._limiter.allow(ip):
                self._audit(ip, None, None, rate_limited=True)
                await send_json(send, 429, {"error": "Too Many Requests"}, cors)
                return
            body = await read_body(headers, receive, options.max_body_bytes)
            if body is None:
                await send_json(send, 413, {"error": "Payload Too Large"}, cors)
                return
            message = parse_json(body)
            self._audit(ip, method_of(message), tool_name_of(message))
            receive = replay_body(body, receive)

        if self._closing:
            await send_json(send, 503, {"error": "Server shutting down"}, cors)
            return
        # Tasks belong to the bearer token (D: principal), not to the MCP session.
        with acting_as(self._principal):
            await self._table.route(scope, receive, send, headers, message, ip, cors, self._audit)

    # -- audit -----------------------------------------------------------------------

    def _audit(
        self,
        ip: str,
        method: str | None,
        tool_name: str | None,
        *,
        auth_denied: bool = False,
        rate_limited: bool = False,
    ) -> None:
        audit_log = self._options.audit_log
        if audit_log is None:
            return
        event = AuditEvent(
            ts=time.time(),
            remote_ip=ip,
            method=method,
            tool_name=tool_name,
            auth_denied=auth_denied,
            rate_limited=rate_limited,
        )
        try:
            audit_log(event)
        except Exception as exc:
            # A broken audit sink must not take requests down with it.
            self._say(f"audit log callback failed: {exc!r}")


async def serve_http(
    server: McpServer,
    options: HttpOptions,
    *,
    log: TextIO | None = None,
    task_status: anyio.abc.TaskStatus[tuple[str, int]] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``server`` over Streamable HTTP until cancelled.

    Raises :class:`HttpConfigError` for invalid options before anything is bound, and
    :class:`OSError` when the address cannot be bound. Log lines (the banner, warnings)
    go to ``log``, stderr by default. ``task_status`` receives ``(host, port)`` with the
    real port once requests are accepted. Runs on the asyncio backend (uvicorn).
    """
    await HttpTransport(server, options, log=log).serve(task_status=task_status)
