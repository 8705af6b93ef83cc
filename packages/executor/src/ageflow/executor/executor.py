"""WorkflowExecutor: runs a workflow and streams its events."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ageflow.core.context import CtxEntry
from ageflow.core.events import (
    ErrorInfo,
    WorkflowCompleteEvent,
    WorkflowErrorEvent,
    WorkflowEvent,
    WorkflowStartEvent,
)
from ageflow.core.metrics import WorkflowMetrics, WorkflowResult
from ageflow.core.registry import RunnerRegistry, default_registry
from ageflow.core.runner import RunnerOverride
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.budget import BudgetTracker
from ageflow.executor.callbacks import call_best_effort, call_hook
from ageflow.executor.engine import CheckpointHandler, RunEnv, run_task_map
from ageflow.executor.errors import WorkflowAbortedError
from ageflow.executor.hitl import HITLManager
from ageflow.executor.journal import OnLastSteps, OnStepComplete, OnStepsComplete, StepRecord
from ageflow.executor.node_runner import Sleep
from ageflow.executor.sessions import SessionManager

EventListener = Callable[[WorkflowEvent], None]


class AbortSignal(Protocol):
    """Anything shaped like ``anyio.Event``: ``is_set()`` and an awaitable ``wait()``."""

    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


class WorkflowExecutor:
    """Runs one workflow.

    Session handles and the spend of the budget tracker live on the executor and carry
    over from one run to the next (as in the original); create one executor per run, or
    call ``reset()``, for independent runs.
    """

    def __init__(
        self,
        workflow: WorkflowDef,
        *,
        registry: RunnerRegistry | None = None,
        session_manager: SessionManager | None = None,
        hitl_manager: HITLManager | None = None,
        budget_tracker: BudgetTracker | None = None,
        max_concurrency: int | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.workflow = workflow
        self.registry = registry if registry is not None else default_registry
        self.session_manager = session_manager or SessionManager(workflow.tasks)
        self.hitl_manager = hitl_manager or HITLManager()
        self.budget_tracker = budget_tracker or BudgetTracker()
        self.max_concurrency = max_concurrency
        self.sleep = sleep

    def reset(self) -> None:
        """Forget session handles and spend, so the next run starts afresh."""
        self.session_manager = SessionManager(self.workflow.tasks)
        self.budget_tracker = BudgetTracker()

    def stream(
        self,
        input: Any = None,
        *,
        signal: AbortSignal | None = None,
        on_checkpoint: CheckpointHandler | None = None,
        runner_overrides: Mapping[str, RunnerOverride] | None = None,
        journal: Mapping[str, StepRecord] | None = None,
        on_step_complete: OnStepComplete | None = None,
        run_id: str | None = None,
        listener: EventListener | None = None,
        on_steps_complete: OnStepsComplete | None = None,
        on_last_steps: OnLastSteps | None = None,
    ) -> EventStream:
        """A run as a stream of events: ``async with executor.stream(x) as events:``.

        ``journal`` holds steps an earlier process finished: they are restored without a
        runner call. ``on_step_complete`` is awaited for each finished step before any
        task that depends on it starts; ``on_steps_complete`` does the same for a batch of
        steps at once (sync function tasks that run inline are committed in batches, one
        call per batch). With ``on_last_steps`` beside one of those, the steps that end the
        run (the last ones of the workflow's own tasks, which nothing can depend on) go to
        it instead, without waiting, so that a caller can store them with the run's final
        state in one write; they are reported done before that write.
        ``listener`` is called synchronously with every event as it happens (cheaper than
        iterating when a caller only observes); it must not raise.
        """
        return EventStream(
            self,
            input,
            signal=signal,
            on_checkpoint=on_checkpoint,
            runner_overrides=runner_overrides or {},
            journal=journal or {},
            on_step_complete=on_step_complete,
            run_id=run_id,
            listener=listener,
            on_steps_complete=on_steps_complete,
            on_last_steps=on_last_steps,
        )

    async def run(
        self,
        input: Any = None,
        *,
        signal: AbortSignal | None = None,
        on_checkpoint: CheckpointHandler | None = None,
        runner_overrides: Mapping[str, RunnerOverride] | None = None,
        journal: Mapping[str, StepRecord] | None = None,
        on_step_complete: OnStepComplete | None = None,
        run_id: str | None = None,
        listener: EventListener | None = None,
        on_steps_complete: OnStepsComplete | None = None,
        on_last_steps: OnLastSteps | None = None,
    ) -> WorkflowResult:
        """Run to the end and return the result; raises what the run raised."""
        stream = self.stream(
            input,
            signal=signal,
            on_checkpoint=on_checkpoint,
            runner_overrides=runner_overrides,
            journal=journal,
            on_step_complete=on_step_complete,
            run_id=run_id,
            listener=listener,
            on_steps_complete=on_steps_complete,
            on_last_steps=on_last_steps,
        )
        stream.keep_events = False  # nobody reads them: skip the queue
        async with stream:
            await stream.wait()
        return stream.result


class EventStream:
    """The events of one run, in order, ending with ``workflow:complete`` or ``workflow:error``.

    Use it as ``async with executor.stream(x) as events: async for event in events: ...``.
    After a failure the iteration raises the run's exception (once ``workflow:error`` has been
    delivered); after success ``events.result`` holds the WorkflowResult. Leaving the block
    early, calling ``cancel()``, setting the signal, or cancelling the enclosing scope
    cancels in-flight work and ends the run as aborted.
    """

    def __init__(
        self,
        executor: WorkflowExecutor,
        input: Any,
        *,
        signal: AbortSignal | None,
        on_checkpoint: CheckpointHandler | None,
        runner_overrides: Mapping[str, RunnerOverride],
        journal: Mapping[str, StepRecord],
        on_step_complete: OnStepComplete | None,
        run_id: str | None,
        listener: EventListener | None = None,
        on_steps_complete: OnStepsComplete | None = None,
        on_last_steps: OnLastSteps | None = None,
    ) -> None:
        self._executor = executor
        self._listener = listener
        self._on_steps_complete = on_steps_complete
        self._on_last_steps = on_last_steps
        self._input = input
        self._signal = signal
        self._on_checkpoint = on_checkpoint
        self._runner_overrides = runner_overrides
        self._journal = journal
        self._on_step_complete = on_step_complete
        self.run_id = run_id or str(uuid.uuid4())
        self._send: MemoryObjectSendStream[WorkflowEvent] | None = None
        self._receive: MemoryObjectReceiveStream[WorkflowEvent] | None = None
        self._group: TaskGroup | None = None
        self._run_scope = anyio.CancelScope()
        self._result: WorkflowResult | None = None
        self.error: BaseException | None = None
        self.final_event: WorkflowCompleteEvent | WorkflowErrorEvent | None = None
        self._abort_requested = False
        self._watcher_scope: anyio.CancelScope | None = None
        self._done = anyio.Event()
        self.keep_events = True

    # --- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> EventStream:
        if self._group is not None:
            raise RuntimeError("an EventStream can be entered only once")
        self._send, self._receive = anyio.create_memory_object_stream[WorkflowEvent](math.inf)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._drive, name=f"ageflow run {self.run_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._group is not None
        assert self._receive is not None
        # The consumer is gone: a run still going is cancelled rather than left unobserved.
        self._abort_requested = True
        self._run_scope.cancel()
        try:
            # The consumer's own exception (the run's error re-raised by __anext__, say)
            # propagates unchanged rather than wrapped in an exception group.
            await self._group.__aexit__(None, None, None)
        finally:
            self._receive.close()
        return None

    def cancel(self) -> None:
        """Stop the run: in-flight runner calls are cancelled; it ends as aborted."""
        self._abort_requested = True
        self._run_scope.cancel()

    @property
    def result(self) -> WorkflowResult:
        """The run's result; raises the run's error when it did not complete."""
        if self._result is None:
            if self.error is not None:
                raise self.error
            raise RuntimeError("the run has not completed yet")
        return self._result

    # --- iteration ----------------------------------------------------------------------

    def __aiter__(self) -> EventStream:
        if self._receive is None:
            raise RuntimeError(
                "enter the stream first: `async with executor.stream(...) as events:`"
            )
        return self

    async def __anext__(self) -> WorkflowEvent:
        assert self._receive is not None
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            if self.error is not None:
                raise self.error from None
            raise StopAsyncIteration from None

    # --- the run ------------------------------------------------------------------------

    async def wait(self) -> None:
        """Wait until the run has ended, without reading its events."""
        await self._done.wait()

    def _emit(self, event: WorkflowEvent) -> None:
        if self._listener is not None:
            self._listener(event)
        if self.keep_events:
            assert self._send is not None
            self._send.send_nowait(event)

    async def _drive(self) -> None:
        assert self._send is not None
        executor = self._executor
        workflow = executor.workflow
        env = RunEnv(
            workflow=workflow,
            run_id=self.run_id,
            workflow_input=self._input,
            registry=executor.registry,
            budget=executor.budget_tracker,
            hitl=executor.hitl_manager,
            emit=self._emit,
            on_checkpoint=self._on_checkpoint,
            runner_overrides=self._runner_overrides,
            journal=self._journal,
            on_step_complete=self._on_step_complete,
            on_steps_complete=self._on_steps_complete,
            on_last_steps=self._on_last_steps,
            limiter=(
                anyio.CapacityLimiter(executor.max_concurrency)
                if executor.max_concurrency is not None
                else None
            ),
            sleep=executor.sleep,
        )
        fields = env.event_fields()
        try:
            await self._run(env, fields)
        finally:
            self._done.set()
            if self._watcher_scope is not None:
                self._watcher_scope.cancel()

    async def _run(self, env: RunEnv, fields: dict[str, Any]) -> None:
        assert self._send is not None
        executor = self._executor
        workflow = executor.workflow
        with self._send:
            self._emit(WorkflowStartEvent(**fields, input=self._input))
            try:
                try:
                    with self._run_scope:
                        if self._signal is not None:
                            self._watch_signal(env)
                        await call_hook(workflow.hooks.on_workflow_start, self._input)
                        started = time.perf_counter()
                        entries: dict[str, CtxEntry] = {}
                        await run_task_map(
                            env, workflow.tasks, entries, executor.session_manager, ends_run=True
                        )
                        latency_ms = (time.perf_counter() - started) * 1000
                        metrics = WorkflowMetrics(
                            total_latency_ms=latency_ms,
                            total_tokens_in=env.totals.tokens_in,
                            total_tokens_out=env.totals.tokens_out,
                            total_estimated_cost=executor.budget_tracker.total,
                            task_count=env.totals.task_count,
                        )
                        outputs = {
                            name: entries[name].output for name in workflow.tasks if name in entries
                        }
                        # In the run's scope: cancelling the run reaches this hook too.
                        await call_hook(workflow.hooks.on_workflow_complete, outputs, metrics)
                    if self._run_scope.cancelled_caught or self._abort_requested:
                        raise WorkflowAbortedError()
                except anyio.get_cancelled_exc_class():
                    # The caller's own scope was cancelled: record the abort, then let the
                    # cancellation go on.
                    self._fail(WorkflowAbortedError(), fields)
                    raise
            except Exception as exc:
                await call_best_effort("on_workflow_error", workflow.hooks.on_workflow_error, exc)
                self._fail(exc, fields)
                return
            result = WorkflowResult(outputs=outputs, metrics=metrics)
            self._result = result
            self.final_event = WorkflowCompleteEvent(**fields, result=result)
            self._emit(self.final_event)

    def _fail(self, exc: BaseException, fields: dict[str, Any]) -> None:
        self.error = exc
        self.final_event = WorkflowErrorEvent(**fields, error=ErrorInfo.from_exception(exc))
        self._emit(self.final_event)

    def _watch_signal(self, env: RunEnv) -> None:
        signal = self._signal
        assert signal is not None
        assert self._group is not None
        if signal.is_set():
            env.aborted = True
            self.cancel()
            return

        async def watch() -> None:
            await signal.wait()
            env.aborted = True
            self.cancel()

        watcher_scope = anyio.CancelScope()
        self._watcher_scope = watcher_scope

        async def run_watcher() -> None:
            with watcher_scope:
                await watch()

        self._group.start_soon(run_watcher)
