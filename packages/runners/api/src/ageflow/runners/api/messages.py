"""Chat messages in the OpenAI wire shape, and the first messages of a turn.

Messages stay plain dicts: what a provider returns in an assistant turn (extra fields
included) is replayed unchanged on the next request and in a resumed session.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

__all__ = [
    "AssistantMessage",
    "ChatMessage",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "UserMessage",
    "build_initial_messages",
]


class ToolCallFunction(TypedDict):
    name: str
    arguments: str


class ToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: ToolCallFunction


class SystemMessage(TypedDict):
    role: Literal["system"]
    content: str


class UserMessage(TypedDict):
    role: Literal["user"]
    content: str


class AssistantMessage(TypedDict):
    role: Literal["assistant"]
    content: str
    tool_calls: NotRequired[list[ToolCall]]


class ToolMessage(TypedDict):
    role: Literal["tool"]
    tool_call_id: str
    content: str


ChatMessage: TypeAlias = (
    SystemMessage | UserMessage | AssistantMessage | ToolMessage | dict[str, Any]
)
"""One message of a conversation (the typed shapes, or a provider's dict with extra keys)."""


def build_initial_messages(
    prompt: str, system_prompt: str | None, history: Sequence[ChatMessage] | None
) -> list[ChatMessage]:
    """The messages a turn starts with: [system], history, then the user prompt.

    A non-empty ``system_prompt`` replaces every system message of the history (a resumed
    session must follow the current instructions, not stale ones); without one the history
    is kept as it is.
    """
    previous = list(history or [])
    messages: list[ChatMessage] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
        messages.extend(m for m in previous if m.get("role") != "system")
    else:
        messages.extend(previous)
    messages.append({"role": "user", "content": prompt})
    return messages
