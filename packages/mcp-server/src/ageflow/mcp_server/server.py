"""The MCP server for one or more workflows: one tool each, called synchronously.

``create_mcp_server`` builds an :class:`McpServer`. Its transport-free
:meth:`McpServer.call_tool` runs the whole sync path (input validation, a concurrency
permit, the run under the composed ceilings, checkpoints, output validation) and always
answers with a tool result dict, never raising for a tool failure. ``McpServer.server`` is
an SDK low-level ``Server`` wired to it, ready for any SDK transport or the SDK's
in-process ``Client``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.shared.exceptions import MCPDeprecationWarning, NoBackChannelError

from ageflow.core.events import (
    BudgetWarningEvent,
    CheckpointEvent,
    LoopIterationEvent,
    TaskCompleteEvent,
    TaskErrorEvent,
    TaskStartEvent,
    WorkflowEvent,
)
from ageflow.core.registry import RunnerRegistry
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.errors import HitlRejectedError
from ageflow.mcp_server.ceilings import CliCeilings, EffectiveCeilings, compose_ceilings
from ageflow.mcp_server.concurrency import (
    ConcurrencyConfig,
    ConcurrencyController,
    ResolvedConcurrencyConfig,
    resolve_concurrency_config,
    spread_per_workflow_limit,
)
from ageflow.mcp_server.errors import ErrorCode, McpServerError, error_result, format_error_result
from ageflow.mcp_server.job_store import open_job_store
from ageflow.mcp_server.jobs import (
    OBSERVER_TOOLS,
    START_PREFIX,
    CheckpointDecider,
    JobService,
    JobTool,
)
from ageflow.mcp_server.logging_bridge import (
    DEFAULT_LOG_LEVEL,
    CallLog,
    LogLevel,
    SessionLogLevels,
)
from ageflow.mcp_server.sse_polling import closing_stream_periodically
from ageflow.mcp_server.task_detail import APPROVAL_SCHEMA
from ageflow.mcp_server.task_extension import TasksExtension, install_extension
from ageflow.mcp_server.tasks import Approver, TaskServer, TaskService, serve_tasks
from ageflow.mcp_server.tool_definition import (
    ToolDefinition,
    build_tool_definition,
    tool_output,
    validate_tool_input,
)
from ageflow.mcp_server.tool_result import to_call_tool_result
from ageflow.server import InMemoryRunStore, RunPolicy, RunStore, WorkflowRunner, create_runner

HitlStrategy = Literal["elicit", "auto", "fail"]
OnHitl = Callable[[str, str], Awaitable[bool]]
ToolResult = dict[str, Any]
"""An MCP ``tools/call`` result as a dict: ``isError``, ``content``, then
``structuredContent`` (a success) or ``_meta`` (an error, see ``error_results``)."""

DEFAULT_SERVER_NAME = "ageflow-mcp"
DEFAULT_SERVER_VERSION = "0.1.0"
DEFAULT_JOB_TTL_MS = 30 * 60_000
DEFAULT_JOB_LEASE_MS = 15_000  # a job stays this server's this long without a renewal
DEFAULT_JOB_CHECKPOINT_TTL_MS = 60 * 60_000


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


class _Progress:
    """Numbered progress notifications of one call: ``"<phase>: <JSON detail>"``."""

    def __init__(self, connection: ClientConnection | None) -> None:
        self._connection = connection
        self._count = 0

    async def emit(self, phase: str, **detail: Any) -> None:
        if self._connection is None:
            return
        count = self._count
        self._count += 1
        text = json.dumps(detail, default=str, separators=(",", ":"))
        await self._connection.progress(count, f"{phase}: {text}")

    async def on_event(self, event: WorkflowEvent) -> None:
        # The original defined these phases but never sent them (D26).
        if isinstance(event, TaskStartEvent):
            await self.emit("task_started", task=event.task_name)
        elif isinstance(event, TaskCompleteEvent):
            metrics = event.metrics.model_dump(mode="json", by_alias=True)
            await self.emit("task_completed", task=event.task_name, metrics=metrics)
        elif isinstance(event, TaskErrorEvent):
            await self.emit("task_failed", task=event.task_name, error=event.error.message)
        elif isinstance(event, LoopIterationEvent):
            await self.emit("loop_iteration", task=event.task_name, iteration=event.iteration)
        elif isinstance(event, CheckpointEvent):
            await self.emit("awaiting_approval", task=event.task_name, message=event.message)
        elif isinstance(event, BudgetWarningEvent):
            await self.emit("budget_warning", spent=event.spent_usd, limit=event.limit_usd)


def _unlimited_axes(ceilings: EffectiveCeilings) -> list[str]:
    axes = (
        ("cost", ceilings.max_cost_usd),
        ("duration", ceilings.max_duration_sec),
        ("turns", ceilings.max_turns),
    )
    return [name for name, value in axes if value is None]


def _with_input(definition: ToolDefinition, workflow: WorkflowDef, value: Any) -> tuple[Any, Any]:
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


class McpServer:
    """Workflows offered as MCP tools. Build it with :func:`create_mcp_server`."""

    def __init__(
        self,
        workflows: Sequence[WorkflowDef],
        *,
        name: str,
        version: str,
        hitl: HitlStrategy,
        on_hitl: OnHitl | None,
        middleware: Sequence[Middleware],
        ceilings: CliCeilings,
        concurrency: ConcurrencyController,
        registry: RunnerRegistry | None,
        async_mode: bool = False,
        job_store: RunStore | None = None,
        job_db_path: str | os.PathLike[str] | None = None,
        job_ttl_ms: int = DEFAULT_JOB_TTL_MS,
        job_lease_ms: int = DEFAULT_JOB_LEASE_MS,
        job_checkpoint_ttl_ms: int = DEFAULT_JOB_CHECKPOINT_TTL_MS,
        log_level: LogLevel = DEFAULT_LOG_LEVEL,
        tasks: bool = True,
    ) -> None:
        self.name = name
        self.log_levels = SessionLogLevels(log_level)
        self.sse_close_seconds: float | None = None
        """SEP-1699: close a sync call's SSE stream this often (set by the HTTP transport)."""
        self.version = version
        self.hitl: HitlStrategy = hitl
        self.on_hitl = on_hitl
        self.ceilings = ceilings
        self.concurrency = concurrency
        self.registry = registry
        self._workflows = {wf.name: wf for wf in workflows}
        # Workflows and operator ceilings are fixed for the server's life: each workflow's
        # effective ceilings (and clamp warnings) are worked out once, not on every call.
        self._composed = {wf.name: compose_ceilings(wf, ceilings) for wf in workflows}
        self.tools: dict[str, ToolDefinition] = {
            wf.name: build_tool_definition(wf, async_mode=async_mode) for wf in workflows
        }
        self.middleware = tuple(middleware)
        self.async_mode = async_mode
        self.job_store = job_store
        self.job_db_path = job_db_path
        self.job_ttl_ms = job_ttl_ms
        self.job_lease_ms = job_lease_ms
        self.job_checkpoint_ttl_ms = job_checkpoint_ttl_ms
        strategy = "on_hitl" if on_hitl is not None else hitl
        self.jobs: JobService | None = (
            JobService(
                self._workflows,
                self.tools,
                ceilings={name: c.ceilings for name, c in self._composed.items()},
                concurrency=concurrency,
                strategy=strategy,
                decider=self._job_decider,
            )
            if async_mode
            else None
        )
        # MCP Tasks ride on the job store: only in async mode.
        self.task_service = (
            TaskService(self.jobs, job_ttl_ms) if self.jobs is not None and tasks else None
        )
        self.server: Server[Any] = self._build_sdk_server()

    @property
    def ceiling_warnings(self) -> tuple[str, ...]:
        """The operator's clamped or ignored ceilings, one newline-terminated line each
        (D27), for a transport or the CLI to write to stderr; the calls never print."""
        return tuple(
            f"{line[:-1]} (workflow {name})\n"
            for name, composed in self._composed.items()
            for line in composed.warnings
        )

    @property
    def runner(self) -> WorkflowRunner | None:
        """The job runner while :meth:`running` is open (async mode), else None."""
        return self.jobs.runner if self.jobs is not None else None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[McpServer]:
        """Own the job runner for the block: ``async with server.running(): ...``.

        In async mode this opens the job store (``job_store``, else SQLite at
        ``job_db_path`` or ``.ageflow/jobs.sqlite``; ``":memory:"`` keeps jobs in memory)
        and a runner that recovers the unfinished jobs of this server's workflows. On exit
        the runner stops; unfinished jobs stay in the store for the next server. Without
        async mode there is nothing to own and the block just runs.
        """
        jobs = self.jobs
        if jobs is None:
            yield self
            return
        if jobs.runner is not None:
            raise RuntimeError("McpServer.running(): the server is already running")
        async with AsyncExitStack() as stack:
            store = self.job_store
            if store is None:
                store = await stack.enter_async_context(open_job_store(self.job_db_path))
            runner = await stack.enter_async_context(
                create_runner(
                    store=store,
                    registry=self.registry,
                    workflows=list(jobs.workflows.values()),
                    ttl_ms=self.job_ttl_ms,
                    checkpoint_ttl_ms=self.job_checkpoint_ttl_ms,
                    lease_ms=self.job_lease_ms,
                )
            )
            jobs.runner = runner
            try:
                yield self
            finally:
                jobs.runner = None

    def _job_decider(self, workflow: WorkflowDef) -> CheckpointDecider | None:
        """A job's checkpoint handler when something beyond the stored policy decides.

        ``on_hitl`` answers checkpoints in async mode too (D35), after the workflow's own
        hook; with ``fail`` the own hook may still approve. Otherwise the policy stored
        with the job decides (``auto`` approves, ``elicit`` waits for resume_workflow),
        which is also all a recovered job has.
        """
        own_hook = workflow.hooks.on_checkpoint
        on_hitl = self.on_hitl
        if on_hitl is None and (self.hitl != "fail" or own_hook is None):
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

    def list_tools(self) -> list[types.Tool]:
        """One SDK tool per workflow, in workflow order; in async mode then ``start_<wf>``
        per workflow and the four observer tools once."""
        listed: list[ToolDefinition | JobTool] = list(self.tools.values())
        if self.jobs is not None:
            listed.extend(self.jobs.tools())

        # With tasks, each workflow tool may also be called as a task (2025-11-25 form).
        def execution(name: str) -> types.ToolExecution | None:
            if self.task_service is None or name not in self.tools:
                return None
            required = _requires_task(self._workflows[name])
            return types.ToolExecution(task_support="required" if required else "optional")

        return [
            types.Tool(
                name=tool.name,
                description=tool.description,
                input_schema=tool.input_schema,
                output_schema=tool.output_schema,
                execution=execution(tool.name),
            )
            for tool in listed
        ]

    async def call_tool(
        self,
        name: str,
        args: dict[str, Any] | None,
        *,
        connection: ClientConnection | None = None,
    ) -> ToolResult:
        """Call a tool through the middleware; failures come back as error results."""

        async def route(request: ToolCallRequest) -> ToolResult:
            return await self._route(request, connection)

        handle: CallNext = route
        for layer in reversed(self.middleware):
            handle = _wrap(layer, handle)
        return await handle(ToolCallRequest(name, args))

    async def _route(
        self, request: ToolCallRequest, connection: ClientConnection | None
    ) -> ToolResult:
        definition = self.tools.get(request.tool_name)
        if definition is None and self.jobs is not None and self.jobs.handles(request.tool_name):
            return await self._call_job_tool(self.jobs, request)
        if definition is None and self._is_async_tool_name(request.tool_name):
            return _as_dict(
                error_result(
                    ErrorCode.ASYNC_MODE_DISABLED,
                    f'async mode is disabled; tool "{request.tool_name}" is unavailable',
                    {"name": request.tool_name},
                )
            )
        if definition is None:
            return _as_dict(
                error_result(
                    ErrorCode.WORKFLOW_FAILED,
                    f"unknown tool: {request.tool_name}",
                    {"name": request.tool_name},
                )
            )
        return await self._call_sync(definition, request.args, connection)

    def _is_async_tool_name(self, name: str) -> bool:
        if any(name == tool.name for tool in OBSERVER_TOOLS):
            return True
        return name.startswith(START_PREFIX) and name[len(START_PREFIX) :] in self.tools

    async def _call_job_tool(self, jobs: JobService, request: ToolCallRequest) -> ToolResult:
        try:
            structured = await jobs.call(request.tool_name, request.args)
        except Exception as exc:
            return _as_dict(format_error_result(_cause(exc)))
        return {
            "isError": False,
            "content": [{"type": "text", "text": json.dumps(structured)}],
            "structuredContent": structured,
        }

    async def _call_sync(
        self,
        definition: ToolDefinition,
        args: dict[str, Any] | None,
        connection: ClientConnection | None,
    ) -> ToolResult:
        hitl_failure: list[McpServerError] = []
        try:
            value = validate_tool_input(definition, args)
            with self.concurrency.acquire_start(definition.name):
                output = await self._run(definition, value, connection, hitl_failure)
            structured = tool_output(definition, output)
        except Exception as exc:
            # An MCP failure raised inside the checkpoint handler is the real reason even
            # when the run reports it wrapped in its own error.
            return _as_dict(format_error_result(hitl_failure[0] if hitl_failure else _cause(exc)))
        return {
            "isError": False,
            "content": [{"type": "text", "text": json.dumps(structured)}],
            "structuredContent": structured,
        }

    async def _run(
        self,
        definition: ToolDefinition,
        value: Any,
        connection: ClientConnection | None,
        hitl_failure: list[McpServerError],
    ) -> Any:
        workflow = self._workflows[definition.name]
        progress = _Progress(connection)
        ceilings = self._composed[definition.name].ceilings
        unlimited = _unlimited_axes(ceilings)
        if unlimited:
            await progress.emit("unlimited_warning", axes=unlimited)
        # The runner enforces cost, deadline and turns itself, so a timeout stops the
        # run's work instead of only the wait for it (D23, D25).
        policy = ceilings.apply_to(RunPolicy(checkpoint="reject"), now_ms())
        run_workflow, run_input = _with_input(definition, workflow, value)
        on_checkpoint = self._checkpoint_handler(workflow, connection, progress, hitl_failure)
        async with (
            create_runner(store=InMemoryRunStore(), registry=self.registry) as runner,
            runner.stream(
                run_workflow, run_input, on_checkpoint=on_checkpoint, policy=policy
            ) as events,
        ):
            async for event in events:
                await progress.on_event(event)
                if isinstance(connection, _SdkConnection):
                    await connection.log_event(event)
            result = events.result
        return result.outputs.get(definition.output_task.name)

    def _checkpoint_handler(
        self,
        workflow: WorkflowDef,
        connection: ClientConnection | None,
        progress: _Progress,
        hitl_failure: list[McpServerError],
    ) -> Callable[[CheckpointEvent], Awaitable[bool]]:
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
            if self.on_hitl is not None:
                return await self.on_hitl(task, message) is True
            if self.hitl == "auto":
                return True
            if self.hitl == "fail":
                return False
            try:
                return await self._elicit(task, message, connection, progress)
            except McpServerError as exc:
                hitl_failure.append(exc)
                raise

        return decide

    async def _elicit(
        self,
        task: str,
        message: str,
        connection: ClientConnection | None,
        progress: _Progress,
    ) -> bool:
        if connection is None or not connection.supports_elicitation:
            raise _elicitation_unsupported(task)
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

    def _task_approver(self, ctx: ServerRequestContext[Any]) -> Approver:
        """A task's checkpoint put to the client that waits on ``tasks/result``."""
        connection = _SdkConnection(ctx, self.log_levels)

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

    def _build_sdk_server(self) -> Server[Any]:
        async def list_tools(
            ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
        ) -> types.ListToolsResult:
            return types.ListToolsResult(tools=self.list_tools())

        tasks = self.task_service

        async def call_tool(
            ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
        ) -> types.CallToolResult:
            async with closing_stream_periodically(ctx, self.sse_close_seconds):
                result = await self.call_tool(
                    params.name, params.arguments, connection=_SdkConnection(ctx, self.log_levels)
                )
            return to_call_tool_result(result)

        with warnings.catch_warnings():
            # The SDK marks logging deprecated for the 2026-07-28 protocol only; clients on
            # the handshake protocols still use logging/setLevel.
            warnings.simplefilter("ignore", MCPDeprecationWarning)
            server_type = Server if tasks is None else TaskServer
            server = server_type(
                self.name,
                version=self.version,
                on_list_tools=list_tools,
                on_call_tool=call_tool,
                on_set_logging_level=self.log_levels.set_level_handler,
            )
        if tasks is not None:
            serve_tasks(server, tasks, set(self.tools), self._task_approver)
            required = [name for name, wf in self._workflows.items() if _requires_task(wf)]
            extension = TasksExtension(tasks, set(self.tools), required)
            install_extension(server, extension, call_tool)
        return server


def _requires_task(workflow: WorkflowDef) -> bool:
    return bool(workflow.mcp) and getattr(workflow.mcp, "task_support", None) == "required"


def _elicitation_unsupported(task: str) -> McpServerError:
    return McpServerError(
        ErrorCode.HITL_ELICITATION_UNSUPPORTED,
        f"HITL_ELICITATION_UNSUPPORTED: [{task}] client does not support elicitation; "
        "HITL checkpoint cannot be resolved",
        {"task": task},
    )


def _cause(exc: BaseException) -> BaseException:
    """The error a client is told about.

    Task-group wrappers around a single error carry no meaning for a client. A rejected
    checkpoint on a sync call is the HITL denial the original reported (its non-TTY
    path), so it gets HITL_DENIED here; format_error_result leaves HitlRejectedError
    generic for the other paths.
    """
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, HitlRejectedError):
        return McpServerError(ErrorCode.HITL_DENIED, str(exc), {"taskName": exc.task_name})
    return exc


def _as_dict(result: Mapping[str, Any]) -> ToolResult:
    return dict(result)


def _wrap(layer: Middleware, inner: CallNext) -> CallNext:
    async def call(request: ToolCallRequest) -> ToolResult:
        return await layer(request, inner)

    return call


class _SdkConnection:
    """A :class:`ClientConnection` over the SDK request context of one ``tools/call``."""

    def __init__(
        self, ctx: ServerRequestContext[Any], levels: SessionLogLevels | None = None
    ) -> None:
        self._ctx = ctx
        self._log = CallLog(ctx, levels)

    @property
    def supports_elicitation(self) -> bool:
        wanted = types.ClientCapabilities(elicitation=types.ElicitationCapability())
        return self._ctx.session.check_client_capability(wanted)

    async def elicit(self, message: str, schema: dict[str, Any]) -> ElicitAnswer:
        try:
            answer = await self._ctx.session.elicit_form(
                message, schema, related_request_id=self._ctx.request_id
            )
        except NoBackChannelError as exc:
            # Connections without server-to-client requests cannot elicit at all.
            task = message[1 : message.index("]")] if message.startswith("[") else ""
            raise _elicitation_unsupported(task) from exc
        return ElicitAnswer(answer.action, answer.content)

    async def progress(self, progress: float, message: str) -> None:
        await self._ctx.session.report_progress(progress, None, message)

    async def log_event(self, event: WorkflowEvent) -> None:
        await self._log.on_event(event)


def create_mcp_server(
    workflows: WorkflowDef | Sequence[WorkflowDef],
    *,
    name: str | None = None,
    version: str = DEFAULT_SERVER_VERSION,
    hitl: HitlStrategy = "elicit",
    on_hitl: OnHitl | None = None,
    middleware: Sequence[Middleware] = (),
    ceilings: CliCeilings | None = None,
    concurrency: ConcurrencyConfig
    | ResolvedConcurrencyConfig
    | ConcurrencyController
    | None = None,
    registry: RunnerRegistry | None = None,
    async_mode: bool = False,
    job_store: RunStore | None = None,
    job_db_path: str | os.PathLike[str] | None = None,
    job_ttl_ms: int = DEFAULT_JOB_TTL_MS,
    job_lease_ms: int = DEFAULT_JOB_LEASE_MS,
    job_checkpoint_ttl_ms: int = DEFAULT_JOB_CHECKPOINT_TTL_MS,
    log_level: LogLevel = DEFAULT_LOG_LEVEL,
    tasks: bool = True,
) -> McpServer:
    """An MCP server offering each workflow as a tool.

    ``name`` defaults to the workflow's name for one workflow, else ``"ageflow-mcp"``.
    ``on_hitl(task, message)`` answers every checkpoint the workflow's own hook did not
    approve (the ``hitl`` strategy is then unused). One concurrency controller serves all
    workflows. ``async_mode`` adds the job tools; they work inside ``async with
    server.running()``, which owns the job runner on ``job_store`` (else a SQLite file at
    ``job_db_path``, default ``.ageflow/jobs.sqlite``; ``":memory:"`` for memory).
    ``log_level`` is the default level of the run's log messages (``logging_bridge``).
    With ``async_mode``, ``tasks`` (default on) also serves MCP Tasks: a ``tools/call``
    with ``task`` params starts the workflow as a job and answers with a task handle.
    Raises ValueError for no workflow, duplicate names or concurrency limits naming an
    unknown workflow; McpServerError for a workflow that cannot be a tool.
    """
    listed = [workflows] if isinstance(workflows, WorkflowDef) else list(workflows)
    if not listed:
        raise ValueError("create_mcp_server: at least one workflow must be provided")
    seen: set[str] = set()
    for workflow in listed:
        if workflow.name in seen:
            raise ValueError(
                f'create_mcp_server: duplicate workflow name "{workflow.name}" — tool names '
                "must be unique"
            )
        seen.add(workflow.name)
    if isinstance(concurrency, ConcurrencyController):
        controller = concurrency
    else:
        if isinstance(concurrency, ConcurrencyConfig):
            concurrency = spread_per_workflow_limit(concurrency, seen)
        controller = ConcurrencyController(
            resolve_concurrency_config(concurrency, known_workflows=seen)
        )
    if name is None:
        name = listed[0].name if len(listed) == 1 else DEFAULT_SERVER_NAME
    return McpServer(
        listed,
        name=name,
        version=version,
        hitl=hitl,
        on_hitl=on_hitl,
        middleware=middleware,
        ceilings=ceilings or CliCeilings(),
        concurrency=controller,
        registry=registry,
        async_mode=async_mode,
        job_store=job_store,
        job_db_path=job_db_path,
        job_ttl_ms=job_ttl_ms,
        job_lease_ms=job_lease_ms,
        job_checkpoint_ttl_ms=job_checkpoint_ttl_ms,
        log_level=log_level,
        tasks=tasks,
    )
