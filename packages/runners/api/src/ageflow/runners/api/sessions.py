"""Where a runner keeps conversations between turns, keyed by session handle."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ageflow.runners.api.messages import ChatMessage

__all__ = ["InMemorySessionStore", "SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """Conversation storage; implement it to keep sessions across processes."""

    async def get(self, handle: str) -> list[ChatMessage] | None: ...

    async def set(self, handle: str, messages: Sequence[ChatMessage]) -> None: ...

    async def delete(self, handle: str) -> None: ...


class InMemorySessionStore:
    """Sessions in a dict; copies on the way in and out so callers cannot alter history."""

    def __init__(self) -> None:
        self._sessions: dict[str, list[ChatMessage]] = {}

    async def get(self, handle: str) -> list[ChatMessage] | None:
        stored = self._sessions.get(handle)
        return None if stored is None else copy.deepcopy(stored)

    async def set(self, handle: str, messages: Sequence[ChatMessage]) -> None:
        self._sessions[handle] = copy.deepcopy(list(messages))

    async def delete(self, handle: str) -> None:
        self._sessions.pop(handle, None)
