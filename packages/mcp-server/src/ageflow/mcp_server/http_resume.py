"""Resumable SSE streams for the HTTP transport: its event store, and ``Last-Event-ID``
checked before a resumption reaches the SDK (which would answer a bad one with an empty
stream, indistinguishable from "nothing missed")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mcp.server.streamable_http import LAST_EVENT_ID_HEADER
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, is_version_at_least
from starlette.datastructures import Headers
from starlette.types import Scope, Send

from ageflow.mcp_server.event_store import SqliteEventStore, events_path_for
from ageflow.mcp_server.http_asgi import send_json
from ageflow.mcp_server.http_options import HttpOptions
from ageflow.mcp_server.job_store import DEFAULT_JOB_DB_PATH
from ageflow.mcp_server.server import McpServer

_JSONRPC_INVALID_REQUEST = -32600


def event_store_for(server: McpServer, options: HttpOptions) -> SqliteEventStore:
    """The event store of a transport: ``options.event_store_path``, else beside the
    server's own job file, else (no async mode, or a caller's job store) in memory."""
    path = options.event_store_path
    if path is None:
        if server.async_mode and server.job_store is None:
            job_file = server.job_db_path if server.job_db_path is not None else DEFAULT_JOB_DB_PATH
            path = events_path_for(job_file)
        else:
            path = ":memory:"
    return SqliteEventStore(
        path,
        max_events=options.event_store_max_events,
        max_age_seconds=options.event_store_max_age_seconds,
    )


async def refused_last_event_id(
    store: SqliteEventStore | None,
    session_id: str,
    headers: Headers,
    send: Send,
    cors: Sequence[tuple[str, str]],
) -> bool:
    """Answer a GET whose ``Last-Event-ID`` cannot resume this session; True if answered.

    Malformed ids get 400 saying so; unknown, expired and other sessions' ids get one and
    the same 400, so the answer tells nothing about other sessions.
    """
    event_id = headers.get(LAST_EVENT_ID_HEADER)
    if event_id is None or store is None:
        return False
    verdict = await store.check(session_id, event_id)
    if verdict == "ok":
        return False
    message = (
        "Bad Request: malformed Last-Event-ID"
        if verdict == "malformed"
        else "Bad Request: unknown Last-Event-ID (expired, or not an event of this session)"
    )
    error = {"code": _JSONRPC_INVALID_REQUEST, "message": message}
    await send_json(send, 400, {"jsonrpc": "2.0", "id": None, "error": error}, cors)
    return True


def requested_version(message: Any) -> str | None:
    """The protocol version an initialize request asks for, when the server speaks it (the
    SDK then agrees to that version)."""
    params = message.get("params") if isinstance(message, dict) else None
    version = params.get("protocolVersion") if isinstance(params, dict) else None
    return version if version in HANDSHAKE_PROTOCOL_VERSIONS else None


def at_session_version(scope: Scope, negotiated: str | None) -> Scope:
    """The request as the session's negotiated version sees it.

    The SDK primes a stream (the event id and ``retry`` a client resumes from) only when the
    request's ``MCP-Protocol-Version`` header is 2025-11-25 or later. A client that
    negotiated such a version but sends an older (known) header on one request (the conformance
    suite's raw requests do) would get a stream it cannot resume, so an older header is
    raised to the version the session negotiated. Newer or absent headers are left alone.
    """
    if negotiated is None:
        return scope
    name = MCP_PROTOCOL_VERSION_HEADER.lower().encode()
    headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
    for index, (key, value) in enumerate(headers):
        declared = value.decode("latin-1")
        known = declared in HANDSHAKE_PROTOCOL_VERSIONS  # a bad header stays the SDK's to refuse
        if key.lower() == name and known and not is_version_at_least(declared, negotiated):
            headers[index] = (key, negotiated.encode())
            return {**scope, "headers": headers}
    return scope
