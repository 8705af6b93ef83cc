"""Human in the loop: tool permissions and checkpoint approval.

A task's HITL config is the task's own, else its agent's, else off. ``permissions`` mode
filters the agent's tools (deny by default); ``checkpoint`` mode pauses the task until it
is approved by the ``on_checkpoint`` hook or by a person at the terminal.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from ageflow.core.config import HitlConfig, HitlOff, HitlPermissions
from ageflow.core.runner import InlineToolDef
from ageflow.core.workflow import WorkflowHooks
from ageflow.executor.errors import HitlNotInteractiveError

__all__ = ["HITLManager", "PermissionResult", "stdin_is_interactive"]


@dataclass(frozen=True)
class PermissionResult:
    """Tools left after HITL filtering.

    ``filtered_tools``: the names the agent may use (``[]`` = deny-all, None = no
    restriction); ``permissions``: the permission map to hand to the runner (permissions
    mode only); ``enforcing``: whether ``filtered_tools`` is an enforced allowlist.
    """

    filtered_tools: list[str] | None
    permissions: dict[str, bool] | None
    enforcing: bool


def stdin_is_interactive() -> bool:
    """True when a person can answer on stdin (a terminal, open and attached)."""
    stdin = sys.stdin
    if stdin is None:  # e.g. pythonw, or a daemon that closed it
        return False
    try:
        return bool(stdin.isatty())
    except (ValueError, OSError):  # closed or detached stream
        return False


def _ask_at_terminal(message: str) -> str:
    """Show the checkpoint and block until a line is typed; returns it ("" on end of input)."""
    sys.stdout.write(f"[ageflow HITL] {message}\nPress Enter to continue...")
    sys.stdout.flush()
    return sys.stdin.readline()


class HITLManager:
    """Resolves HITL configs, filters tools and runs checkpoints outside a stream handler."""

    @staticmethod
    def resolve_config(agent_hitl: HitlConfig | None, task_hitl: HitlConfig | None) -> HitlConfig:
        """The task's config, else the agent's, else off (whole configs, never merged)."""
        if task_hitl is not None:
            return task_hitl
        if agent_hitl is not None:
            return agent_hitl
        return HitlOff()

    @staticmethod
    def apply_permissions(
        tools: Sequence[str] | Mapping[str, InlineToolDef] | None, config: HitlConfig
    ) -> PermissionResult:
        """Filter the agent's tools (names or an inline map) through ``config``.

        Outside permissions mode the names pass unchanged and nothing is enforced. In
        permissions mode only names mapped to exactly ``True`` survive, and an agent
        without tools gets ``[]``: deny-all, never "no restriction".
        """
        names = None if tools is None else list(tools)
        if not isinstance(config, HitlPermissions):
            return PermissionResult(filtered_tools=names, permissions=None, enforcing=False)
        permissions = dict(config.permissions)
        allowed = [name for name in names or [] if permissions.get(name) is True]
        return PermissionResult(filtered_tools=allowed, permissions=permissions, enforcing=True)

    async def run_checkpoint(
        self, task_name: str, message: str, hooks: WorkflowHooks | None
    ) -> None:
        """Block until the checkpoint of ``task_name`` is approved.

        The ``on_checkpoint`` hook is always called when defined (it also serves as a
        notification). It approves by returning ``True`` or an awaitable that resolves
        truthy; anything else leaves the decision to the terminal. (The original counted
        only an awaited truthy value; a plain ``True`` approving too is our deviation.)
        Without a terminal on stdin this raises HitlNotInteractiveError; at a terminal any
        typed line approves, and end of input raises HitlNotInteractiveError. Exceptions
        from the hook propagate.
        """
        if await self._hook_approves(task_name, message, hooks):
            return
        if not stdin_is_interactive():
            raise HitlNotInteractiveError(task_name)
        # Reading stdin blocks, so it happens in a worker thread; if the run is cancelled
        # meanwhile the thread is abandoned (it ends when a line or EOF arrives).
        line = await anyio.to_thread.run_sync(_ask_at_terminal, message, abandon_on_cancel=True)
        if line == "":
            raise HitlNotInteractiveError(task_name)

    @staticmethod
    async def _hook_approves(task_name: str, message: str, hooks: WorkflowHooks | None) -> bool:
        hook = None if hooks is None else hooks.on_checkpoint
        if hook is None:
            return False
        result: Any = hook(task_name, message)
        if inspect.isawaitable(result):
            return bool(await result)
        # A synchronous hook is usually a notifier returning None; only an explicit True
        # approves, so an incidental truthy return value cannot wave a task through.
        return result is True
