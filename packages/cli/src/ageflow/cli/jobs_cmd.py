"""``ageflow jobs list|show|resume|cancel|prune``: durable jobs in a job store.

The file is what ``ageflow mcp serve --async`` writes (``.ageflow/jobs.sqlite`` under the
current directory unless ``--job-db``). Reading never changes it; ``cancel`` and
``resume`` act directly on a job nobody is executing, and send the user to the running
server's MCP tools for a job that server owns.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import anyio
import typer
from rich.markup import escape

from ageflow.cli.errors import CliError, UsageError
from ageflow.cli.jobs_actions import cancel_job, refuse_if_owned, resume_job
from ageflow.cli.jobs_store import (
    DEFAULT_JOB_DB,
    JOB_STATES,
    describe_owner,
    get_job,
    live_owner,
    open_job_db,
)
from ageflow.cli.loading import load_workflow
from ageflow.cli.output import listing_table, print_json, stdout_console
from ageflow.cli.params import AsJson, command_group
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef
from ageflow.server import RunRecord, RunStore

T = TypeVar("T")

JobDb = Annotated[
    str,
    typer.Option(
        "--job-db",
        metavar="PATH|URL",
        help="The job file or postgresql:// URL (what `mcp serve --async` writes).",
    ),
]
JobId = Annotated[str, typer.Argument(metavar="JOB_ID", help="The job's id.", show_default=False)]


def _with_store(db: str, action: Callable[[RunStore], Awaitable[T]]) -> T:
    async def main() -> T:
        async with open_job_db(db) as store:
            return await action(store)

    return anyio.run(main)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _pending(record: RunRecord) -> str:
    checkpoint = record.pending_checkpoint
    if record.state != "awaiting-checkpoint" or checkpoint is None:
        return ""
    return f"{checkpoint.task_name}: {checkpoint.message}"


def _record_json(record: RunRecord) -> dict[str, Any]:
    data: dict[str, Any] = record.model_dump(
        mode="json", by_alias=True, exclude={"owner", "lease_until"}
    )
    data["owner"] = record.owner
    data["leaseUntil"] = record.lease_until
    data["ownerLive"] = live_owner(record) is not None
    return data


# -- list --------------------------------------------------------------------------------------


def list_jobs(
    job_db: JobDb = DEFAULT_JOB_DB,
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state", metavar="STATE", help=f"Only jobs in this state ({', '.join(JOB_STATES)})."
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """List jobs, newest first."""
    states = state or []
    for value in states:
        if value not in JOB_STATES:
            raise UsageError(f"--state must be one of: {' | '.join(JOB_STATES)}, got: {value}")

    async def read(store: RunStore) -> list[RunRecord]:
        return await store.list_runs(states=states or None)

    records = _with_store(job_db, read)
    if as_json:
        print_json([_record_json(record) for record in records])
        return
    out = stdout_console()
    if not records:
        out.print(f"No jobs in {escape(job_db)}.")
        return
    table = listing_table()
    table.add_column("ID", no_wrap=True, min_width=36)
    table.add_column("WORKFLOW")
    table.add_column("STATE", no_wrap=True)
    table.add_column("CREATED", no_wrap=True)
    table.add_column("UPDATED", no_wrap=True)
    table.add_column("PENDING CHECKPOINT")
    for record in records:
        table.add_row(
            record.run_id,
            escape(record.workflow_name),
            record.state,
            _time(record.created_at),
            _time(record.last_event_at),
            escape(_pending(record)),
        )
    out.print(table)


# -- show --------------------------------------------------------------------------------------


def show_job(job_id: JobId, job_db: JobDb = DEFAULT_JOB_DB, as_json: AsJson = False) -> None:
    """Show one job in detail.

    State, owner, policy, input, the steps journaled so far, and its error or result.
    """

    async def read(store: RunStore) -> tuple[RunRecord, Any, list[dict[str, Any]]]:
        record = await get_job(store, job_id, job_db)
        stored = await store.get_input(job_id)
        steps = await store.get_steps(job_id)
        return (
            record,
            None if stored is None else stored.value,
            [step.to_json() for step in steps.values()],
        )

    record, job_input, steps = _with_store(job_db, read)
    if as_json:
        print_json({**_record_json(record), "input": job_input, "steps": steps})
        return
    out = stdout_console()

    def field(name: str, value: str) -> None:
        out.print(f"[bold]{name + ':':<20}[/bold]{escape(value)}")

    field("Job", record.run_id)
    field("Workflow", record.workflow_name)
    field("State", record.state)
    field("Created", _time(record.created_at))
    field("Updated", _time(record.last_event_at))
    owner = live_owner(record)
    field("Owner", "none" if owner is None else f"{describe_owner(owner)} (live)")
    policy = record.policy
    field("Checkpoint policy", policy.checkpoint)
    ceilings = {
        "max_cost_usd": policy.max_cost_usd,
        "deadline": None if policy.deadline_at is None else _time(policy.deadline_at),
        "max_turns": policy.max_turns,
    }
    field("Ceilings", ", ".join(f"{k}={'none' if v is None else v}" for k, v in ceilings.items()))
    if policy.extra:
        field("Policy extra", json.dumps(policy.extra))
    field("Input", json.dumps(job_input, ensure_ascii=False))
    if record.pending_checkpoint is not None and record.state == "awaiting-checkpoint":
        field("Pending checkpoint", _pending(record))
    if record.decision is not None:
        verdict = "approved" if record.decision.approved else "rejected"
        field("Decision", f"{verdict} ({record.decision.step_key})")
    out.print(f"[bold]Steps journaled:[/bold]    {len(steps)}")
    for step in steps:
        output = json.dumps(step["output"], ensure_ascii=False)
        out.print(f"  {escape(step['stepKey'])} ({step['source']}): {escape(output)}")
    if record.error is not None:
        field("Error", f"{record.error.name}: {record.error.message}")
    if record.result is not None:
        outputs = record.result.model_dump(mode="json", by_alias=True)["outputs"]
        field("Result", json.dumps(outputs, ensure_ascii=False))


# -- cancel ------------------------------------------------------------------------------------


def cancel(job_id: JobId, job_db: JobDb = DEFAULT_JOB_DB) -> None:
    """Cancel a job.

    A job a running server owns is refused: cancel it with that server's MCP tool
    cancel_workflow.
    """
    outcome = _with_store(job_db, lambda store: cancel_job(store, job_id, job_db))
    if outcome.cancelled:
        typer.echo(f"Cancelled job {job_id} (was {outcome.prior_state}).")
    else:
        typer.echo(f"Job {job_id} is already {outcome.prior_state}; nothing to cancel.")


# -- resume ------------------------------------------------------------------------------------


def resume(
    job_id: JobId,
    approve: Annotated[
        bool | None,
        typer.Option(
            "--approve/--reject",
            help="Approve or reject the checkpoint the job waits at (one is required).",
            show_default=False,
        ),
    ] = None,
    workflow: Annotated[
        str | None,
        typer.Option(
            "--workflow",
            metavar="WORKFLOW",
            help="The job's workflow (.py file or module:attribute), to continue it here.",
        ),
    ] = None,
    job_db: JobDb = DEFAULT_JOB_DB,
) -> None:
    """Approve or reject a job's checkpoint and continue the job here.

    The job runs in this process until it ends or waits at another checkpoint. A job a
    running server owns is refused: answer it with that server's MCP tool resume_workflow.
    """
    if approve is None:
        raise UsageError("jobs resume requires --approve or --reject")

    async def act(store: RunStore) -> RunRecord:
        record = await get_job(store, job_id, job_db)
        refuse_if_owned(record, "resume_workflow")
        if record.state != "awaiting-checkpoint" or record.pending_checkpoint is None:
            raise CliError(f"job {job_id} is {record.state}, not waiting at a checkpoint")
        if workflow is None:
            raise UsageError(
                "jobs resume requires --workflow WORKFLOW (the definition of "
                f'"{record.workflow_name}") to continue the job in this process'
            )
        definition = _job_definition(load_workflow(workflow), record)
        return await resume_job(store, job_id, definition, approve)

    final = _with_store(job_db, act)
    verdict = "Approved" if approve else "Rejected"
    typer.echo(f"{verdict} the checkpoint of job {job_id}.")
    _report_outcome(final, rejected=not approve)


def _job_definition(definition: WorkflowDef, record: RunRecord) -> WorkflowDef:
    """The workflow the job runs: an MCP job reads a non-root input task from its input."""
    if definition.name != record.workflow_name:
        raise CliError(
            f'job {record.run_id} belongs to workflow "{record.workflow_name}", '
            f'but --workflow loaded "{definition.name}"'
        )
    if "hitl" not in record.policy.extra:
        return definition  # not started by an MCP server: runs the workflow as it is
    from ageflow.mcp_server import build_tool_definition
    from ageflow.mcp_server.jobs import job_workflow

    return job_workflow(build_tool_definition(definition, async_mode=True), definition)


def _report_outcome(record: RunRecord, *, rejected: bool) -> None:
    job_id = record.run_id
    if record.state == "done":
        typer.echo(f"Job {job_id} is done.")
        if record.result is not None:
            outputs = record.result.model_dump(mode="json", by_alias=True)["outputs"]
            print_json(outputs)
        return
    if record.state == "awaiting-checkpoint":
        typer.echo(f"Job {job_id} waits at another checkpoint: {_pending(record)}")
        typer.echo(f"Answer it with: ageflow jobs resume {job_id} --approve|--reject")
        return
    reason = "" if record.error is None else f": {record.error.name}: {record.error.message}"
    if record.state == "failed" and rejected:
        typer.echo(f"Job {job_id} ended failed{reason}")
        return
    if record.state == "running":
        raise CliError(f"job {job_id} stopped executing here before it ended (still running)")
    raise CliError(f"job {job_id} {record.state}{reason}")


# -- prune -------------------------------------------------------------------------------------


def prune(
    job_db: JobDb = DEFAULT_JOB_DB,
    older_than: Annotated[
        float | None,
        typer.Option(
            "--older-than",
            metavar="SECONDS",
            min=0,
            help="Only finished jobs whose last event is older than this (default: all).",
        ),
    ] = None,
) -> None:
    """Delete finished jobs.

    Done, failed and cancelled jobs go; running and waiting ones are never touched.
    """
    now = now_ms()
    cutoff = now + 1 if older_than is None else now - int(older_than * 1000)

    async def delete(store: RunStore) -> list[str]:
        return await store.delete_finished_before(cutoff)

    deleted = _with_store(job_db, delete)
    typer.echo(f"Deleted {len(deleted)} finished job(s) from {job_db}.")


def register(app: typer.Typer) -> None:
    jobs = command_group(
        "jobs", "Inspect and act on durable jobs (the job file of `mcp serve --async`)."
    )
    jobs.command("list")(list_jobs)
    jobs.command("show")(show_job)
    jobs.command("resume")(resume)
    jobs.command("cancel")(cancel)
    jobs.command("prune")(prune)
    app.add_typer(jobs)
