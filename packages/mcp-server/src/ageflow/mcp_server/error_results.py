"""The shape of an error tool result, and how a client reads one back.

The spec (tools, "Output Schema" and "Error Handling"): a server that declares an
``outputSchema`` MUST return structured results that conform to it, and clients SHOULD
validate them; strict clients (the TypeScript SDK, the Inspector) validate
``structuredContent`` even on an ``isError`` result and reject a mismatch as a protocol
error, so the model never sees the tool's error. An error result therefore carries no
``structuredContent``: the error ``{errorCode, message, context?}`` is the JSON text of its
only content block (what a model reads) and the value of ``_meta["ageflow/error"]`` (what a
program reads without parsing text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict, cast

ERROR_META_KEY: Final = "ageflow/error"
"""The ``_meta`` key of an error result that holds the error object."""


class ErrorPayload(TypedDict):
    """What an error result reports: a stable code, a message, optional JSON detail."""

    errorCode: str
    message: str
    context: NotRequired[dict[str, Any]]


class TextContent(TypedDict):
    type: Literal["text"]
    text: str


class McpToolErrorResult(TypedDict):
    """An MCP ``tools/call`` result that reports a failure (no ``structuredContent``)."""

    isError: Literal[True]
    content: list[TextContent]
    _meta: dict[str, ErrorPayload]


def error_payload(code: str, message: str, context: Mapping[str, Any] | None) -> ErrorPayload:
    payload: ErrorPayload = {"errorCode": code, "message": message}
    if context is not None:
        payload["context"] = dict(context)
    return payload


def error_tool_result(payload: ErrorPayload) -> McpToolErrorResult:
    """The error result for a payload: JSON text content plus the same object in ``_meta``."""
    text = json.dumps(payload, default=repr, ensure_ascii=False)
    return {
        "isError": True,
        "content": [{"type": "text", "text": text}],
        "_meta": {ERROR_META_KEY: payload},
    }


def read_error(result: Mapping[str, Any] | Any) -> ErrorPayload | None:
    """The error a tool result reports, or None for a success.

    Takes a result dict (wire keys) or an SDK ``CallToolResult``. Reads ``_meta`` first,
    then the JSON text content (for clients that drop ``_meta``).
    """
    if isinstance(result, Mapping):
        is_error, meta, content = result.get("isError"), result.get("_meta"), result.get("content")
    else:
        is_error = getattr(result, "is_error", None)
        meta = getattr(result, "meta", None)
        content = [
            {"type": getattr(item, "type", None), "text": getattr(item, "text", None)}
            for item in getattr(result, "content", None) or []
        ]
    if not is_error:
        return None
    if isinstance(meta, Mapping) and _is_payload(meta.get(ERROR_META_KEY)):
        return cast(ErrorPayload, dict(meta[ERROR_META_KEY]))
    for item in content or []:
        if isinstance(item, Mapping) and item.get("type") == "text":
            try:
                parsed = json.loads(str(item.get("text")))
            except ValueError:
                continue
            if _is_payload(parsed):
                return cast(ErrorPayload, parsed)
    return None


def _is_payload(value: object) -> bool:
    return (
        isinstance(value, Mapping)
        and isinstance(value.get("errorCode"), str)
        and isinstance(value.get("message"), str)
    )
