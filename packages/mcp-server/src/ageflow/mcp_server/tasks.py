"""MCP Tasks (the 2025-11-25 experimental form) on the durable job store.

A ``tools/call`` whose params carry ``task`` is answered at once with a task handle instead
of the tool's result: the task is an async job (a run of the RunStore), created and stored
before the handle is returned, so it survives a restart of the server like any job. The
client then polls ``tasks/get``, blocks on ``tasks/result`` for the tool's
``CallToolResult``, lists with ``tasks/list`` and stops one with ``tasks/cancel``.

Job states map to task statuses: running -> ``working``, awaiting-checkpoint ->
``input_required`` (the status message asks the checkpoint's question), done ->
``completed``, failed -> ``failed``, cancelled -> ``cancelled``. A task id is its job id,
so the job tools (``resume_workflow`` answers a checkpoint) act on tasks too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Collection, Mapping
from contextlib import suppress
from typing import Any, Final

import anyio
import mcp.types as types
from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPError

from ageflow.core.errors import sole_error
from ageflow.mcp_server.errors import ErrorCode, McpServerError, format_error_result
from ageflow.mcp_server.jobs import TERMINAL_STATES, JobService
from ageflow.mcp_server.principal import PRINCIPAL_KEY, current_principal
from ageflow.mcp_server.task_detail import POLL_INTERVAL_MS, STATUS, call_tool_result, iso
from ageflow.mcp_server.tool_result import to_call_tool_result
from ageflow.server import InvalidRunStateError, RunRecord

TASK_POLL_INTERVAL_MS: Final = POLL_INTERVAL_MS
RELATED_TASK: Final = "io.modelcontextprotocol/related-task"
# Asks the client to approve a checkpoint: True/False, or None when it cannot or will not say.
Approver = Callable[[str], Awaitable[bool | None]]
_RESULT_WAIT_S: Final = 0.5  # between looks at the store while tasks/result waits
_LIST_LIMIT: Final = 100


def _unknown(task_id: object) -> MCPError:
    # Unknown, expired, deleted or malformed ids get the same answer: nothing leaks.
    return MCPError(types.INVALID_PARAMS, f"unknown task: {task_id!r}")


class TaskService:
    """Tasks over the server's :class:`JobService`; ``ttl_ms`` is how long a finished task
    is kept (the job TTL)."""

    def __init__(self, jobs: JobService, ttl_ms: int) -> None:
        self.jobs = jobs
        self.ttl_ms = ttl_ms

    def task_of(self, record: RunRecord) -> types.Task:
        status = STATUS[record.state]
        message = None
        pending = record.pending_checkpoint
        if status == "input_required" and pending is not None:
            message = f"[{pending.task_name}] {pending.message}: answer with resume_workflow"
        elif record.state == "failed" and record.error is not None:
            message = record.error.message
        return types.Task(
            task_id=record.run_id,
            status=status,
            status_message=message,
            created_at=iso(record.created_at),
            last_updated_at=iso(record.last_event_at),
            ttl=self.ttl_ms,
            poll_interval=TASK_POLL_INTERVAL_MS,
        )

    async def create(
        self, workflow_name: str, args: dict[str, Any] | None
    ) -> types.CreateTaskResult:
        """Start the workflow as a job; the handle comes back once the job is stored."""
        return types.CreateTaskResult(
            task=self.task_of(await self.create_record(workflow_name, args))
        )

    async def create_record(self, workflow_name: str, args: dict[str, Any] | None) -> RunRecord:
        """Start the workflow as a job of the current principal; its record once stored."""
        started = await self.jobs.start(workflow_name, args, {PRINCIPAL_KEY: current_principal()})
        return await self.record(started["jobId"])

    async def get(self, task_id: str) -> types.GetTaskResult:
        # The status tool's short long-poll: a poll landing as the task ends sees the end.
        task = self.task_of(await self.record(task_id, settle=True))
        return types.GetTaskResult(**task.model_dump())

    async def cancel(self, task_id: str) -> types.CancelTaskResult:
        record = await self.record(task_id)
        if record.state in TERMINAL_STATES:
            raise MCPError(
                types.INVALID_PARAMS, f"task {task_id} is already {STATUS[record.state]}"
            )
        await self.jobs.cancel(task_id)
        task = self.task_of(await self.record(task_id))
        return types.CancelTaskResult(**task.model_dump())

    async def list(self) -> types.ListTasksResult:
        runner = self.jobs.active_runner()
        records = await runner.list_records(
            workflow_names=list(self.jobs.workflows), limit=_LIST_LIMIT
        )
        principal = current_principal()
        tasks = [
            self.task_of(record)
            for record in records
            if record.policy.extra.get(PRINCIPAL_KEY, principal) == principal
        ]
        return types.ListTasksResult(tasks=tasks)

    async def result(self, task_id: str, ask: Approver | None = None) -> dict[str, Any]:
        """The tool's result once the task has ended (waits until then).

        A task that waits at a checkpoint meanwhile is put to the client through ``ask``
        (an elicitation on this request, the 2025-11-25 way to fill ``input_required``);
        its answer resumes the task. Without an answer (no elicitation, dismissed) the
        task keeps waiting for ``resume_workflow``.
        """
        record = await self.record(task_id)
        asked: set[str] = set()
        while record.state not in TERMINAL_STATES:
            pending = record.pending_checkpoint
            key = None if pending is None else (pending.step_key or pending.task_name)
            if ask is not None and pending is not None and key is not None and key not in asked:
                asked.add(key)
                approved = await ask(f"[{pending.task_name}] {pending.message}")
                if approved is not None:
                    with suppress(InvalidRunStateError):  # answered elsewhere meanwhile
                        await self.jobs.active_runner().resume(task_id, approved)
                record = await self.record(task_id)
                continue
            with anyio.move_on_after(_RESULT_WAIT_S):  # another replica may be running it
                await self.jobs.active_runner().wait_for(task_id, *sorted(TERMINAL_STATES))
            record = await self.record(task_id)
        return {**call_tool_result(record, self.jobs), "_meta": {RELATED_TASK: {"taskId": task_id}}}

    async def record(self, task_id: object, *, settle: bool = False) -> RunRecord:
        """The task's record, if it exists and belongs to the current principal; a job
        started through the job tools (no principal) is anyone's, as jobs are.
        Anything else is ``-32602``, the same answer for unknown, expired and foreign."""
        if not isinstance(task_id, str) or not task_id:
            raise _unknown(task_id)
        try:
            record = await self.jobs.record(task_id, settle=settle)
        except McpServerError as exc:
            if exc.code is ErrorCode.JOB_NOT_FOUND:
                raise _unknown(task_id) from exc
            raise
        owner = record.policy.extra.get(PRINCIPAL_KEY)
        if owner is not None and owner != current_principal():
            raise _unknown(task_id)
        return record


TASKS_CAPABILITY: Final = types.ServerTasksCapability(
    list=types.TasksListCapability(),
    cancel=types.TasksCancelCapability(),
    requests=types.ServerTasksRequestsCapability(
        tools=types.TasksToolsCapability(call=types.TasksCallCapability())
    ),
)


def serve_tasks(
    server: Server[Any],
    service: TaskService,
    tools: Collection[str],
    approver: Callable[[ServerRequestContext[Any]], Approver] | None = None,
) -> None:
    """Bind ``tasks/get``, ``tasks/result``, ``tasks/list`` and ``tasks/cancel`` to
    ``service`` on the SDK's low-level server, and answer a task-augmented ``tools/call``
    of one of ``tools`` (the workflow tools) with a task handle."""

    async def get(ctx: ServerRequestContext[Any], params: types.GetTaskRequestParams) -> Any:
        return await service.get(params.task_id)

    async def result(
        ctx: ServerRequestContext[Any], params: types.GetTaskPayloadRequestParams
    ) -> Any:
        ask = None if approver is None else approver(ctx)
        return to_call_tool_result(await service.result(params.task_id, ask))

    async def list_tasks(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams
    ) -> Any:
        return await service.list()

    async def cancel(ctx: ServerRequestContext[Any], params: types.CancelTaskRequestParams) -> Any:
        return await service.cancel(params.task_id)

    server.add_request_handler("tasks/get", types.GetTaskRequestParams, get)
    server.add_request_handler("tasks/result", types.GetTaskPayloadRequestParams, result)
    server.add_request_handler("tasks/list", types.PaginatedRequestParams, list_tasks)
    server.add_request_handler("tasks/cancel", types.CancelTaskRequestParams, cancel)
    server.middleware.append(_TaskCalls(service, frozenset(tools)))


class _TaskCalls:
    """Answers a ``tools/call`` that asks for a task (``params.task``) with the task handle.

    A server middleware, not the tool handler: the SDK checks a ``tools/call`` handler's
    result against ``CallToolResult``, and a task handle is a ``CreateTaskResult``.
    """

    def __init__(self, service: TaskService, tools: frozenset[str]) -> None:
        self.service = service
        self.tools = tools

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> Any:
        params = ctx.params
        if (
            ctx.method != "tools/call"
            or not isinstance(params, Mapping)
            or not isinstance(params.get("task"), Mapping)
            or params.get("name") not in self.tools
        ):
            return await call_next(ctx)
        arguments = params.get("arguments")
        try:
            created = await self.service.create(
                str(params["name"]), arguments if isinstance(arguments, dict) else None
            )
        except Exception as exc:
            raise creation_error(exc) from exc
        return created.model_dump(by_alias=True, exclude_none=True, mode="json")


def creation_error(exc: BaseException) -> MCPError:
    """No task was created: a JSON-RPC error (the client waits for a task handle, not a
    tool result), with our typed error as its data."""
    failed = format_error_result(sole_error(exc))
    error = json.loads(failed["content"][0]["text"])
    code = (
        types.INVALID_PARAMS
        if error["errorCode"] == ErrorCode.INPUT_VALIDATION_FAILED
        else types.INTERNAL_ERROR
    )
    return MCPError(code, error["message"], error)


class TaskServer(Server[Any]):
    """The SDK's low-level server, advertising the tasks capability in its handshake."""

    def get_capabilities(self, *args: Any, **kwargs: Any) -> types.ServerCapabilities:
        capabilities = super().get_capabilities(*args, **kwargs)
        return capabilities.model_copy(update={"tasks": TASKS_CAPABILITY})
