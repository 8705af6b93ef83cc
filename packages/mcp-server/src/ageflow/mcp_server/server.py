"""The MCP server for one or more workflows: one tool each, called synchronously.

``create_mcp_server`` builds an :class:`McpServer`. Its transport-free
:meth:`McpServer.call_tool` runs the whole sync path (input validation, a concurrency
permit, the run under the composed ceilings, checkpoints, output validation) and always
answers with a tool result dict, never raising for a tool failure. ``McpServer.server`` is
an SDK low-level ``Server`` wired to it, ready for any SDK transport or the SDK's
in-process ``Client``. Its pieces: ``tool_call`` (the types), ``_tool_pipeline``,
``_hitl``, ``_progress``, ``_sdk_connection`` and ``_sdk_server`` (the SDK wiring).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import mcp.types as types
from mcp.server.lowlevel import Server

from ageflow.core.registry import RunnerRegistry
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server._hitl import job_decider
from ageflow.mcp_server._sdk_server import build_sdk_server
from ageflow.mcp_server._tool_pipeline import as_dict, cause, requires_task, run_sync, wrap
from ageflow.mcp_server.ceilings import CliCeilings, compose_ceilings
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
from ageflow.mcp_server.logging_bridge import DEFAULT_LOG_LEVEL, LogLevel, SessionLogLevels
from ageflow.mcp_server.tasks import TaskService
from ageflow.mcp_server.tool_call import (
    CallNext,
    ClientConnection,
    ElicitAnswer,
    HitlStrategy,
    Middleware,
    OnHitl,
    ToolCallRequest,
    ToolResult,
)
from ageflow.mcp_server.tool_definition import (
    ToolDefinition,
    build_tool_definition,
    tool_output,
    validate_tool_input,
)
from ageflow.server import RunStore, WorkflowRunner, create_runner

__all__ = [
    "DEFAULT_JOB_CHECKPOINT_TTL_MS",
    "DEFAULT_JOB_LEASE_MS",
    "DEFAULT_JOB_TTL_MS",
    "DEFAULT_SERVER_NAME",
    "DEFAULT_SERVER_VERSION",
    "CallNext",
    "ClientConnection",
    "ElicitAnswer",
    "HitlStrategy",
    "McpServer",
    "Middleware",
    "OnHitl",
    "ToolCallRequest",
    "ToolResult",
    "create_mcp_server",
]

DEFAULT_SERVER_NAME = "ageflow-mcp"
DEFAULT_SERVER_VERSION = "0.1.0"
DEFAULT_JOB_TTL_MS = 30 * 60_000
DEFAULT_JOB_LEASE_MS = 15_000  # a job stays this server's this long without a renewal
DEFAULT_JOB_CHECKPOINT_TTL_MS = 60 * 60_000


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
        self.server: Server[Any] = build_sdk_server(self, self._workflows)

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
        return job_decider(self, workflow)

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
            required = requires_task(self._workflows[name])
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
            handle = wrap(layer, handle)
        return await handle(ToolCallRequest(name, args))

    async def _route(
        self, request: ToolCallRequest, connection: ClientConnection | None
    ) -> ToolResult:
        definition = self.tools.get(request.tool_name)
        if definition is None and self.jobs is not None and self.jobs.handles(request.tool_name):
            return await self._call_job_tool(self.jobs, request)
        if definition is None and self._is_async_tool_name(request.tool_name):
            return as_dict(
                error_result(
                    ErrorCode.ASYNC_MODE_DISABLED,
                    f'async mode is disabled; tool "{request.tool_name}" is unavailable',
                    {"name": request.tool_name},
                )
            )
        if definition is None:
            return as_dict(
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
            return as_dict(format_error_result(cause(exc)))
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
                output = await run_sync(
                    self,
                    self._workflows[definition.name],
                    self._composed[definition.name].ceilings,
                    definition,
                    value,
                    connection,
                    hitl_failure,
                )
            structured = tool_output(definition, output)
        except Exception as exc:
            # An MCP failure raised inside the checkpoint handler is the real reason even
            # when the run reports it wrapped in its own error.
            return as_dict(format_error_result(hitl_failure[0] if hitl_failure else cause(exc)))
        return {
            "isError": False,
            "content": [{"type": "text", "text": json.dumps(structured)}],
            "structuredContent": structured,
        }


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
