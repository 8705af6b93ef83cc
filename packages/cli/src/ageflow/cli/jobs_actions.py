"""Acting on a job in this process: cancel it, or answer its checkpoint and continue it.

Both refuse a job that a live process owns (a running ``mcp serve``): that server holds
the job's lease and is the only one allowed to execute it, so the user is sent to its
MCP tools instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import anyio

from ageflow.cli.errors import CliError
from ageflow.cli.jobs_store import OneJobStore, describe_owner, get_job, live_owner
from ageflow.core.events import CheckpointEvent
from ageflow.core.workflow import WorkflowDef
from ageflow.server import RunRecord, RunStore, create_runner
from ageflow.server.errors import RunOwnedElsewhereError


def refuse_if_owned(record: RunRecord, tool: str) -> None:
    owner = live_owner(record)
    if owner is not None:
        raise CliError(
            f"job {record.run_id} is owned by a running server ({describe_owner(owner)}); "
            f"use that server's MCP tool {tool} instead"
        )


@dataclass(frozen=True)
class CancelOutcome:
    prior_state: str
    cancelled: bool


async def cancel_job(store: RunStore, job_id: str, db: str) -> CancelOutcome:
    """Mark an unfinished job cancelled; a finished one is left as it is."""
    record = await get_job(store, job_id, db)
    if record.finished:
        return CancelOutcome(record.state, cancelled=False)
    refuse_if_owned(record, "cancel_workflow")
    view = OneJobStore(store, job_id)
    async with create_runner(store=view) as runner:
        await runner.cancel(job_id)
    after = await get_job(store, job_id, db)
    if after.state != "cancelled":
        # Between our check and our claim another process took the job.
        refuse_if_owned(after, "cancel_workflow")
        raise CliError(f"job {job_id} could not be cancelled: it is {after.state}")
    return CancelOutcome(record.state, cancelled=True)


def _key(checkpoint: CheckpointEvent) -> str:
    return checkpoint.step_key or checkpoint.task_name


async def resume_job(
    store: RunStore, job_id: str, workflow: WorkflowDef, approved: bool
) -> RunRecord:
    """Answer the checkpoint the job waits at, continue the job here, and return its record
    once it has finished or waits at another checkpoint."""
    record = await store.get_run(job_id)
    assert record is not None
    assert record.pending_checkpoint is not None
    answered = _key(record.pending_checkpoint)
    settled = anyio.Event()

    def on_save(saved: RunRecord) -> None:
        pending = saved.pending_checkpoint
        paused_again = (
            saved.state == "awaiting-checkpoint"
            and pending is not None
            and _key(pending) != answered
        )
        if saved.finished or paused_again:
            settled.set()

    view = OneJobStore(store, job_id, on_save)
    async with create_runner(store=view) as runner:
        try:
            await runner.recover_run(workflow, job_id)
        except RunOwnedElsewhereError as exc:
            raise CliError(
                f"job {job_id} was taken by another process; use that server's MCP tool "
                "resume_workflow instead"
            ) from exc
        await runner.resume(job_id, approved)
        async with anyio.create_task_group() as group:

            async def stop_when_run_ends() -> None:
                # The run may also stop without a save of ours (its ownership was lost).
                await runner.wait(job_id)
                settled.set()

            group.start_soon(stop_when_run_ends)
            await settled.wait()
            group.cancel_scope.cancel()
    final = await store.get_run(job_id)
    assert final is not None
    return final
