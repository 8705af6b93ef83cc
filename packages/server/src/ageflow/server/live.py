"""LiveRun: the in-memory side of a run this process executes.

Every state change goes through one of the ``mark_*`` methods, which refuse to leave a
terminal state and persist the record before returning (in order, under one lock), so a
reader of the store never sees an older state overwrite a newer one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import anyio

from ageflow.core.events import CheckpointEvent, ErrorInfo, RunState, WorkflowEvent
from ageflow.core.metrics import WorkflowResult
from ageflow.core.wire import now_ms
from ageflow.executor.executor import EventStream
from ageflow.executor.journal import StepRecord
from ageflow.server.errors import RunOwnershipLostError
from ageflow.server.records import UNFINISHED_STATES, CheckpointDecision, RunRecord
from ageflow.server.store import RunStore

OnOwnershipLost = Callable[["LiveRun"], None]


class CheckpointSlot:
    """One pending checkpoint's answer: set once by ``resume`` (or a decision)."""

    def __init__(self, event: CheckpointEvent) -> None:
        self.event = event
        self._answered = anyio.Event()
        self._approved = False

    def answer(self, approved: bool) -> None:
        if not self._answered.is_set():
            self._approved = approved
            self._answered.set()

    async def wait(self) -> bool:
        await self._answered.wait()
        return self._approved


class LiveRun:
    """A run executing in this process: its record, checkpoint slot and cancel controls."""

    def __init__(self, record: RunRecord, store: RunStore, owner: str) -> None:
        self._record = record
        # Progress and the last event time change on every event: kept here and folded
        # into the record only when someone reads it (copying a record per event is slow).
        self._progress: dict[str, Any] = dict(record.progress)
        # The top-level tasks completed so far: a list in completion order (as the record
        # keeps it; our own copy, appended to) and a set for constant-time lookups.
        if "completedTasks" in self._progress:
            self._progress["completedTasks"] = list(self._progress["completedTasks"])
        self._completed = set(self._progress.get("completedTasks", ()))
        self._last_event_at = record.last_event_at
        self._unfolded = False
        self.store = store
        self.owner = owner
        self.slot: CheckpointSlot | None = None
        self.stream: EventStream | None = None
        self.cancel_requested = False
        self.detached = False  # closed or taken over: this process stops writing
        self.stop_reason: BaseException | None = None  # deadline or checkpoint timeout
        self.detach_reason: BaseException | None = None  # why this process stopped it
        self.done = anyio.Event()
        self._write_lock = anyio.Lock()
        # The run's last steps, journaled with its final state (see ``hold_last_steps``).
        self._held_steps: list[StepRecord] = []
        self._changed = anyio.Event()  # set (and replaced) on every state change
        self.on_ownership_lost: OnOwnershipLost | None = None

    # --- reading ------------------------------------------------------------------------

    @property
    def record(self) -> RunRecord:
        """The run's record as it stands now (progress and last event time included)."""
        if self._unfolded:
            progress = dict(self._progress)
            if "completedTasks" in progress:  # records handed out keep their own list
                progress["completedTasks"] = list(progress["completedTasks"])
            self._record = self._record.model_copy(
                update={"progress": progress, "last_event_at": self._last_event_at}
            )
            self._unfolded = False
        return self._record

    # These read the stored part directly: folding progress in would copy the record.
    @property
    def run_id(self) -> str:
        return self._record.run_id

    @property
    def state(self) -> RunState:
        return self._record.state

    @property
    def finished(self) -> bool:
        return self._record.state not in UNFINISHED_STATES

    async def wait_for_state(self, states: Collection[str]) -> RunState:
        """Wait until the run is in one of ``states`` (or has ended); the state then."""
        while self.state not in states and not self.done.is_set():
            changed = self._changed
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as group:
                    # Whichever comes first: a state change or the end of the run.
                    async def on_done() -> None:
                        await self.done.wait()
                        scope.cancel()

                    group.start_soon(on_done)
                    await changed.wait()
                    scope.cancel()
        return self.state

    # --- bookkeeping without a write ----------------------------------------------------

    def touch(self) -> None:
        self._last_event_at = now_ms()
        self._unfolded = True

    def observe(self, event: WorkflowEvent) -> None:
        """Keep the progress summary current (persisted with the next transition)."""
        progress = self._progress
        at = now_ms()
        if event.type == "task:start":
            progress["lastTaskStart"] = {"taskName": event.task_name, "at": at}
        elif event.type in ("task:complete", "task:restored"):
            key = event.step_key or event.task_name
            # Top-level tasks only (a loop counts once, not each body step per iteration),
            # each once: a task restored after a restart was already counted.
            if "/" not in key and key not in self._completed:
                self._completed.add(key)
                progress.setdefault("completedTasks", []).append(key)
                progress["tasksCompleted"] = len(self._completed)
        elif event.type == "budget:warning":
            progress["lastBudgetWarning"] = {
                "spentUsd": event.spent_usd,
                "limitUsd": event.limit_usd,
                "at": at,
            }
        self._last_event_at = at
        self._unfolded = True

    # --- transitions --------------------------------------------------------------------

    async def _transition(self, **changes: Any) -> bool:
        """Apply ``changes`` and persist them; False when the run is already finished."""
        async with self._write_lock:
            if self.finished or self.detached:
                return False
            now = now_ms()
            self._record = self.record.model_copy(update={**changes, "last_event_at": now})
            self._last_event_at = now
            await self._persist()
            self._changed.set()
            self._changed = anyio.Event()
            return True

    async def _persist(self) -> None:
        # Held steps go with this write (taken out first: steps held while it is in
        # flight wait for the next one).
        held, self._held_steps = self._held_steps, []
        try:
            saved = await self.store.save_run(self.record, owner=self.owner, steps=held)
        except BaseException:
            self._held_steps[:0] = held  # not written: they stay for a later write
            raise
        if not saved:
            # Another process owns the run now: its journal is no longer ours to write.
            self.detach(RunOwnershipLostError(self.run_id))
            if self.on_ownership_lost is not None:
                self.on_ownership_lost(self)

    def detach(self, reason: BaseException | None = None) -> None:
        """Stop writing and stop executing here (closing down, or ownership lost)."""
        self.detached = True
        self.detach_reason = reason
        if self.stream is not None:
            self.stream.cancel()

    async def open_checkpoint(self, event: CheckpointEvent) -> CheckpointSlot:
        """Wait at a checkpoint: awaiting-checkpoint, persisted; returns the answer slot."""
        self.slot = CheckpointSlot(event)
        pending = self._record.pending_checkpoint
        already_waiting = (
            self.state == "awaiting-checkpoint"
            and pending is not None
            and pending.step_key == event.step_key
        )
        if already_waiting:
            # A recovered run: keep the stored checkpoint and its decision, restart the clock.
            self.touch()
        else:
            await self._transition(
                state="awaiting-checkpoint", pending_checkpoint=event, decision=None
            )
        return self.slot

    async def decide(self, approved: bool) -> None:
        """Persist an answer to the pending checkpoint, then deliver it."""
        pending = self._record.pending_checkpoint
        assert pending is not None
        decision = CheckpointDecision(
            step_key=pending.step_key or pending.task_name, approved=approved, decided_at=now_ms()
        )
        await self._transition(decision=decision)
        if self.slot is not None:
            self.slot.answer(approved)

    def stored_decision(self, event: CheckpointEvent) -> bool | None:
        decision = self._record.decision
        key = event.step_key or event.task_name
        return decision.approved if decision is not None and decision.step_key == key else None

    async def clear_checkpoint(self) -> None:
        self.slot = None
        await self._transition(state="running", pending_checkpoint=None, decision=None)

    async def mark_done(self, result: WorkflowResult) -> bool:
        return await self._transition(
            state="done", result=result, pending_checkpoint=None, decision=None
        )

    async def mark_failed(self, exc: BaseException) -> bool:
        return await self._transition(
            state="failed",
            error=ErrorInfo.from_exception(exc, with_stack=False),
            pending_checkpoint=None,
            decision=None,
        )

    async def mark_cancelled(self) -> bool:
        return await self._transition(state="cancelled", pending_checkpoint=None, decision=None)

    def hold_last_steps(self, steps: list[StepRecord]) -> None:
        """Keep the steps that end the run for the final transition's write: nothing in
        the run can depend on them, and one write is cheaper than two. Should this process
        die before that write, they are in-flight steps: a recovery runs them again."""
        self._held_steps.extend(steps)

    async def journal_held_steps(self) -> None:
        """Journal the held steps on their own: this process stops before the run's final
        write (closing down), so the next one restores them instead of running them again.
        Nothing is written once another process owns the run."""
        if self._held_steps and not isinstance(self.detach_reason, RunOwnershipLostError):
            held, self._held_steps = self._held_steps, []
            await self.store.append_steps(self.run_id, held)

    async def commit_steps(self, steps: list[StepRecord]) -> None:
        """Journal finished steps: one at a time, or a batch in one transaction."""
        if len(steps) == 1:
            await self.store.append_step(self.run_id, steps[0])
        else:
            await self.store.append_steps(self.run_id, steps)
