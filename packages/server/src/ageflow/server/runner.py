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
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
from anyio.abc import TaskGroup
from pydantic_core import to_jsonable_python

from ageflow.core.events import RunHandle, WorkflowEvent
from ageflow.core.metrics import WorkflowResult
from ageflow.core.registry import RunnerRegistry, default_registry
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.callbacks import call_maybe_async
from ageflow.executor.engine import CheckpointHandler
from ageflow.executor.executor import AbortSignal
from ageflow.server._adoption import RunAdoption, claim_time, claimable
from ageflow.server._runner_base import Outcome, RunnerConfig
from ageflow.server.errors import (
    CheckpointTimeoutError,
    InvalidRunStateError,
    RunNotFoundError,
    RunStoreError,
)
from ageflow.server.live import LiveRun
from ageflow.server.memory_store import InMemoryRunStore
from ageflow.server.ownership import new_owner_id
from ageflow.server.records import RunPolicy, RunRecord
from ageflow.server.relay import RequestRelay
from ageflow.server.requests import RunRequest
from ageflow.server.run_stream import RunStream
from ageflow.server.store import RunStore

__all__ = ["RunStream", "RunnerConfig", "WorkflowRunner", "create_runner", "generate_run_id"]

logger = logging.getLogger("ageflow.server")

OnEvent = Callable[[WorkflowEvent], Awaitable[None] | None]
OnError = Callable[[BaseException], Awaitable[None] | None]
OnComplete = Callable[[WorkflowResult], Awaitable[None] | None]


def generate_run_id() -> str:
    """A random UUID v4, the default run id."""
    return str(uuid.uuid4())


class WorkflowRunner(RunAdoption):
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
        super().__init__(store, registry=registry, config=config, owner_id=owner_id)
        self._owns_store = owns_store
        self._generate_run_id = generate_run_id
        # Fired runs still delivering events or reporting their outcome.
        self._reporting: set[anyio.Event] = set()
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
            if record.owner not in (None, self.owner_id) and not claimable(record):
                # A live process owns it: only that process can stop it. Ask it, through
                # the store when the store can carry the request, and wait for the answer.
                if self._relay.enabled and await self._relay.post(RunRequest(run_id, "cancel")):
                    await self._relay.wait_until_finished(run_id)
                return
            now = now_ms()
            claimed = await self.store.claim_run(
                run_id, self.owner_id, now + self.config.lease_ms, claim_time(record, now)
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
    async def list_records(
        self,
        *,
        workflow_names: Collection[str] | None = None,
        states: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunRecord]:
        """Stored runs' full records, newest first (live runs as this process sees them),
        from one read of the store."""
        records = await self.store.list_runs(
            workflow_names=workflow_names, states=states, limit=limit
        )
        return [
            live.record if (live := self._live.get(record.run_id)) is not None else record
            for record in records
        ]

    async def list(
        self,
        *,
        workflow_names: Collection[str] | None = None,
        states: Collection[str] | None = None,
        limit: int | None = None,
    ) -> list[RunHandle]:
        """Snapshots of stored runs, newest first (live runs as this process sees them)."""
        records = await self.list_records(workflow_names=workflow_names, states=states, limit=limit)
        return [record.to_handle() for record in records]


async def _report(
    outcome: Outcome, on_complete: OnComplete | None, on_error: OnError | None
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
