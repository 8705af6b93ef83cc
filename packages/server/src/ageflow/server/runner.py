"""The embeddable server runner: durable runs you can stream, fire, resume and recover.

Use it as an async context manager that owns the background work::

    async with create_runner(store=SqliteRunStore("runs.sqlite")) as runner:
        handle = await runner.fire(workflow, {"text": "hi"})
        ...

Every run is written to the RunStore when it starts (its input once, never overwritten),
each finished task is journaled before anything depends on it, and each state change is
persisted. ``recover(workflow)`` continues unfinished runs from their journals: finished
steps are restored without calling a runner, and a run that waited at a checkpoint waits
there again and can be resumed at once.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic_core import to_jsonable_python

from ageflow.core.events import (
    TERMINAL_RUN_STATES,
    CheckpointEvent,
    ErrorInfo,
    RunHandle,
    WorkflowErrorEvent,
    WorkflowEvent,
)
from ageflow.core.metrics import WorkflowResult
from ageflow.core.registry import RunnerRegistry, default_registry
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef
from ageflow.executor import WorkflowAbortedError, WorkflowExecutor
from ageflow.executor.callbacks import call_maybe_async
from ageflow.executor.engine import CheckpointHandler
from ageflow.executor.executor import AbortSignal
from ageflow.executor.journal import StepRecord
from ageflow.server.deadlines import DeadlineWatch
from ageflow.server.errors import (
    CheckpointTimeoutError,
    InvalidRunStateError,
    RunDeadlineExceededError,
    RunNotFoundError,
    RunOwnedElsewhereError,
    RunOwnershipLostError,
    RunStoreError,
    UnknownWorkflowError,
    store_failure,
)
from ageflow.server.live import LiveRun
from ageflow.server.memory_store import InMemoryRunStore
from ageflow.server.ownership import is_dead_local_owner, new_owner_id
from ageflow.server.policy import registry_for, with_cost_ceiling
from ageflow.server.records import UNFINISHED_STATES, RunPolicy, RunRecord
from ageflow.server.relay import RequestRelay
from ageflow.server.requests import RunRequest
from ageflow.server.store import RunStore

logger = logging.getLogger("ageflow.server")

OnEvent = Callable[[WorkflowEvent], Awaitable[None] | None]
OnError = Callable[[BaseException], Awaitable[None] | None]
OnComplete = Callable[[WorkflowResult], Awaitable[None] | None]


def generate_run_id() -> str:
    """A random UUID v4, the default run id."""
    return str(uuid.uuid4())


@dataclass(frozen=True)
class RunnerConfig:
    """Timings of the runner (milliseconds), as in the original unless noted.

    ``ttl_ms``: how long a finished run is kept after its last event. ``checkpoint_ttl_ms``:
    how long a run may wait at a checkpoint before it fails. ``reaper_interval_ms``: how
    often both are checked. ``lease_ms`` (new): how long a run stays owned by this process
    without a renewal; renewals happen every third of it, and runs of dead owners are
    looked for as often.
    """

    ttl_ms: int = 300_000
    checkpoint_ttl_ms: int = 3_600_000
    reaper_interval_ms: int = 60_000
    lease_ms: int = 15_000
    max_concurrency: int | None = None


@dataclass
class _Outcome:
    result: WorkflowResult | None = None
    error: BaseException | None = None


class WorkflowRunner:
    """Runs workflows durably on a RunStore. Create it with ``create_runner``."""

    def __init__(
        self,
        store: RunStore,
        *,
        owns_store: bool,
        registry: RunnerRegistry,
        config: RunnerConfig,
        generate_run_id: Callable[[], str],
        owner_id: str,
    ) -> None:
        self.store = store
        self.registry = registry
        self.config = config
        self.owner_id = owner_id
        self._owns_store = owns_store
        self._generate_run_id = generate_run_id
        self._live: dict[str, LiveRun] = {}
        self._workflows: dict[str, WorkflowDef] = {}
        self._group: TaskGroup | None = None
        self._deadlines: DeadlineWatch[LiveRun] = DeadlineWatch(self._deadline_passed)
        self._closed = False
        # Fired runs still delivering events or reporting their outcome.
        self._reporting: set[anyio.Event] = set()
        # Runs whose store write failed: taken up again on the ownership beat.
        self._parked: set[str] = set()
        # Resume and cancel for runs that other processes sharing the store own.
        self._relay = RequestRelay(store, owner_id, self._apply_request)

    # --- starting runs --------------------------------------------------------------------

    def stream(
        self,
        workflow: WorkflowDef,
        input: Any = None,
        *,
        on_checkpoint: CheckpointHandler | None = None,
        signal: AbortSignal | None = None,
        policy: RunPolicy | None = None,
        run_id: str | None = None,
    ) -> RunStream:
        """A new run as a stream of events: ``async with runner.stream(wf, x) as events``.

        Without ``on_checkpoint`` a checkpoint follows the policy (by default it waits,
        ``awaiting-checkpoint``, for ``resume``).
        """
        return RunStream(self, workflow, input, on_checkpoint, signal, policy, run_id)

    async def run(
        self,
        workflow: WorkflowDef,
        input: Any = None,
        *,
        on_checkpoint: CheckpointHandler | None = None,
        signal: AbortSignal | None = None,
        policy: RunPolicy | None = None,
    ) -> WorkflowResult:
        """Run to the end. With neither ``on_checkpoint`` nor a policy, checkpoints are
        rejected (nobody is there to approve them)."""
        if on_checkpoint is None and policy is None:
            policy = RunPolicy(checkpoint="reject")
        live = await self._create(workflow, input, policy, None)
        outcome = await self._execute(live, workflow, input, {}, on_checkpoint, signal, None)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.result is not None
        return outcome.result

    async def fire(
        self,
        workflow: WorkflowDef,
        input: Any = None,
        *,
        on_event: OnEvent | None = None,
        on_error: OnError | None = None,
        on_complete: OnComplete | None = None,
        on_checkpoint: CheckpointHandler | None = None,
        signal: AbortSignal | None = None,
        policy: RunPolicy | None = None,
        run_id: str | None = None,
    ) -> RunHandle:
        """Start a run in the background; returns once it is stored (so it is recoverable).

        ``on_event`` sees every event (its exceptions are ignored); afterwards exactly one
        of ``on_complete`` and ``on_error`` is called.
        """
        live = await self._create(workflow, input, policy, run_id)
        group = self._require_group()

        async def drive() -> None:
            send, receive = anyio.create_memory_object_stream[WorkflowEvent](math.inf)

            async def deliver() -> None:
                # In order, one at a time; a listener's exception never reaches the run.
                async with receive:
                    async for event in receive:
                        if on_event is not None:
                            with suppress(Exception):
                                await call_maybe_async(on_event, event)

            settled = anyio.Event()
            self._reporting.add(settled)
            try:
                async with anyio.create_task_group() as delivery:
                    delivery.start_soon(deliver)
                    with send:
                        outcome = await self._execute(
                            live, workflow, input, {}, on_checkpoint, signal, send.send_nowait
                        )
                await _report(outcome, on_complete, on_error)
            finally:
                settled.set()
                self._reporting.discard(settled)

        group.start_soon(drive, name=f"ageflow run {live.run_id}")
        return live.record.to_handle()

    async def _create(
        self, workflow: WorkflowDef, input: Any, policy: RunPolicy | None, run_id: str | None
    ) -> LiveRun:
        self._require_group()
        self._workflows.setdefault(workflow.name, workflow)
        now = now_ms()
        record = RunRecord(
            run_id=run_id or self._generate_run_id(),
            workflow_name=workflow.name,
            state="running",
            created_at=now,
            last_event_at=now,
            policy=policy or RunPolicy(),
            owner=self.owner_id,
            lease_until=now + self.config.lease_ms,
        )
        await self.store.create_run(record, to_jsonable_python(input))
        return self._adopt(record)

    def _adopt(self, record: RunRecord) -> LiveRun:
        live = LiveRun(record, self.store, self.owner_id)
        live.on_ownership_lost = self._forget
        self._live[record.run_id] = live
        return live

    def _forget(self, live: LiveRun) -> None:
        """Another process owns the run now: answer for it from the store, not memory."""
        if self._live.get(live.run_id) is live:
            del self._live[live.run_id]

    # --- executing ------------------------------------------------------------------------

    async def _execute(
        self,
        live: LiveRun,
        workflow: WorkflowDef,
        input: Any,
        journal: Mapping[str, StepRecord],
        on_checkpoint: CheckpointHandler | None,
        signal: AbortSignal | None,
        emit: Callable[[WorkflowEvent], None] | None,
    ) -> _Outcome:
        """Run (or continue) one run to a terminal state; never raises the run's error."""
        outcome = _Outcome()
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

    # --- acting on runs ---------------------------------------------------------------------

    async def resume(self, run_id: str, approved: bool) -> None:
        """Answer the checkpoint a run waits at. The answer is stored before it is used."""
        live = self._live.get(run_id)
        if live is None:
            record = await self.store.get_run(run_id)
            if record is None:
                raise RunNotFoundError(run_id)
            if record.state != "awaiting-checkpoint":
                raise InvalidRunStateError(run_id, record.state)
            live = await self._take_over_one(record)
            if live is None:
                if self._relay.enabled:  # its owner answers it, from the store
                    await self._relay.post(RunRequest(run_id, "resume", approved))
                    return
                raise InvalidRunStateError(run_id, "awaiting-checkpoint (owned by another process)")
        if live.state != "awaiting-checkpoint" or live.record.pending_checkpoint is None:
            raise InvalidRunStateError(run_id, live.state)
        await live.decide(approved)

    async def cancel(self, run_id: str) -> None:
        """Cancel a run (in-flight work is stopped). Unknown or finished runs: nothing."""
        live = self._live.get(run_id)
        if live is None:
            record = await self.store.get_run(run_id)
            if record is None or record.finished:
                return
            if record.owner not in (None, self.owner_id) and not _claimable(record):
                # A live process owns it: only that process can stop it. Ask it, through
                # the store when the store can carry the request, and wait for the answer.
                if self._relay.enabled and await self._relay.post(RunRequest(run_id, "cancel")):
                    await self._relay.wait_until_finished(run_id)
                return
            now = now_ms()
            claimed = await self.store.claim_run(
                run_id, self.owner_id, now + self.config.lease_ms, _claim_time(record, now)
            )
            if not claimed:
                return
            live = self._adopt(record)
            live.done.set()
        live.cancel_requested = True
        await live.mark_cancelled()
        if live.stream is not None:
            live.stream.cancel()

    async def _apply_request(self, request: RunRequest) -> bool:
        """Act on a request another process posted for a run this one owns; False when
        the run is not executing here yet (it is put back)."""
        live = self._live.get(request.run_id)
        if live is None:
            record = await self.store.get_run(request.run_id)
            return record is None or record.finished or record.owner != self.owner_id
        if live.finished:
            return True
        if request.kind == "cancel":
            await self.cancel(request.run_id)
        elif live.state == "awaiting-checkpoint" and live.record.pending_checkpoint is not None:
            await live.decide(bool(request.approved))
        return True

    async def get(self, run_id: str) -> RunHandle | None:
        """A run's snapshot: live runs from memory, others from the store."""
        live = self._live.get(run_id)
        if live is not None:
            return live.record.to_handle()
        record = await self.store.get_run(run_id)
        return record.to_handle() if record is not None else None

    async def get_record(self, run_id: str) -> RunRecord | None:
        """A run's full record (progress, policy, decision ...)."""
        live = self._live.get(run_id)
        if live is not None:
            return live.record
        return await self.store.get_run(run_id)

    async def wait_for(self, run_id: str, *states: str) -> RunHandle | None:
        """Wait until a run executing here reaches one of ``states`` or ends."""
        live = self._live.get(run_id)
        if live is not None:
            await live.wait_for_state(states)
        return await self.get(run_id)

    async def wait(self, run_id: str) -> RunHandle | None:
        """Wait until a run this process executes has ended; its final snapshot."""
        live = self._live.get(run_id)
        if live is not None:
            await live.done.wait()
        return await self.get(run_id)

    # --- recovery and ownership -------------------------------------------------------------

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
            record.run_id, self.owner_id, lease_until, _claim_time(record, now)
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

    async def _ownership_loop(self) -> None:
        while True:
            await anyio.sleep(self.config.lease_ms / 3000)
            try:
                await self.renew_leases()
                await self._take_over()
                await self._relay.drain()  # requests whose notice was lost, or came first
            except RunStoreError as exc:
                # The store is away (a restart, a lost connection): try again on the next
                # beat; a run whose lease lapses meanwhile goes to whoever claims it first.
                logger.warning("ageflow: lease renewal failed: %s", exc)

    # --- reaping ----------------------------------------------------------------------------

    async def sweep(self, now: int | None = None) -> None:
        """One reaper pass: time out checkpoints, forget and delete expired finished runs."""
        now = now_ms() if now is None else now
        for live in list(self._live.values()):
            age = now - live.record.last_event_at
            pending = live.record.pending_checkpoint
            if live.state == "awaiting-checkpoint" and age > self.config.checkpoint_ttl_ms:
                await self._stop(live, CheckpointTimeoutError(pending.task_name if pending else ""))
            elif live.finished and live.done.is_set() and age > self.config.ttl_ms:
                self._live.pop(live.run_id, None)
        for run_id in await self.store.delete_finished_before(now - self.config.ttl_ms):
            self._live.pop(run_id, None)

    async def _reaper_loop(self) -> None:
        while True:
            await anyio.sleep(self.config.reaper_interval_ms / 1000)
            try:
                await self.sweep()
            except RunStoreError as exc:
                logger.warning("ageflow: reaper pass failed: %s", exc)

    # --- lifecycle --------------------------------------------------------------------------

    def _require_group(self) -> TaskGroup:
        if self._group is None or self._closed:
            raise RuntimeError("the runner is not open: use `async with create_runner(...)`")
        return self._group

    def _start(self, group: TaskGroup) -> None:
        self._group = group
        group.start_soon(self._reaper_loop, name="ageflow reaper")
        group.start_soon(self._ownership_loop, name="ageflow leases")
        group.start_soon(self._deadlines.run, name="ageflow deadlines")
        group.start_soon(self._relay.listen, name="ageflow run requests")

    async def close(self) -> None:
        """Stop this runner's work. Unfinished runs stay in the store, recoverable, and
        their leases are released; the store is closed only when this runner created it."""
        if self._closed:
            return
        self._closed = True
        unfinished = [live for live in self._live.values() if not live.finished]
        for live in unfinished:
            live.detach()
        for live in unfinished:
            await live.done.wait()
        for settled in list(self._reporting):
            await settled.wait()  # listeners hear how their run ended before we go
        with anyio.CancelScope(shield=True):
            for live in unfinished:
                with suppress(RunStoreError):  # then they run again after a restart
                    await live.journal_held_steps()
            if unfinished:
                await self.store.release_runs(self.owner_id, [live.run_id for live in unfinished])
            if self._owns_store:
                await self.store.close()
        if self._group is not None:
            self._group.cancel_scope.cancel()

    # Defined last: inside the class body the name ``list`` would shadow the builtin.
    async def list(
        self,
        *,
        workflow_names: Collection[str] | None = None,
        states: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunHandle]:
        """Snapshots of stored runs, newest first (live runs as this process sees them)."""
        records = await self.store.list_runs(
            workflow_names=workflow_names, states=states, limit=limit
        )
        handles = []
        for record in records:
            live = self._live.get(record.run_id)
            handles.append((live.record if live is not None else record).to_handle())
        return handles


def _claimable(record: RunRecord) -> bool:
    return (
        record.owner is None
        or (record.lease_until or 0) < now_ms()
        or (is_dead_local_owner(record.owner))
    )


def _claim_time(record: RunRecord, now: int) -> int:
    """The ``now`` to claim with: past the lease of an owner known to be dead."""
    if record.owner and is_dead_local_owner(record.owner):
        return max(now, (record.lease_until or 0) + 1)
    return now


def _explained(event: WorkflowEvent, live: LiveRun) -> WorkflowEvent:
    """A run stopped for a reason ends with that reason, not a bare abort."""
    if isinstance(event, WorkflowErrorEvent) and live.stop_reason is not None:
        return event.model_copy(
            update={"error": ErrorInfo.from_exception(live.stop_reason, with_stack=False)}
        )
    return event


async def _report(
    outcome: _Outcome, on_complete: OnComplete | None, on_error: OnError | None
) -> None:
    # on_complete failing does not turn a completed run into an error report.
    try:
        if outcome.result is not None:
            if on_complete is not None:
                await call_maybe_async(on_complete, outcome.result)
        elif outcome.error is not None and on_error is not None:
            await call_maybe_async(on_error, outcome.error)
    except Exception:
        pass


class RunStream:
    """The events of one server run, as ``async with runner.stream(...) as events``.

    The run's error is raised when the iteration ends (after ``workflow:error``); after
    success ``events.result`` holds the result and ``events.run_id`` names the run.
    """

    def __init__(
        self,
        runner: WorkflowRunner,
        workflow: WorkflowDef,
        input: Any,
        on_checkpoint: CheckpointHandler | None,
        signal: AbortSignal | None,
        policy: RunPolicy | None,
        run_id: str | None,
    ) -> None:
        self._runner = runner
        self._workflow = workflow
        self._input = input
        self._on_checkpoint = on_checkpoint
        self._signal = signal
        self._policy = policy
        self._run_id = run_id
        self._send: MemoryObjectSendStream[WorkflowEvent] | None = None
        self._receive: MemoryObjectReceiveStream[WorkflowEvent] | None = None
        self._group: TaskGroup | None = None
        self._live: LiveRun | None = None
        self._outcome = _Outcome()

    @property
    def run_id(self) -> str:
        assert self._live is not None, "enter the stream first"
        return self._live.run_id

    @property
    def result(self) -> WorkflowResult:
        if self._outcome.result is None:
            if self._outcome.error is not None:
                raise self._outcome.error
            raise RuntimeError("the run has not completed yet")
        return self._outcome.result

    async def __aenter__(self) -> RunStream:
        self._live = await self._runner._create(
            self._workflow, self._input, self._policy, self._run_id
        )
        self._send, self._receive = anyio.create_memory_object_stream[WorkflowEvent](math.inf)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._drive)
        return self

    async def _drive(self) -> None:
        assert self._send is not None
        assert self._live is not None
        with self._send:
            self._outcome = await self._runner._execute(
                self._live,
                self._workflow,
                self._input,
                {},
                self._on_checkpoint,
                self._signal,
                self._send.send_nowait,
            )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._group is not None
        assert self._receive is not None
        if self._live is not None and not self._live.done.is_set() and self._live.stream:
            # The consumer left early: the run is cancelled, not left unobserved.
            self._live.cancel_requested = True
            self._live.stream.cancel()
        try:
            await self._group.__aexit__(None, None, None)
        finally:
            self._receive.close()

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> WorkflowEvent:
        assert self._receive is not None, "enter the stream first"
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            if self._outcome.error is not None:
                raise self._outcome.error from None
            raise StopAsyncIteration from None


@asynccontextmanager
async def create_runner(
    *,
    store: RunStore | None = None,
    registry: RunnerRegistry | None = None,
    workflows: Collection[WorkflowDef] = (),
    ttl_ms: int = 300_000,
    checkpoint_ttl_ms: int = 3_600_000,
    reaper_interval_ms: int = 60_000,
    lease_ms: int = 15_000,
    max_concurrency: int | None = None,
    generate_run_id: Callable[[], str] = generate_run_id,
    owner_id: str | None = None,
) -> AsyncIterator[WorkflowRunner]:
    """Open a runner. Without a store, runs live in memory (and die with the process).

    ``workflows`` are the workflows whose unfinished runs it recovers at start and keeps
    watching for (the same as calling ``recover(*workflows)``).
    """
    runner = WorkflowRunner(
        store if store is not None else InMemoryRunStore(),
        owns_store=store is None,
        registry=registry if registry is not None else default_registry,
        config=RunnerConfig(
            ttl_ms=ttl_ms,
            checkpoint_ttl_ms=checkpoint_ttl_ms,
            reaper_interval_ms=reaper_interval_ms,
            lease_ms=lease_ms,
            max_concurrency=max_concurrency,
        ),
        generate_run_id=generate_run_id,
        owner_id=owner_id or new_owner_id(),
    )
    async with anyio.create_task_group() as group:
        runner._start(group)
        try:
            if workflows:
                await runner.recover(*workflows)
            yield runner
        finally:
            await runner.close()
