"""InMemoryRunStore: the RunStore for tests and for runs that need not survive the process.

It keeps JSON text, exactly what the SQLite store keeps, so both behave alike: callers
never share objects with the store, and whatever cannot be stored fails here too.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from ageflow.executor.journal import StepRecord
from ageflow.server.errors import RunStoreError, StoreClosedError
from ageflow.server.records import UNFINISHED_STATES, RunRecord
from ageflow.server.store import StoredInput


@dataclass
class _Row:
    workflow_name: str
    state: str
    last_event_at: int
    payload: str
    input: str
    owner: str | None = None
    lease_until: int | None = None
    steps: dict[str, str] = field(default_factory=dict)

    def record(self) -> RunRecord:
        return RunRecord.from_json(self.payload, owner=self.owner, lease_until=self.lease_until)


class InMemoryRunStore:
    """A RunStore in a dict. Inert after ``close()``: every call raises StoreClosedError."""

    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}
        self._closed = False
        # One lock so that claims are atomic even across awaits in callers.
        self._lock = anyio.Lock()

    def _open_rows(self) -> dict[str, _Row]:
        if self._closed:
            raise StoreClosedError("in-memory run store")
        return self._rows

    async def create_run(self, record: RunRecord, input: Any) -> None:
        rows = self._open_rows()
        if record.run_id in rows:
            raise RunStoreError(f"a run with id {record.run_id!r} already exists")
        rows[record.run_id] = _Row(
            workflow_name=record.workflow_name,
            state=record.state,
            last_event_at=record.last_event_at,
            payload=record.to_json(),
            input=json.dumps(input),
            owner=record.owner,
            lease_until=record.lease_until,
        )

    async def get_run(self, run_id: str) -> RunRecord | None:
        row = self._open_rows().get(run_id)
        return row.record() if row else None

    async def get_input(self, run_id: str) -> StoredInput | None:
        row = self._open_rows().get(run_id)
        return StoredInput(json.loads(row.input)) if row else None

    async def save_run(
        self, record: RunRecord, *, owner: str | None = None, steps: Sequence[StepRecord] = ()
    ) -> bool:
        row = self._open_rows().get(record.run_id)
        if row is None or (owner is not None and row.owner != owner):
            return False
        payload = record.to_json()
        texts = {step.step_key: step.to_json_text() for step in steps}  # all, or none
        row.state = record.state
        row.last_event_at = record.last_event_at
        row.payload = payload
        row.steps.update(texts)
        return True

    async def list_runs(
        self,
        *,
        workflow_names: Collection[str] | None = None,
        states: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        rows = [
            row
            for row in self._open_rows().values()
            if (workflow_names is None or row.workflow_name in workflow_names)
            and (states is None or row.state in states)
        ]
        rows.sort(key=lambda row: row.last_event_at, reverse=True)
        return [row.record() for row in rows[:limit]]

    async def delete_run(self, run_id: str) -> None:
        self._open_rows().pop(run_id, None)

    async def delete_finished_before(self, cutoff_ms: int) -> list[str]:
        rows = self._open_rows()
        expired = [
            run_id
            for run_id, row in rows.items()
            if row.state not in UNFINISHED_STATES and row.last_event_at < cutoff_ms
        ]
        for run_id in expired:
            del rows[run_id]
        return expired

    async def append_step(self, run_id: str, step: StepRecord) -> None:
        row = self._open_rows().get(run_id)
        if row is None:
            raise RunStoreError(f"cannot journal a step of unknown run {run_id!r}")
        row.steps[step.step_key] = step.to_json_text()

    async def append_steps(self, run_id: str, steps: Sequence[StepRecord]) -> None:
        row = self._open_rows().get(run_id)
        if row is None:
            raise RunStoreError(f"cannot journal steps of unknown run {run_id!r}")
        for step in steps:
            row.steps[step.step_key] = step.to_json_text()

    async def get_steps(self, run_id: str) -> dict[str, StepRecord]:
        row = self._open_rows().get(run_id)
        if row is None:
            return {}
        return {key: StepRecord.from_json_text(text) for key, text in row.steps.items()}

    async def claim_run(self, run_id: str, owner: str, lease_until: int, now: int) -> bool:
        async with self._lock:
            row = self._open_rows().get(run_id)
            if row is None:
                return False
            free = row.owner is None or row.owner == owner or (row.lease_until or 0) < now
            if not free:
                return False
            row.owner = owner
            row.lease_until = lease_until
            return True

    async def renew_leases(
        self, owner: str, run_ids: Collection[str], lease_until: int
    ) -> set[str]:
        rows = self._open_rows()
        held = {run_id for run_id in run_ids if run_id in rows and rows[run_id].owner == owner}
        for run_id in held:
            rows[run_id].lease_until = lease_until
        return held

    async def release_runs(self, owner: str, run_ids: Collection[str]) -> None:
        rows = self._open_rows()
        for run_id in run_ids:
            row = rows.get(run_id)
            if row is not None and row.owner == owner:
                row.owner = None
                row.lease_until = None

    async def list_claimable(self, workflow_names: Collection[str], now: int) -> list[RunRecord]:
        return [
            row.record()
            for row in self._open_rows().values()
            if row.workflow_name in workflow_names
            and row.state in UNFINISHED_STATES
            and (row.owner is None or (row.lease_until or 0) < now)
        ]

    async def close(self) -> None:
        self._closed = True
        self._rows = {}
