"""Session handles of one task map: which conversation each agent task continues.

Tasks are tied to a canonical session token when the manager is built (share chains
followed, cycles and dangling references raised then); handles are stored per token, so
every task on the same token sees the handle the previous one left.
"""

from __future__ import annotations

from collections.abc import Mapping

from ageflow.core.sessions import resolve_session_tokens
from ageflow.core.tasks import SessionToken, TaskDef

__all__ = ["SessionManager"]


class SessionManager:
    """Session tokens and handles for the tasks of one task map.

    Raises SessionCycleError or UnresolvedSessionRefError from the constructor when a
    ``share_session_with`` chain loops or ends at a task without a session. An empty
    handle is never stored (it would tell a runner to resume nothing).
    """

    def __init__(self, tasks: Mapping[str, TaskDef]) -> None:
        self._tokens: dict[str, SessionToken] = resolve_session_tokens(tasks)
        self._handles: dict[str, str] = {}

    def canonical_token(self, task_name: str) -> str | None:
        """The name of the session token the task continues, or None without a session."""
        token = self._tokens.get(task_name)
        return None if token is None else token.name

    def session_token(self, task_name: str) -> SessionToken | None:
        """The task's canonical token object (carrying the runner it belongs to)."""
        return self._tokens.get(task_name)

    def get_handle(self, task_name: str) -> str | None:
        """The current handle of the task's session; None without a session or handle."""
        token = self.canonical_token(task_name)
        return None if token is None else self._handles.get(token)

    def set_handle(self, task_name: str, handle: str) -> None:
        """Record the handle a task's run returned; ignored without a session or for ``""``."""
        token = self.canonical_token(task_name)
        if token is not None and handle:
            self._handles[token] = handle

    def set_handle_by_token(self, token_name: str, handle: str) -> None:
        """Record a handle under a token name directly (ignored for ``""``)."""
        if handle:
            self._handles[token_name] = handle

    def get_handle_by_token(self, token_name: str) -> str | None:
        return self._handles.get(token_name)

    def handles(self) -> dict[str, str]:
        """A copy of every stored handle, by token name (what a journal persists)."""
        return dict(self._handles)

    def restore_handles(self, handles: Mapping[str, str]) -> None:
        """Put back handles saved with :meth:`handles` (merged; empty handles skipped)."""
        for token_name, handle in handles.items():
            self.set_handle_by_token(token_name, handle)
