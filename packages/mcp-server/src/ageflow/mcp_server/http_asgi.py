"""ASGI plumbing of the HTTP transport: plain responses, the bounded body read and replay,
and what the transport reads out of a JSON-RPC body."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


def encode(headers: Sequence[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


async def send_json(
    send: Send,
    status: int,
    payload: Any,
    headers: Sequence[tuple[str, str]] = (),
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await send_response(send, status, body, [("Content-Type", "application/json"), *headers])


async def send_text(
    send: Send, status: int, text: str, headers: Sequence[tuple[str, str]] = ()
) -> None:
    await send_response(send, status, text.encode(), [("Content-Type", "text/plain"), *headers])


async def send_empty(send: Send, status: int, headers: Sequence[tuple[str, str]]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": encode(headers)})
    await send({"type": "http.response.body", "body": b""})


async def send_response(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[str, str]]
) -> None:
    """A complete response with ``body`` and its ``Content-Length``."""
    all_headers = [*headers, ("Content-Length", str(len(body)))]
    await send({"type": "http.response.start", "status": status, "headers": encode(all_headers)})
    await send({"type": "http.response.body", "body": body})


def with_headers(send: Send, headers: Sequence[tuple[str, str]]) -> Send:
    """``send`` adding ``headers`` to the response start (the CORS headers)."""
    if not headers:
        return send
    extra = encode(headers)

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return send_with_headers


async def read_body(headers: Headers, receive: Receive, limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to exceed ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before reading anything;
    otherwise reading stops at the first chunk that crosses it.
    """
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body over once, then defers to the real
    one (which then reports the disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def answer_and_report_status(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> int | None:
    """Let ``app`` answer the request; the HTTP status it answered with, None for none."""
    status: int | None = None

    async def watch(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        await send(message)

    await app(scope, receive, watch)
    return status


def parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None  # the SDK transport answers malformed JSON itself


def method_of(message: Any) -> str | None:
    if isinstance(message, dict):
        method = message.get("method")
        if isinstance(method, str):
            return method
    return None


def tool_name_of(message: Any) -> str | None:
    if isinstance(message, dict):
        params = message.get("params")
        if isinstance(params, dict):
            name = params.get("name")
            if isinstance(name, str):
                return name
    return None


def request_id_of(message: Any) -> str | int | None:
    if isinstance(message, dict):
        value = message.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return value
    return None
