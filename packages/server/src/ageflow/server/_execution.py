"""Executing one run: the executor on the run's journal, checkpoints, deadlines, and the
run's end written to the store (or the run parked when the store fails under it)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

from ageflow.core.events import CheckpointEvent, ErrorInfo, WorkflowErrorEvent, WorkflowEvent
from ageflow.core.registry import RunnerRegistry
from ageflow.core.workflow import WorkflowDef
from ageflow.executor import WorkflowAbortedError, WorkflowExecutor
from ageflow.executor.callbacks import call_maybe_async
from ageflow.executor.engine import CheckpointHandler
from ageflow.executor.executor import AbortSignal
from ageflow.executor.journal import StepRecord
from ageflow.server._runner_base import Outcome, RunnerBase, RunnerConfig
from ageflow.server.deadlines import DeadlineWatch
from ageflow.server.errors import RunDeadlineExceededError, RunStoreError, store_failure
from ageflow.server.live import LiveRun
from ageflow.server.policy import registry_for, with_cost_ceiling
from ageflow.server.store import RunStore

logger = logging.getLogger("ageflow.server")


class RunExecution(RunnerBase):
    """Runs (or continues) runs to a terminal state, watching their deadlines."""

    def __init__(
        self, store: RunStore, *, registry: RunnerRegistry, config: RunnerConfig, owner_id: str
    ) -> None:
        super().__init__(store, registry=registry, config=config, owner_id=owner_id)
        self._deadlines: DeadlineWatch[LiveRun] = DeadlineWatch(self._deadline_passed)
        # Runs whose store write failed: taken up again on the ownership beat.
        self._parked: set[str] = set()

    async def _execute(
        self,
        live: LiveRun,
        workflow: WorkflowDef,
        input: Any,
        journal: Mapping[str, StepRecord],
        on_checkpoint: CheckpointHandler | None,
        signal: AbortSignal | None,
        emit: Callable[[WorkflowEvent], None] | None,
    ) -> Outcome:
        """Run (or continue) one run to a terminal state; never raises the run's error."""
        outcome = Outcome()
        try:
            policy = live.record.policy
            # Built inside the guard: a constructor error fails the run instead of
            # leaving it "running" forever.
            executor = WorkflowExecutor(
                with_cost_ceiling(workflow, policy.max_cost_usd),
                registry=registry_for(self.registry, policy, journal),
                max_concurrency=self.config.max_concurrency,
            )

            def listen(event: WorkflowEvent) -> None:
                live.observe(event)
                if emit is not None:
                    emit(_explained(event, live))

            stream = executor.stream(
                input,
                on_checkpoint=self._checkpoint_handler(live, on_checkpoint),
                journal=journal,
                on_steps_complete=live.commit_steps,
                on_last_steps=live.hold_last_steps,
                run_id=live.run_id,
                signal=signal,
                listener=listen,
            )
            stream.keep_events = False  # events reach us through the listener
            live.stream = stream
            if live.cancel_requested or live.detached:
                stream.cancel()
            watched = (
                None
                if policy.deadline_at is None
                else self._deadlines.add(policy.deadline_at, live)
            )
            try:
                async with stream:
                    await stream.wait()
            finally:
                if watched is not None:
                    self._deadlines.drop(watched)
            outcome.result = stream.result
            await live.mark_done(outcome.result)
        except Exception as exc:
            error = live.detach_reason or live.stop_reason or exc
            outcome.error = error
            try:
                if live.detached:
                    pass  # closing down or taken over: the store keeps the run recoverable
                elif store_failure(exc) is not None:
                    self._park(live, exc)
                elif isinstance(exc, WorkflowAbortedError) and live.stop_reason is None:
                    await live.mark_cancelled()
                else:
                    await live.mark_failed(error)
            except RunStoreError as write_failure:
                self._park(live, write_failure)
        finally:
            live.done.set()
        return outcome

    def _park(self, live: LiveRun, reason: BaseException) -> None:
        """The store failed under a run (a database restart, a lost connection): stop
        executing it here and leave it as the store last recorded it. The ownership beat
        takes it up again from its journal once the store answers."""
        logger.warning("ageflow: run %s parked until the store answers: %s", live.run_id, reason)
        live.detach(reason)
        self._live.pop(live.run_id, None)
        self._parked.add(live.run_id)

    def _checkpoint_handler(
        self, live: LiveRun, caller: CheckpointHandler | None
    ) -> CheckpointHandler:
        async def on_checkpoint(event: CheckpointEvent) -> bool:
            live.touch()
            stored = live.stored_decision(event)
            if stored is not None:  # decided before a restart, or before we got here
                await live.clear_checkpoint()
                return stored
            if caller is not None:
                return bool(await call_maybe_async(caller, event))
            policy = live.record.policy.checkpoint
            if policy != "pause":
                return policy == "approve"
            slot = await live.open_checkpoint(event)
            stored = live.stored_decision(event)
            if stored is not None:  # resume() arrived while the checkpoint opened
                slot.answer(stored)
            approved = await slot.wait()
            await live.clear_checkpoint()
            return approved

        return on_checkpoint

    async def _deadline_passed(self, live: LiveRun) -> None:
        deadline_at = live.record.policy.deadline_at
        assert deadline_at is not None
        with suppress(Exception):  # the run is cancelled either way; it reports the failure
            await self._stop(live, RunDeadlineExceededError(deadline_at))

    async def _stop(self, live: LiveRun, reason: BaseException) -> None:
        """End a run for ``reason`` (deadline, checkpoint timeout): failed, then cancelled."""
        live.stop_reason = reason
        try:
            await live.mark_failed(reason)
        finally:
            # Stopped even when the store write failed: the run's own path reports it.
            if live.stream is not None:
                live.stream.cancel()


def _explained(event: WorkflowEvent, live: LiveRun) -> WorkflowEvent:
    """A run stopped for a reason ends with that reason, not a bare abort."""
    if isinstance(event, WorkflowErrorEvent) and live.stop_reason is not None:
        return event.model_copy(
            update={"error": ErrorInfo.from_exception(live.stop_reason, with_stack=False)}
        )
    return event
