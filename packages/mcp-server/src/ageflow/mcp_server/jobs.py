"""Async job mode: ``start_<workflow>`` and the four observer tools on a durable runner.

A job is a run of an ``ageflow.server`` runner: its input, ceilings and checkpoint
behaviour are stored with the run (``RunPolicy``), so a new server on the same store
recovers it with all three (D1, D2, D4). Observers only read (D30) and find the jobs of
every workflow of the server (D36).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import anyio

from ageflow.core.events import CheckpointEvent
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server.ceilings import EffectiveCeilings
from ageflow.mcp_server.concurrency import ConcurrencyController, Permit
from ageflow.mcp_server.errors import ErrorCode, McpServerError, failed_run_code
from ageflow.mcp_server.tool_definition import ToolDefinition, tool_output, validate_tool_input
from ageflow.server import CheckpointPolicy, RunPolicy, RunRecord, WorkflowRunner

START_PREFIX: Final = "start_"
STATUS_TOOL: Final = "get_workflow_status"
RESULT_TOOL: Final = "get_workflow_result"
RESUME_TOOL: Final = "resume_workflow"
CANCEL_TOOL: Final = "cancel_workflow"
JOB_STATES: Final = ("running", "awaiting-checkpoint", "done", "failed", "cancelled")
TERMINAL_STATES: Final = frozenset({"done", "failed", "cancelled"})
SETTLED_STATES: Final = ("awaiting-checkpoint", *sorted(TERMINAL_STATES))
STATUS_SETTLE_S: Final = 0.005
"""How long a status call may wait for a running job to move on (a short long-poll)."""

_JOB_ID = {"type": "string", "description": "Job identifier (a UUID) returned by start_<workflow>"}
JOB_ID_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["jobId"],
    "properties": {"jobId": _JOB_ID},
    "additionalProperties": False,
}
START_OUTPUT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["jobId"],
    "properties": {
        "jobId": {"type": "string", "description": "UUID of the job; poll it with the job tools"}
    },
    "additionalProperties": False,
}
STATUS_OUTPUT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["state", "createdAt", "lastEventAt"],
    "properties": {
        "state": {"type": "string", "enum": list(JOB_STATES)},
        "currentTask": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "kind": {"type": "string", "enum": ["task", "checkpoint"]},
                "message": {"type": "string"},
            },
        },
        "progress": {
            "type": "object",
            "properties": {
                "tasksCompleted": {"type": "number"},
                "tasksTotal": {"type": "number"},
                "spentUsd": {"type": "number"},
                "limitUsd": {"type": "number"},
            },
        },
        "createdAt": {"type": "number"},
        "lastEventAt": {"type": "number"},
    },
}
RESULT_OUTPUT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "pending": {"type": "boolean"},
        "state": {"type": "string"},
        "output": {},
        "metrics": {"type": "object"},
    },
}
RESUME_INPUT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["jobId", "approved"],
    "properties": {
        "jobId": _JOB_ID,
        "approved": {"type": "boolean", "description": "true approves, false rejects"},
    },
    "additionalProperties": False,
}
RESUME_OUTPUT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["resumed"],
    "properties": {"resumed": {"type": "boolean"}},
    "additionalProperties": False,
}
CANCEL_OUTPUT_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "required": ["cancelled", "priorState"],
    "properties": {"cancelled": {"type": "boolean"}, "priorState": {"type": "string"}},
    "additionalProperties": False,
}


@dataclasses.dataclass(frozen=True, slots=True)
class JobTool:
    """One async tool as listed: name, description and both schemas."""

    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


def start_tool(definition: ToolDefinition) -> JobTool:
    return JobTool(
        name=f"{START_PREFIX}{definition.name}",
        description=(
            f"Start ageflow workflow {definition.name} in the background; returns a jobId "
            "to poll with get_workflow_status / get_workflow_result"
        ),
        input_schema=definition.input_schema,
        output_schema=START_OUTPUT_SCHEMA,
    )


OBSERVER_TOOLS: Final[tuple[JobTool, ...]] = (
    JobTool(
        STATUS_TOOL, "Poll the state and progress of a job", JOB_ID_SCHEMA, STATUS_OUTPUT_SCHEMA
    ),
    JobTool(
        RESULT_TOOL,
        "Validated output of a finished job; {pending: true} while it runs or waits",
        JOB_ID_SCHEMA,
        RESULT_OUTPUT_SCHEMA,
    ),
    JobTool(
        RESUME_TOOL,
        "Answer the checkpoint a job waits at",
        RESUME_INPUT_SCHEMA,
        RESUME_OUTPUT_SCHEMA,
    ),
    JobTool(CANCEL_TOOL, "Cancel a job (idempotent)", JOB_ID_SCHEMA, CANCEL_OUTPUT_SCHEMA),
)

CheckpointDecider = Callable[[CheckpointEvent], Awaitable[bool]]


def job_workflow(definition: ToolDefinition, workflow: WorkflowDef) -> WorkflowDef:
    """The workflow a job runs: a non-root input task reads the run's input.

    Reading it from the context (instead of baking the value in, as a sync call does)
    keeps one workflow for every job, so a recovered job gets its stored input (D3).
    """
    name = definition.input_task.name
    node = workflow.tasks.get(name)
    if node is None or not node.depends_on:
        return workflow
    tasks = dict(workflow.tasks)
    tasks[name] = dataclasses.replace(node, input=lambda ctx: ctx.input)
    return dataclasses.replace(workflow, tasks=tasks)


def checkpoint_policy(strategy: str) -> CheckpointPolicy:
    """How the runner answers a checkpoint of a job, stored with it (D4).

    ``elicit`` and ``on_hitl`` jobs pause: after a restart nobody is left to ask but the
    client, through resume_workflow.
    """
    if strategy == "auto":
        return "approve"
    if strategy == "fail":
        return "reject"
    return "pause"


def job_id_of(args: Mapping[str, Any] | None) -> str:
    if not isinstance(args, Mapping) or not isinstance(args.get("jobId"), str):
        raise McpServerError(ErrorCode.INPUT_VALIDATION_FAILED, "missing jobId", {"args": args})
    return str(args["jobId"])


def not_found(job_id: str) -> McpServerError:
    return McpServerError(ErrorCode.JOB_NOT_FOUND, f"unknown jobId: {job_id}", {"jobId": job_id})


class JobService:
    """The async tools of one server, over a runner it is handed once it runs."""

    def __init__(
        self,
        workflows: Mapping[str, WorkflowDef],
        definitions: Mapping[str, ToolDefinition],
        *,
        ceilings: Mapping[str, EffectiveCeilings],
        concurrency: ConcurrencyController,
        strategy: str,
        decider: Callable[[WorkflowDef], CheckpointDecider | None],
    ) -> None:
        self.definitions = definitions
        self.workflows = {
            name: job_workflow(definitions[name], workflow) for name, workflow in workflows.items()
        }
        self.concurrency = concurrency
        self.strategy = strategy
        self._decider = decider
        self.runner: WorkflowRunner | None = None
        # The tool list is fixed for the server's life: worked out once, not on every call.
        starts = [start_tool(definition) for definition in definitions.values()]
        self._tools: tuple[JobTool, ...] = (*starts, *OBSERVER_TOOLS)
        self._tool_names = frozenset(tool.name for tool in self._tools)
        self._ceilings = ceilings  # each workflow's effective ceilings, by name

    def tools(self) -> list[JobTool]:
        """``start_<wf>`` per workflow, then each observer once (D36)."""
        return list(self._tools)

    def handles(self, name: str) -> bool:
        return name in self._tool_names

    def active_runner(self) -> WorkflowRunner:
        """The job runner while the server runs (``SERVER_SHUTDOWN`` otherwise)."""
        return self._runner()

    async def record(self, job_id: str, *, settle: bool = False) -> RunRecord:
        """A job's record (``JOB_NOT_FOUND`` for an unknown id or another's workflow);
        with ``settle``, after the short long-poll a status call makes."""
        return await (self._settled_record(job_id) if settle else self._record(job_id))

    def _runner(self) -> WorkflowRunner:
        if self.runner is None:
            raise McpServerError(
                ErrorCode.SERVER_SHUTDOWN,
                "the job runner is not running: use `async with server.running()`",
            )
        return self.runner

    async def call(self, name: str, args: dict[str, Any] | None) -> dict[str, Any]:
        """The structured result of an async tool; failures are raised."""
        if name.startswith(START_PREFIX) and name[len(START_PREFIX) :] in self.definitions:
            return await self.start(name[len(START_PREFIX) :], args)
        if name == STATUS_TOOL:
            return self.status(await self._settled_record(job_id_of(args)))
        if name == RESULT_TOOL:
            return self.result(await self._record(job_id_of(args)))
        if name == RESUME_TOOL:
            return await self.resume(args)
        return await self.cancel(job_id_of(args))

    async def start(
        self,
        workflow_name: str,
        args: dict[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Start a job; ``extra`` is stored with its policy (a task's principal)."""
        definition = self.definitions[workflow_name]
        workflow = self.workflows[workflow_name]
        runner = self._runner()
        value = validate_tool_input(definition, args)
        start_permit = self.concurrency.acquire_start(workflow_name)
        try:
            job_permit = self.concurrency.acquire_job(workflow_name)
        except McpServerError:
            start_permit.release()
            raise
        permits: Sequence[Permit] = (start_permit, job_permit)

        def release(_: object = None) -> None:
            for permit in permits:
                permit.release()

        policy = self._ceilings[workflow_name].apply_to(
            RunPolicy(
                checkpoint=checkpoint_policy(self.strategy),
                extra={**(extra or {}), "hitl": self.strategy},
            ),
            now_ms(),
        )
        try:
            handle = await runner.fire(
                workflow,
                value,
                on_checkpoint=self._decider(workflow),
                on_complete=release,
                on_error=release,
                policy=policy,
            )
        except BaseException:
            release()
            raise
        return {"jobId": handle.run_id}

    async def _settled_record(self, job_id: str) -> RunRecord:
        """The job's record, after giving a running job up to STATUS_SETTLE_S to move on.

        A short long-poll: a status call that lands while a job finishes (its last writes
        in flight) answers with the outcome instead of sending the client round again.
        A job that keeps running costs the caller at most that much extra latency.
        """
        record = await self._record(job_id)
        if record.state != "running":
            return record
        with anyio.move_on_after(STATUS_SETTLE_S):
            await self._runner().wait_for(job_id, *SETTLED_STATES)
        return await self._record(job_id)

    async def _record(self, job_id: str) -> RunRecord:
        record = await self._runner().get_record(job_id)
        # A shared store may hold runs of workflows this server does not serve.
        if record is None or record.workflow_name not in self.workflows:
            raise not_found(job_id)
        return record

    def status(self, record: RunRecord) -> dict[str, Any]:
        status: dict[str, Any] = {
            "state": record.state,
            "createdAt": record.created_at,
            "lastEventAt": record.last_event_at,
        }
        progress = record.progress
        checkpoint = record.pending_checkpoint
        if record.state == "awaiting-checkpoint" and checkpoint is not None:
            status["currentTask"] = {
                "name": checkpoint.task_name,
                "kind": "checkpoint",
                "message": checkpoint.message,
            }
        elif isinstance(progress.get("lastTaskStart"), Mapping):
            status["currentTask"] = {"name": progress["lastTaskStart"]["taskName"], "kind": "task"}
        if progress:
            summary: dict[str, Any] = {
                "tasksCompleted": int(progress.get("tasksCompleted", 0)),
                "tasksTotal": len(self.workflows[record.workflow_name].tasks),
            }
            warning = progress.get("lastBudgetWarning")
            if isinstance(warning, Mapping):
                summary["spentUsd"] = warning.get("spentUsd")
                summary["limitUsd"] = warning.get("limitUsd")
            status["progress"] = summary
        return status

    def result(self, record: RunRecord) -> dict[str, Any]:
        job_id = record.run_id
        if record.state in ("running", "awaiting-checkpoint"):
            return {"pending": True}
        if record.state == "cancelled":
            raise McpServerError(
                ErrorCode.JOB_CANCELLED, f"job {job_id} was cancelled", {"jobId": job_id}
            )
        if record.state == "failed" or record.result is None:
            error = record.error
            message = error.message if error is not None else "workflow failed"
            detail = {"name": error.name, "message": error.message} if error is not None else None
            code = failed_run_code(error.code if error is not None else None)
            raise McpServerError(code, message, {"jobId": job_id, "error": detail})
        definition = self.definitions[record.workflow_name]
        output = tool_output(definition, record.result.outputs.get(definition.output_task.name))
        metrics = record.result.metrics.model_dump(mode="json", by_alias=True)
        return {"state": "done", "output": output, "metrics": metrics}

    async def resume(self, args: dict[str, Any] | None) -> dict[str, Any]:
        if (
            not isinstance(args, Mapping)
            or not isinstance(args.get("jobId"), str)
            or not isinstance(args.get("approved"), bool)
        ):
            raise McpServerError(
                ErrorCode.INPUT_VALIDATION_FAILED, "missing jobId or approved", {"args": args}
            )
        record = await self._record(args["jobId"])
        # The runner raises INVALID_RUN_STATE unless the job waits at a checkpoint.
        await self._runner().resume(record.run_id, args["approved"])
        return {"resumed": True}

    async def cancel(self, job_id: str) -> dict[str, Any]:
        record = await self._record(job_id)
        prior = record.state
        if prior in TERMINAL_STATES:
            # An error, not a quiet no-op: a client that cancels a finished job holds a
            # stale view of it, and its result is already there to fetch.
            raise McpServerError(
                ErrorCode.INVALID_RUN_STATE,
                f"job {job_id} is already {prior}; only a running or waiting job can be cancelled",
                {"jobId": job_id, "state": prior},
            )
        runner = self._runner()
        await runner.cancel(job_id)
        # A job another live process owns is left alone by the runner.
        after = await runner.get_record(job_id)
        cancelled = after is not None and after.state == "cancelled"
        return {"cancelled": cancelled, "priorState": prior}
