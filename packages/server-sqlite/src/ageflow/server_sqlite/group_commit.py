"""Group commit of journaled steps.

A step that arrives while a commit is in flight (a fall-back waiting on a lock) is queued;
the next transaction writes every queued step together, and each caller returns once its
own step is committed. A lone step is written on its own (one autocommit statement).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio

from ageflow.server_sqlite import queries


@dataclass(eq=False)
class PendingStep:
    """A step queued for a commit; ``finished`` once a commit took it (or failed)."""

    run_id: str
    step_key: str
    payload: str
    finished: bool = False
    error: Exception | None = None


class GroupCommit:
    """Queues steps and commits them: alone when nothing else waits, else together."""

    def __init__(
        self,
        write_one: Callable[[PendingStep], Awaitable[None]],
        write_batch: Callable[[list[PendingStep]], Awaitable[None]],
    ) -> None:
        self._write_one = write_one
        self._write_batch = write_batch
        self._queued: list[PendingStep] = []
        self._committing = False  # a commit is in flight
        self._commit_done: anyio.Event | None = None  # made by the first caller to wait on it

    async def append(self, item: PendingStep) -> None:
        """Return once ``item`` is committed; raise its error if its commit failed."""
        self._queued.append(item)
        try:
            while not item.finished:
                if self._committing:
                    # Wait for the commit in flight; if this step was not in it, lead the next.
                    if self._commit_done is None:
                        self._commit_done = anyio.Event()
                    await self._commit_done.wait()
                else:
                    await self._commit_queued()
        except BaseException:
            if not item.finished and item in self._queued:
                self._queued.remove(item)  # cancelled before any commit took it
            raise
        if item.error is not None:
            raise item.error

    async def _commit_queued(self) -> None:
        """Commit every queued step in one transaction; the caller's own step is among them."""
        batch, self._queued = self._queued, []
        self._committing = True
        try:
            if len(batch) == 1:
                await self._write_one(batch[0])  # the caller's own: nobody else waits on it
            else:
                with anyio.CancelScope(shield=True):  # other callers wait on this commit
                    await self._write_batch(batch)
        except Exception as exc:
            for item in batch:
                if item.error is None:
                    item.error = exc
        finally:
            for item in batch:
                item.finished = True
            self._committing = False
            done, self._commit_done = self._commit_done, None
            if done is not None:
                done.set()


def upsert_steps(conn: sqlite3.Connection, batch: list[PendingStep]) -> set[str] | None:
    """Journal a batch in one transaction; None when every step's run is known, else the
    run ids that are (the steps of the others inserted nothing)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        cursor = conn.executemany(
            queries.UPSERT_STEP, [(i.run_id, i.step_key, i.payload) for i in batch]
        )
        known: set[str] | None = None
        if cursor.rowcount != len(batch):
            run_ids = json.dumps(sorted({item.run_id for item in batch}))
            known = {row[0] for row in conn.execute(queries.SELECT_KNOWN_RUN_IDS, (run_ids,))}
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return known
