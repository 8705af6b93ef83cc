"""Protocol 2026-07-28 on the HTTP transport: each request is one self-contained POST
(no ``initialize``, no session), answered by the mcp SDK's single-exchange handler.

Before that, the Tasks extension's routing-header rule: a ``tasks/get``, ``tasks/update``
or ``tasks/cancel`` must carry ``Mcp-Name`` equal to its ``params.taskId`` (so a load
balancer can route it to the instance holding the task); a request without it, or with
another value, is refused with ``HEADER_MISMATCH`` (-32020, HTTP 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mcp.server._streamable_http_modern import handle_modern_request
from mcp.server.lowlevel import Server
from mcp.shared.inbound import (
    MCP_NAME_HEADER,
    MCP_PROTOCOL_VERSION_HEADER,
    decode_header_value,
)
from mcp_types import HEADER_MISMATCH
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from ageflow.mcp_server.http_asgi import request_id_of, send_json

TASK_METHODS: Final = frozenset({"tasks/get", "tasks/update", "tasks/cancel"})


def is_modern(headers: Headers) -> bool:
    """A request for a protocol version past the handshake era (the SDK's own rule)."""
    version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
    return version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS


def task_name_mismatch(headers: Headers, message: Any) -> bool:
    """Whether a ``tasks/*`` request breaks the ``Mcp-Name`` = ``params.taskId`` rule."""
    if not isinstance(message, Mapping) or message.get("method") not in TASK_METHODS:
        return False
    params = message.get("params")
    task_id = params.get("taskId") if isinstance(params, Mapping) else None
    if not isinstance(task_id, str):
        return False  # malformed params: the handler answers -32602
    return decode_header_value(headers.get(MCP_NAME_HEADER)) != task_id


async def serve_modern(
    server: Server[Any],
    scope: Scope,
    receive: Receive,
    send: Send,
    headers: Headers,
    message: Any,
) -> None:
    if task_name_mismatch(headers, message):
        error = {
            "code": HEADER_MISMATCH,
            "message": f"{MCP_NAME_HEADER} header must equal params.taskId",
        }
        payload = {"jsonrpc": "2.0", "id": request_id_of(message), "error": error}
        await send_json(send, 400, payload)
        return
    # JSON responses, the SDK's transport security off: this transport already checked
    # Host, Origin, auth, size and rate; the server's lifespan state is the default {}.
    await handle_modern_request(server, None, True, {}, scope, receive, send)
