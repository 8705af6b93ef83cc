"""The tool-call pipeline: middleware wrapping, the sync run and its input, error causes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from ageflow.core.errors import sole_error
from ageflow.core.registry import RunnerRegistry
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.errors import HitlRejectedError
from ageflow.mcp_server._hitl import HitlSettings, checkpoint_handler
from ageflow.mcp_server._progress import Progress, unlimited_axes
from ageflow.mcp_server._sdk_connection import SdkConnection
from ageflow.mcp_server.ceilings import EffectiveCeilings
from ageflow.mcp_server.errors import ErrorCode, McpServerError
from ageflow.mcp_server.tool_call import (
    CallNext,
    ClientConnection,
    Middleware,
    ToolCallRequest,
    ToolResult,
)
from ageflow.mcp_server.tool_definition import ToolDefinition
from ageflow.server import InMemoryRunStore, RunPolicy, create_runner


class SyncRunSettings(HitlSettings, Protocol):
    """What a sync run reads from its :class:`McpServer`: the checkpoint settings, the registry."""

    @property
    def registry(self) -> RunnerRegistry | None: ...


def wrap(layer: Middleware, inner: CallNext) -> CallNext:
    async def call(request: ToolCallRequest) -> ToolResult:
        return await layer(request, inner)

    return call


def with_input(definition: ToolDefinition, workflow: WorkflowDef, value: Any) -> tuple[Any, Any]:
    """The workflow (maybe rewritten) and the run input that bring ``value`` to the input task.

    Root tasks receive the run's input natively; a non-root input task (``mcp.input_task``)
    also gets the value as its static input. The value stays the run's input either way,
    the only input the other roots could receive.
    """
    name = definition.input_task.name
    node = workflow.tasks[name]
    if not node.depends_on:
        return workflow, value
    tasks = dict(workflow.tasks)
    tasks[name] = dataclasses.replace(node, input=value)
    return dataclasses.replace(workflow, tasks=tasks), value


async def run_sync(
    owner: SyncRunSettings,
    workflow: WorkflowDef,
    ceilings: EffectiveCeilings,
    definition: ToolDefinition,
    value: Any,
    connection: ClientConnection | None,
    hitl_failure: list[McpServerError],
) -> Any:
    """Run one sync call's workflow under ``ceilings``; the output task's output."""
    progress = Progress(connection)
    unlimited = unlimited_axes(ceilings)
    if unlimited:
        await progress.emit("unlimited_warning", axes=unlimited)
    # The runner enforces cost, deadline and turns itself, so a timeout stops the
    # run's work instead of only the wait for it (D23, D25).
    policy = ceilings.apply_to(RunPolicy(checkpoint="reject"), now_ms())
    run_workflow, run_input = with_input(definition, workflow, value)
    on_checkpoint = checkpoint_handler(owner, workflow, connection, progress, hitl_failure)
    async with (
        create_runner(store=InMemoryRunStore(), registry=owner.registry) as runner,
        runner.stream(
            run_workflow, run_input, on_checkpoint=on_checkpoint, policy=policy
        ) as events,
    ):
        async for event in events:
            await progress.on_event(event)
            if isinstance(connection, SdkConnection):
                await connection.log_event(event)
        result = events.result
    return result.outputs.get(definition.output_task.name)


def requires_task(workflow: WorkflowDef) -> bool:
    return bool(workflow.mcp) and getattr(workflow.mcp, "task_support", None) == "required"


def cause(exc: BaseException) -> BaseException:
    """The error a client is told about.

    Task-group wrappers around a single error carry no meaning for a client. A rejected
    checkpoint on a sync call is the HITL denial the original reported (its non-TTY
    path), so it gets HITL_DENIED here; format_error_result leaves HitlRejectedError
    generic for the other paths.
    """
    exc = sole_error(exc)
    if isinstance(exc, HitlRejectedError):
        return McpServerError(ErrorCode.HITL_DENIED, str(exc), {"taskName": exc.task_name})
    return exc


def as_dict(result: Mapping[str, Any]) -> ToolResult:
    return dict(result)
