"""The types of one tool call: the request a middleware sees and the client connection.

:class:`ToolCallRequest` and :data:`Middleware` are what ``middleware=`` layers receive;
:class:`ClientConnection` is the client side of one call as the sync path needs it
(elicitation, progress), with :class:`ElicitAnswer` the client's answer to an
elicitation. :data:`ToolResult` is the dict every call answers with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

HitlStrategy = Literal["elicit", "auto", "fail"]
OnHitl = Callable[[str, str], Awaitable[bool]]
ToolResult = dict[str, Any]
"""An MCP ``tools/call`` result as a dict: ``isError``, ``content``, then
``structuredContent`` (a success) or ``_meta`` (an error, see ``error_results``)."""


@dataclass(frozen=True, slots=True)
class ToolCallRequest:
    """What a middleware sees: the tool's name and the raw arguments."""

    tool_name: str
    args: dict[str, Any] | None


CallNext = Callable[[ToolCallRequest], Awaitable[ToolResult]]
Middleware = Callable[[ToolCallRequest, CallNext], Awaitable[ToolResult]]
"""``async (request, call_next) -> result``; the first in the list is the outermost."""


@dataclass(frozen=True, slots=True)
class ElicitAnswer:
    action: Literal["accept", "decline", "cancel"]
    content: Mapping[str, Any] | None = None


class ClientConnection(Protocol):
    """The client side of one tool call, as the sync path needs it."""

    @property
    def supports_elicitation(self) -> bool: ...

    async def elicit(self, message: str, schema: dict[str, Any]) -> ElicitAnswer: ...

    async def progress(self, progress: float, message: str) -> None:
        """Report progress; does nothing when the client sent no progress token."""
        ...
