"""Who answers a checkpoint: the workflow's own hook, ``on_hitl``, the strategy, the client.

The sync path's checkpoint handler (elicitation over the call's connection), the job
path's decider and the approver a task's checkpoint is put to all live here; each reads
the server's ``on_hitl`` and ``hitl`` when a checkpoint comes, not when it is built.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from mcp.server.context import ServerRequestContext

from ageflow.core.events import CheckpointEvent
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server._progress import Progress
from ageflow.mcp_server._sdk_connection import SdkConnection, elicitation_unsupported
from ageflow.mcp_server.errors import ErrorCode, McpServerError
from ageflow.mcp_server.jobs import CheckpointDecider
from ageflow.mcp_server.logging_bridge import SessionLogLevels
from ageflow.mcp_server.task_detail import APPROVAL_SCHEMA
from ageflow.mcp_server.tasks import Approver
from ageflow.mcp_server.tool_call import ClientConnection, HitlStrategy, OnHitl


class HitlSettings(Protocol):
    """The server's checkpoint settings, as an :class:`McpServer` holds them."""

    @property
    def hitl(self) -> HitlStrategy: ...

    @property
    def on_hitl(self) -> OnHitl | None: ...


def job_decider(settings: HitlSettings, workflow: WorkflowDef) -> CheckpointDecider | None:
    """A job's checkpoint handler when something beyond the stored policy decides.

    ``on_hitl`` answers checkpoints in async mode too (D35), after the workflow's own
    hook; with ``fail`` the own hook may still approve. Otherwise the policy stored
    with the job decides (``auto`` approves, ``elicit`` waits for resume_workflow),
    which is also all a recovered job has.
    """
    own_hook = workflow.hooks.on_checkpoint
    on_hitl = settings.on_hitl
    if on_hitl is None and (settings.hitl != "fail" or own_hook is None):
        return None

    async def decide(event: CheckpointEvent) -> bool:
        if own_hook is not None:
            verdict = own_hook(event.task_name, event.message)
            if not isinstance(verdict, bool | None):
                verdict = await verdict
            if verdict is True:
                return True
        if on_hitl is not None:
            return await on_hitl(event.task_name, event.message) is True
        return False

    return decide


def checkpoint_handler(
    settings: HitlSettings,
    workflow: WorkflowDef,
    connection: ClientConnection | None,
    progress: Progress,
    hitl_failure: list[McpServerError],
) -> Callable[[CheckpointEvent], Awaitable[bool]]:
    """A sync call's checkpoint handler; an MCP failure it raises is kept in ``hitl_failure``."""
    own_hook = workflow.hooks.on_checkpoint

    async def decide(event: CheckpointEvent) -> bool:
        task, message = event.task_name, event.message
        if own_hook is not None:
            verdict = own_hook(task, message)
            if not isinstance(verdict, bool | None):
                verdict = await verdict
            if verdict is True:
                return True
        # on_hitl replaces the strategy (D35: it is honoured on every path).
        if settings.on_hitl is not None:
            return await settings.on_hitl(task, message) is True
        if settings.hitl == "auto":
            return True
        if settings.hitl == "fail":
            return False
        try:
            return await elicit(task, message, connection, progress)
        except McpServerError as exc:
            hitl_failure.append(exc)
            raise

    return decide


async def elicit(
    task: str,
    message: str,
    connection: ClientConnection | None,
    progress: Progress,
) -> bool:
    if connection is None or not connection.supports_elicitation:
        raise elicitation_unsupported(task)
    await progress.emit("awaiting_elicitation", task=task, message=message)
    answer = await connection.elicit(f"[{task}] {message}", APPROVAL_SCHEMA)
    if answer.action == "cancel":
        raise McpServerError(
            ErrorCode.HITL_CANCELLED,
            f"HITL_CANCELLED: [{task}] HITL dialog cancelled by client",
            {"task": task},
        )
    if answer.action == "decline":
        return False
    return answer.content is not None and answer.content.get("approved") is True


def task_approver(ctx: ServerRequestContext[Any], log_levels: SessionLogLevels) -> Approver:
    """A task's checkpoint put to the client that waits on ``tasks/result``."""
    connection = SdkConnection(ctx, log_levels)

    async def ask(message: str) -> bool | None:
        if not connection.supports_elicitation:
            return None
        try:
            answer = await connection.elicit(message, APPROVAL_SCHEMA)
        except McpServerError:  # no back channel: resume_workflow still answers
            return None
        if answer.action == "decline":
            return False
        if answer.action != "accept":
            return None  # dismissed: the task keeps waiting
        return answer.content is not None and answer.content.get("approved") is True

    return ask
