"""The job file the ``jobs`` commands read, and who owns a job.

Jobs are runs in an ``ageflow.server`` SQLite store (what ``mcp serve --async`` writes).
A job whose owner holds a live lease belongs to a running server: only that server may
act on it, through its MCP tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from ageflow.cli.errors import CliError
from ageflow.core.wire import now_ms
from ageflow.executor.journal import StepRecord
from ageflow.server import RunRecord, RunStore, StoredInput
from ageflow.server.ownership import is_dead_local_owner
from ageflow.server_sqlite import SqliteRunStore

DEFAULT_JOB_DB = str(Path(".ageflow") / "jobs.sqlite")
JOB_STATES = ("running", "awaiting-checkpoint", "done", "failed", "cancelled")


@asynccontextmanager
async def open_job_db(path: str) -> AsyncIterator[SqliteRunStore]:
    """The job store at ``path``; a missing file is an error (it is never created here)."""
    if not await anyio.Path(path).is_file():
        raise CliError(
            f'no job database at "{path}" (ageflow mcp serve --async creates it; '
            "pick another with --job-db)"
        )
    async with SqliteRunStore(path) as store:
        yield store


def live_owner(record: RunRecord, now: int | None = None) -> str | None:
    """The owner of an unfinished job whose lease is live, or None when anyone may act.

    A lease that lapsed, or an owner that names a process of this machine that is gone
    (a killed server), leaves the job free.
    """
    owner = record.owner
    if owner is None or record.finished:
        return None
    if (record.lease_until or 0) < (now_ms() if now is None else now):
        return None
    if is_dead_local_owner(owner):
        return None
    return owner


def describe_owner(owner: str) -> str:
    """``host:pid:random`` as ``process <pid> on <host>``."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return f"process {pid} on {host}" if pid.isdigit() else owner


async def get_job(store: RunStore, job_id: str, db: str) -> RunRecord:
    record = await store.get_run(job_id)
    if record is None:
        raise CliError(f'no job "{job_id}" in {db}')
    return record


class OneJobStore:
    """A view of a store for acting on one job in this process.

    Only that job is offered for recovery, the runner's reaper deletes nothing (pruning
    other jobs is ``jobs prune``'s decision), and every save of the job is reported to
    ``on_save`` in the order the runner writes them.
    """

    def __init__(
        self, inner: RunStore, job_id: str, on_save: Callable[[RunRecord], None] | None = None
    ) -> None:
        self.inner = inner
        self.job_id = job_id
        self.on_save = on_save

    async def create_run(self, record: RunRecord, input: Any) -> None:
        await self.inner.create_run(record, input)

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self.inner.get_run(run_id)

    async def get_input(self, run_id: str) -> StoredInput | None:
        return await self.inner.get_input(run_id)

    async def save_run(self, record: RunRecord, *, owner: str | None = None) -> bool:
        saved = await self.inner.save_run(record, owner=owner)
        if saved and record.run_id == self.job_id and self.on_save is not None:
            self.on_save(record)
        return saved

    async def list_runs(
        self,
        *,
        workflow_names: Collection[str] | None = None,
        states: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        records = await self.inner.list_runs(
            workflow_names=workflow_names, states=states, limit=limit
        )
        return [record for record in records if record.run_id == self.job_id]

    async def delete_run(self, run_id: str) -> None:
        if run_id == self.job_id:
            await self.inner.delete_run(run_id)

    async def delete_finished_before(self, cutoff_ms: int) -> list[str]:
        return []

    async def append_step(self, run_id: str, step: StepRecord) -> None:
        await self.inner.append_step(run_id, step)

    async def append_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        await self.inner.append_steps(run_id, steps)

    async def get_steps(self, run_id: str) -> dict[str, StepRecord]:
        return await self.inner.get_steps(run_id)

    async def claim_run(self, run_id: str, owner: str, lease_until: int, now: int) -> bool:
        return await self.inner.claim_run(run_id, owner, lease_until, now)

    async def renew_leases(
        self, owner: str, run_ids: Collection[str], lease_until: int
    ) -> set[str]:
        return await self.inner.renew_leases(owner, run_ids, lease_until)

    async def release_runs(self, owner: str, run_ids: Collection[str]) -> None:
        await self.inner.release_runs(owner, run_ids)

    async def list_claimable(self, workflow_names: Collection[str], now: int) -> list[RunRecord]:
        records = await self.inner.list_claimable(workflow_names, now)
        return [record for record in records if record.run_id == self.job_id]

    async def close(self) -> None:
        """The caller owns the inner store and closes it."""
