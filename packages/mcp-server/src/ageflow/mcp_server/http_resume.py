"""Resumable SSE streams for the HTTP transport: its event store, and ``Last-Event-ID``
checked before a resumption reaches the SDK (which would answer a bad one with an empty
stream, indistinguishable from "nothing missed")."""

from __future__ import annotations

from collections.abc import Sequence

from mcp.server.streamable_http import LAST_EVENT_ID_HEADER
from starlette.datastructures import Headers
from starlette.types import Send

from ageflow.mcp_server.event_store import SqliteEventStore, events_path_for
from ageflow.mcp_server.http_asgi import send_json
from ageflow.mcp_server.http_options import HttpOptions
from ageflow.mcp_server.server import DEFAULT_JOB_DB_PATH, McpServer

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
