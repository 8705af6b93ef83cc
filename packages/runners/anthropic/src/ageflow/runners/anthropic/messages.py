"""Messages API request pieces: conversation messages, the system field, tool schemas.

Messages stay plain dicts: an assistant turn is replayed exactly as the API sent it
(thinking blocks and their signatures included), which a resumed conversation needs.
The system prompt is never a message; it is the request's top-level ``system`` field, so
a resumed session always follows the current instructions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias, TypedDict

from ageflow.runners.api.tools import ToolDefinition, tools_to_schemas

__all__ = [
    "EPHEMERAL",
    "AnthropicMessage",
    "TextBlock",
    "ToolResultBlock",
    "ToolUseBlock",
    "build_anthropic_messages",
    "system_param",
    "tools_to_anthropic_schemas",
]

EPHEMERAL: dict[str, str] = {"type": "ephemeral"}
"""The ``cache_control`` marker: the prefix up to and including the block is cached."""


class TextBlock(TypedDict):
    type: Literal["text"]
    text: str


class ToolUseBlock(TypedDict):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any]


class ToolResultBlock(TypedDict):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str


AnthropicMessage: TypeAlias = dict[str, Any]
"""``{"role": "user" | "assistant", "content": str | [blocks]}``, as sent and received."""


def build_anthropic_messages(
    prompt: str, history: Sequence[AnthropicMessage] | None
) -> list[AnthropicMessage]:
    """History (a copy) followed by the user prompt."""
    return [*(history or []), {"role": "user", "content": prompt}]


def system_param(system_prompt: str | None, *, cache: bool) -> str | list[dict[str, Any]] | None:
    """The ``system`` field: None when empty, a cached text block when ``cache``."""
    if not system_prompt:
        return None
    if not cache:
        return system_prompt
    return [{"type": "text", "text": system_prompt, "cache_control": dict(EPHEMERAL)}]


def tools_to_anthropic_schemas(
    registry: Mapping[str, ToolDefinition], names: Sequence[str] | None, *, cache: bool = False
) -> list[dict[str, Any]] | None:
    """Tool schemas for ``names`` in order (unknown and repeated names skipped).

    None stays None and a list stays a list, even when empty. With ``cache`` the last
    schema carries ``cache_control``, so the whole tool list is part of the cached prefix.
    """
    openai_style = tools_to_schemas(registry, names)
    if openai_style is None:
        return None
    # The API runner picks, orders and dedupes; only the shape differs here.
    schemas: list[dict[str, Any]] = [
        {
            "name": f["name"],
            "description": f["description"],
            "input_schema": {"type": "object", **f["parameters"]},
        }
        for f in (schema["function"] for schema in openai_style)
    ]
    if cache and schemas:
        schemas[-1]["cache_control"] = dict(EPHEMERAL)
    return schemas
