"""The RunStore protocol: durable runs, their inputs, step journals and ownership leases.

A store keeps, per run: the record (state, times, checkpoint, decision, result, error,
progress, policy), the input (written once when the run is created, never overwritten),
the step journal (each finished task's output, committed before dependents start) and
an owner lease (so two processes never execute the same run).

Every method is async. After ``close()`` every call raises StoreClosedError.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ageflow.executor.journal import StepRecord
from ageflow.server.records import RunRecord


@dataclass(frozen=True)
class StoredInput:
    """A run's input as stored (``value`` may itself be None)."""

    value: Any


@runtime_checkable
class RunStore(Protocol):
    async def create_run(self, record: RunRecord, input: Any) -> None:
        """Store a new run and its input. Raises RunStoreError when the id exists.

        The record's ``owner`` and ``lease_until`` are stored as the initial lease (the
        creating process owns the run). The input must be JSON-serialisable (pydantic
        models are dumped by the caller).
        """
        ...

    async def get_run(self, run_id: str) -> RunRecord | None:
        """One run's record (with owner and lease), or None."""
        ...

    async def get_input(self, run_id: str) -> StoredInput | None:
        """The input the run was created with, or None when the run is unknown."""
        ...

    async def save_run(
        self, record: RunRecord, *, owner: str | None = None, steps: Sequence[StepRecord] = ()
    ) -> bool:
        """Replace a run's record (never its input, owner or lease).

        With ``owner``, the write happens only while that owner holds the run; returns
        False when it does not (the run was taken over) or the run is unknown. ``steps``
        are journaled in the same write, all or nothing (as ``append_steps`` would): the
        runner stores a run's last steps with its final state this way.
        """
        ...

    async def list_runs(
        self,
        *,
        workflow_names: Collection[str] | None = None,
        states: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Records, newest ``last_event_at`` first, filtered by workflow and state."""
        ...

    async def delete_run(self, run_id: str) -> None:
        """Forget a run: record, input and steps. No error when it is unknown."""
        ...

    async def delete_finished_before(self, cutoff_ms: int) -> list[str]:
        """Delete finished runs whose last event is older than ``cutoff_ms``; their ids."""
        ...

    async def append_step(self, run_id: str, step: StepRecord) -> None:
        """Commit one finished step (replacing a step with the same key)."""
        ...

    async def append_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        """Commit several finished steps of one run together (one transaction)."""
        ...

    async def get_steps(self, run_id: str) -> dict[str, StepRecord]:
        """The run's journal, by step key."""
        ...

    async def claim_run(self, run_id: str, owner: str, lease_until: int, now: int) -> bool:
        """Take a run when it has no owner, its lease lapsed before ``now``, or ``owner``
        already holds it. Atomic: of two claimers, one wins."""
        ...

    async def renew_leases(
        self, owner: str, run_ids: Collection[str], lease_until: int
    ) -> set[str]:
        """Extend the leases ``owner`` still holds; returns those run ids."""
        ...

    async def release_runs(self, owner: str, run_ids: Collection[str]) -> None:
        """Give up ownership (the runs become claimable at once)."""
        ...

    async def list_claimable(self, workflow_names: Collection[str], now: int) -> list[RunRecord]:
        """Unfinished runs of these workflows that nobody holds a live lease on."""
        ...

    async def close(self) -> None:
        """Release resources. Idempotent; every other call raises StoreClosedError after."""
        ...
