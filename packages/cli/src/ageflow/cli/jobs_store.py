"""The job file the ``jobs`` commands read, and who owns a job.

Jobs are runs in an ``ageflow.server`` store (what ``mcp serve --async`` writes): a SQLite
file, or a ``postgresql://`` URL for a store several servers share.
A job whose owner holds a live lease belongs to a running server: only that server may
act on it, through its MCP tools.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from ageflow.cli.errors import CliError
from ageflow.core.wire import now_ms
from ageflow.mcp_server.job_store import is_postgres_url, open_job_store
from ageflow.server import RunRecord, RunStore
from ageflow.server.ownership import is_dead_local_owner

DEFAULT_JOB_DB = str(Path(".ageflow") / "jobs.sqlite")
JOB_STATES = ("running", "awaiting-checkpoint", "done", "failed", "cancelled")


@asynccontextmanager
async def open_job_db(path: str) -> AsyncIterator[RunStore]:
    """The job store at ``path``; a missing file is an error (it is never created here)."""
    if not is_postgres_url(path) and not await anyio.Path(path).is_file():
        raise CliError(
            f'no job database at "{path}" (ageflow mcp serve --async creates it; '
            "pick another with --job-db)"
        )
    async with open_job_store(path) as store:
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
