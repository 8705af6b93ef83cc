"""Resolving which session each agent task of one task map continues."""

from __future__ import annotations

from collections.abc import Mapping

from ageflow.core.errors import SessionCycleError, UnresolvedSessionRefError
from ageflow.core.tasks import AgentTask, SessionToken, ShareSession, TaskDef


def resolve_session_tokens(tasks: Mapping[str, TaskDef]) -> dict[str, SessionToken]:
    """Each agent task's canonical session token (tasks without a session are left out).

    ``share_session_with`` chains are followed to the task that owns a token. Raises
    SessionCycleError for a chain that loops and UnresolvedSessionRefError when a chain
    ends at a missing task, a function task, a loop, or an agent task with no session.
    """
    resolved: dict[str, SessionToken] = {}

    def resolve(name: str, path: list[str]) -> SessionToken | None:
        if name in resolved:
            return resolved[name]
        node = tasks[name]
        if not isinstance(node, AgentTask) or node.session is None:
            return None
        ref = node.session
        if isinstance(ref, SessionToken):
            token = ref
        else:
            assert isinstance(ref, ShareSession)
            target = ref.task_name
            if target in path:
                raise SessionCycleError([*path, target])
            target_node = tasks.get(target)
            if not isinstance(target_node, AgentTask) or target_node.session is None:
                raise UnresolvedSessionRefError(name, target)
            found = resolve(target, [*path, target])
            if found is None:  # pragma: no cover - excluded by the check above
                raise UnresolvedSessionRefError(name, target)
            token = found
        resolved[name] = token
        return token

    for name in tasks:
        resolve(name, [name])
    return resolved
