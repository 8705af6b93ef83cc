"""The Tasks extension ``io.modelcontextprotocol/tasks`` (SEP-2663, protocol 2026-07-28),
on the mcp SDK's extension hooks and the same durable job store as the 2025-11-25 form.

A ``tools/call`` of a workflow tool whose request declares the extension in its per-request
client capabilities is answered with ``CreateTaskResult`` (``resultType: "task"``) once the
run is stored; the client polls ``tasks/get`` (the ``DetailedTask`` of
:mod:`ageflow.mcp_server.task_detail`), answers a checkpoint with ``tasks/update`` and stops
the task with ``tasks/cancel``. A call that does not declare the extension gets the tool's
plain result, or ``-32021`` for a tool that requires a task. ``tasks/*`` from a client that
does not declare the extension is ``-32021`` too; an unknown, expired, malformed or another
principal's task id is ``-32602``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from typing import Any, Final

import mcp.types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.extension import Extension, MethodBinding, compose_tool_call_handler
from mcp.server.lowlevel import Server
from mcp.server.mcpserver.server import require_client_extension
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from ageflow.mcp_server.jobs import TERMINAL_STATES
from ageflow.mcp_server.task_detail import create_task_result, detailed_task, input_key
from ageflow.mcp_server.tasks import TaskService, creation_error
from ageflow.server import InvalidRunStateError

TASKS_EXTENSION: Final = "io.modelcontextprotocol/tasks"
MODERN: Final = frozenset(MODERN_PROTOCOL_VERSIONS)


class TaskIdParams(types.RequestParams):
    model_config = ConfigDict(extra="allow")
    task_id: StrictStr = Field(alias="taskId", min_length=1)


class UpdateTaskParams(TaskIdParams):
    input_responses: dict[str, Any] = Field(alias="inputResponses")


class _Answer(BaseModel):
    """An elicitation result answering a checkpoint's input request."""

    action: str
    content: dict[str, Any] | None = None


def declares_tasks(ctx: ServerRequestContext[Any, Any]) -> bool:
    """Whether this request declared the extension (2026-07-28 per-request capabilities)."""
    if ctx.protocol_version not in MODERN:
        return False
    try:
        require_client_extension(ctx, TASKS_EXTENSION)
    except MCPError:
        return False
    return True


def _invalid(message: str) -> MCPError:
    return MCPError(types.INVALID_PARAMS, message)


def _approval(answer: object) -> bool | None:
    """True/False from an answer to a checkpoint; None for a dismissed one (cancel)."""
    try:
        parsed = _Answer.model_validate(answer)
    except ValidationError as exc:
        raise _invalid("an input response must be an elicitation result") from exc
    if parsed.action == "decline":
        return False
    if parsed.action == "cancel":
        return None
    approved = None if parsed.content is None else parsed.content.get("approved")
    if parsed.action != "accept" or not isinstance(approved, bool):
        raise _invalid('an accepted answer must carry content {"approved": boolean}')
    return approved


class TasksExtension(Extension):
    """Workflow tools as durable tasks: ``service`` holds them in the job store."""

    identifier = TASKS_EXTENSION

    def __init__(
        self, service: TaskService, tools: Collection[str], required: Collection[str] = ()
    ) -> None:
        self.service = service
        self.workflow_tools = frozenset(tools)
        self.required = frozenset(required)

    def methods(self) -> Sequence[MethodBinding]:
        return (
            MethodBinding("tasks/get", TaskIdParams, self._get, protocol_versions=MODERN),
            MethodBinding("tasks/update", UpdateTaskParams, self._update, protocol_versions=MODERN),
            MethodBinding("tasks/cancel", TaskIdParams, self._cancel, protocol_versions=MODERN),
        )

    async def intercept_tool_call(
        self,
        params: types.CallToolRequestParams,
        ctx: ServerRequestContext[Any, Any],
        call_next: CallNext,
    ) -> HandlerResult:
        if params.name not in self.workflow_tools:
            return await call_next(ctx)
        if not declares_tasks(ctx):
            if params.name in self.required:
                if ctx.protocol_version in MODERN:
                    require_client_extension(ctx, TASKS_EXTENSION)  # raises -32021
                raise MCPError(
                    types.METHOD_NOT_FOUND, f"tool {params.name} must be called as a task"
                )
            return await call_next(ctx)
        try:
            record = await self.service.create_record(params.name, params.arguments)
        except Exception as exc:
            raise creation_error(exc) from exc
        return create_task_result(record, self.service.ttl_ms)

    async def _get(self, ctx: ServerRequestContext[Any, Any], params: Any) -> HandlerResult:
        require_client_extension(ctx, TASKS_EXTENSION)
        record = await self.service.record(params.task_id, settle=True)
        return detailed_task(record, self.service.ttl_ms, self.service.jobs)

    async def _update(self, ctx: ServerRequestContext[Any, Any], params: Any) -> HandlerResult:
        """Persist the answer to the outstanding checkpoint and resume the run at once;
        responses under any other key (unknown, already answered) are ignored."""
        require_client_extension(ctx, TASKS_EXTENSION)
        task_id: str = params.task_id
        record = await self.service.record(task_id)
        key = input_key(record)
        if key is not None and key in params.input_responses:
            approved = _approval(params.input_responses[key])
            if approved is not None:
                with suppress(InvalidRunStateError):  # answered elsewhere meanwhile
                    await self.service.jobs.active_runner().resume(task_id, approved)
        return {}

    async def _cancel(self, ctx: ServerRequestContext[Any, Any], params: Any) -> HandlerResult:
        """Acknowledge; a task that has not ended yet is cancelled (eventually consistent,
        as the extension says: a finished task stays as it ended)."""
        require_client_extension(ctx, TASKS_EXTENSION)
        record = await self.service.record(params.task_id)
        if record.state not in TERMINAL_STATES:
            await self.service.jobs.cancel(params.task_id)
        return {}


def install_extension(server: Server[Any], extension: TasksExtension, call_tool: Any) -> None:
    """Apply ``extension`` to the SDK's low-level server as ``MCPServer`` applies one:
    advertise it (``server/discover``), bind its methods and wrap ``tools/call`` in its
    interceptor. Where the 2025-11-25 form already serves a method (``tasks/get``,
    ``tasks/cancel``), the request is routed by protocol version: 2026-07-28 here, the
    handshake versions there. Params are validated per form, so a malformed request is
    ``-32602`` either way."""
    for binding in extension.methods():
        legacy = server.get_request_handler(binding.method)
        server.add_request_handler(
            binding.method, types.RequestParams, _by_version(binding, legacy)
        )
    server.extensions[extension.identifier] = extension.settings()
    server.add_request_handler(
        "tools/call", types.CallToolRequestParams, compose_tool_call_handler([extension], call_tool)
    )


def _by_version(binding: MethodBinding, legacy: Any) -> Any:
    async def handle(ctx: ServerRequestContext[Any, Any], _: types.RequestParams) -> HandlerResult:
        modern = ctx.protocol_version in MODERN
        if not modern and legacy is None:
            raise MCPError(types.METHOD_NOT_FOUND, "Method not found", binding.method)
        params_type = binding.params_type if modern else legacy.params_type
        raw: Mapping[str, Any] = ctx.params if isinstance(ctx.params, Mapping) else {}
        try:
            params = params_type.model_validate(raw, by_name=False)
        except ValidationError as exc:
            raise _invalid(f"invalid params for {binding.method}") from exc
        handler = binding.handler if modern else legacy.handler
        return await handler(ctx, params)

    return handle
