"""Acting on a job in this process: cancel it, or answer its checkpoint and continue it.

Both refuse a job that a live process owns (a running ``mcp serve``): that server holds
the job's lease and is the only one allowed to execute it, so the user is sent to its
MCP tools instead. On a store that carries run requests (PostgreSQL) a cancel is passed
to the owner instead, and answers once the owner has recorded it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Final

import anyio

from ageflow.cli.errors import CliError
from ageflow.cli.jobs_store import describe_owner, get_job, live_owner
from ageflow.core.events import CheckpointEvent, WorkflowEvent
from ageflow.core.workflow import WorkflowDef
from ageflow.server import RunRecord, RunStore, WorkflowRunner, create_runner
from ageflow.server.errors import RunOwnedElsewhereError
from ageflow.server.requests import RunRequestStore

NEVER_MS: Final = 10 * 365 * 24 * 3600 * 1000  # a reaper interval no CLI command outlives


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
    if not isinstance(store, RunRequestStore):
        # A shared store (PostgreSQL) carries the cancel to the owning server instead.
        refuse_if_owned(record, "cancel_workflow")
    async with one_job_runner(store) as runner:
        await runner.cancel(job_id)
    after = await get_job(store, job_id, db)
    if after.state != "cancelled":
        # Between our check and our claim another process took the job.
        refuse_if_owned(after, "cancel_workflow")
        raise CliError(f"job {job_id} could not be cancelled: it is {after.state}")
    return CancelOutcome(record.state, cancelled=True)


def one_job_runner(store: RunStore) -> AbstractAsyncContextManager[WorkflowRunner]:
    """A runner that acts on the job it is given and nothing else.

    It adopts no other run (``recover_run`` takes one run), and its reaper never gets to
    delete other finished jobs: pruning is ``jobs prune``'s decision.
    """
    return create_runner(store=store, reaper_interval_ms=NEVER_MS)


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
    paused_again = anyio.Event()

    def on_event(event: WorkflowEvent) -> None:
        # The recovered run reports the checkpoint it waits at again: only a new one counts.
        if isinstance(event, CheckpointEvent) and _key(event) != answered:
            paused_again.set()

    async with one_job_runner(store) as runner:
        try:
            await runner.recover_run(workflow, job_id, on_event=on_event)
        except RunOwnedElsewhereError as exc:
            raise CliError(
                f"job {job_id} was taken by another process; use that server's MCP tool "
                "resume_workflow instead"
            ) from exc
        await runner.resume(job_id, approved)
        async with anyio.create_task_group() as group:

            async def stop_when_run_ends() -> None:
                await runner.wait(job_id)
                group.cancel_scope.cancel()

            group.start_soon(stop_when_run_ends)
            await paused_again.wait()
            # The event comes just before the new pause is stored: wait for the store.
            await runner.wait_for(job_id, "awaiting-checkpoint")
            group.cancel_scope.cancel()
    final = await store.get_run(job_id)
    assert final is not None
    return final
