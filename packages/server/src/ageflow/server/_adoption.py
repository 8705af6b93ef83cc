"""Taking runs over: recovering a workflow's unfinished runs, claiming runs whose owner's
lease lapsed (or whose owner died on this machine), and renewing the leases of the runs
executing here."""

from __future__ import annotations

from collections.abc import Callable

from ageflow.core.events import TERMINAL_RUN_STATES, RunHandle, WorkflowEvent
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef
from ageflow.server._execution import RunExecution
from ageflow.server.errors import (
    RunNotFoundError,
    RunOwnedElsewhereError,
    RunOwnershipLostError,
    UnknownWorkflowError,
)
from ageflow.server.live import LiveRun
from ageflow.server.ownership import is_dead_local_owner
from ageflow.server.records import UNFINISHED_STATES, RunRecord


class RunAdoption(RunExecution):
    """Recovery and ownership: which runs this process executes, and for how long."""

    async def recover(self, *workflows: WorkflowDef) -> list[str]:
        """Continue this runner's unfinished runs of ``workflows`` that nobody else owns.

        Each continues from its journal; the runner keeps watching for runs of these
        workflows whose owner dies, and takes them over. Returns the ids taken now.
        """
        for workflow in workflows:
            self._workflows[workflow.name] = workflow
        return await self._take_over()

    async def _take_over(self) -> list[str]:
        names = list(self._workflows)
        if not names or self._closed:
            return []
        now = now_ms()
        candidates = {r.run_id: r for r in await self.store.list_claimable(names, now)}
        for record in await self.store.list_runs(workflow_names=names, states=UNFINISHED_STATES):
            if record.owner and record.owner != self.owner_id and is_dead_local_owner(record.owner):
                candidates.setdefault(record.run_id, record)
        for run_id in list(self._parked):  # ours still: claimed again at once
            self._parked.discard(run_id)
            parked = await self.store.get_run(run_id)
            if parked is not None and not parked.finished:
                candidates.setdefault(run_id, parked)
        taken = []
        for record in candidates.values():
            if record.run_id not in self._live and await self._take_over_one(record) is not None:
                taken.append(record.run_id)
        return taken

    async def recover_run(
        self,
        workflow: WorkflowDef,
        run_id: str,
        *,
        on_event: Callable[[WorkflowEvent], None] | None = None,
    ) -> RunHandle:
        """Continue one stored run now, from its journal, and see its events.

        For a caller that picks one run to continue (``ageflow run --resume``); unlike
        ``recover`` it does not adopt the workflow's other runs. A finished run is returned
        as it is. Raises ``RunNotFoundError``, ``UnknownWorkflowError`` when the run
        belongs to another workflow, and ``RunOwnedElsewhereError`` while a live process
        holds it.
        """
        live = self._live.get(run_id)
        if live is not None:
            return live.record.to_handle()
        record = await self.store.get_run(run_id)
        if record is None:
            raise RunNotFoundError(run_id)
        if record.workflow_name != workflow.name:
            raise UnknownWorkflowError(record.workflow_name)
        if record.state in TERMINAL_RUN_STATES:
            return record.to_handle()
        adopted = await self._take_over_one(record, workflow, on_event)
        if adopted is None:
            raise RunOwnedElsewhereError(run_id, record.owner or "unknown")
        return adopted.record.to_handle()

    async def _take_over_one(
        self,
        record: RunRecord,
        workflow: WorkflowDef | None = None,
        emit: Callable[[WorkflowEvent], None] | None = None,
    ) -> LiveRun | None:
        workflow = workflow or self._workflows.get(record.workflow_name)
        if workflow is None:
            raise UnknownWorkflowError(record.workflow_name)
        now = now_ms()
        lease_until = now + self.config.lease_ms
        if not await self.store.claim_run(
            record.run_id, self.owner_id, lease_until, claim_time(record, now)
        ):
            return None
        stored = await self.store.get_input(record.run_id)
        journal = await self.store.get_steps(record.run_id)
        already = self._live.get(record.run_id)
        if already is not None:  # adopted meanwhile (the ownership beat, a resume): once
            return already
        # The checkpoint clock restarts now: downtime does not count against it.
        live = self._adopt(
            record.model_copy(
                update={"owner": self.owner_id, "lease_until": lease_until, "last_event_at": now}
            )
        )
        self._require_group().start_soon(
            self._execute,
            live,
            workflow,
            stored.value if stored is not None else None,
            journal,
            None,
            None,
            emit,
            name=f"ageflow recovered run {record.run_id}",
        )
        return live

    async def renew_leases(self) -> None:
        """Extend the leases of the runs executing here; stop those another took over."""
        running = [run_id for run_id, live in self._live.items() if not live.finished]
        if not running:
            return
        held = await self.store.renew_leases(
            self.owner_id, running, now_ms() + self.config.lease_ms
        )
        for run_id in set(running) - held:
            lost = self._live[run_id]
            lost.detach(RunOwnershipLostError(run_id))
            self._forget(lost)


def claimable(record: RunRecord) -> bool:
    return (
        record.owner is None
        or (record.lease_until or 0) < now_ms()
        or (is_dead_local_owner(record.owner))
    )


def claim_time(record: RunRecord, now: int) -> int:
    """The ``now`` to claim with: past the lease of an owner known to be dead."""
    if record.owner and is_dead_local_owner(record.owner):
        return max(now, (record.lease_until or 0) + 1)
    return now
