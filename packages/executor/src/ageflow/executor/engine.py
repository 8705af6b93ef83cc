"""The scheduler: runs one task map as a DAG, for the top level and for loop bodies.

A task starts as soon as its own dependencies are done (not when a whole level is).
Tasks that share a session token never run at once. The first task that fails for good
cancels the rest, and that task's own exception is what the caller sees.
"""

from __future__ import annotations

import inspect
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import anyio
import pydantic

from ageflow.core.config import Checkpoint
from ageflow.core.context import LOOP_FEEDBACK_KEY, CtxEntry, TaskContext
from ageflow.core.dag import topological_sort
from ageflow.core.errors import LoopMaxIterationsError, NodeMaxRetriesError, ValidationError
from ageflow.core.events import (
    BudgetWarningEvent,
    CheckpointEvent,
    ErrorInfo,
    LoopIterationEvent,
    TaskCompleteEvent,
    TaskErrorEvent,
    TaskRestoredEvent,
    TaskRetryEvent,
    TaskSkipEvent,
    TaskStartEvent,
    WorkflowEvent,
)
from ageflow.core.metrics import TaskMetrics
from ageflow.core.registry import RunnerRegistry
from ageflow.core.runner import RunnerOverride
from ageflow.core.schemas import schema_adapter
from ageflow.core.tasks import UNSET, AgentTask, FunctionTask, LoopDef, TaskDef
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.budget import BudgetTracker
from ageflow.executor.callbacks import call_hook, call_maybe_async
from ageflow.executor.errors import (
    HitlRejectedError,
    RunnerNotRegisteredError,
    WorkflowAbortedError,
)
from ageflow.executor.function_runner import run_function
from ageflow.executor.hitl import HITLManager
from ageflow.executor.journal import (
    OnLastSteps,
    OnStepComplete,
    OnStepsComplete,
    StepRecord,
    dump_output,
    load_output,
    loop_iteration_prefix,
)
from ageflow.executor.node_runner import Sleep, run_node
from ageflow.executor.sessions import SessionManager

CheckpointHandler = Callable[[CheckpointEvent], Awaitable[bool] | bool]
Emit = Callable[[WorkflowEvent], None]


@dataclass
class RunTotals:
    """Token and task counts of one run, over every agent and function task (loops too)."""

    tokens_in: int = 0
    tokens_out: int = 0
    task_count: int = 0

    def add(self, metrics: TaskMetrics) -> None:
        self.tokens_in += metrics.tokens_in
        self.tokens_out += metrics.tokens_out
        self.task_count += 1


@dataclass
class RunEnv:
    """What every task of one run shares."""

    workflow: WorkflowDef
    run_id: str
    workflow_input: Any
    registry: RunnerRegistry
    budget: BudgetTracker
    hitl: HITLManager
    emit: Emit
    on_checkpoint: CheckpointHandler | None = None
    runner_overrides: Mapping[str, RunnerOverride] = field(default_factory=dict)
    journal: Mapping[str, StepRecord] = field(default_factory=dict)
    on_step_complete: OnStepComplete | None = None
    on_steps_complete: OnStepsComplete | None = None
    on_last_steps: OnLastSteps | None = None
    limiter: anyio.CapacityLimiter | None = None
    sleep: Sleep = anyio.sleep
    totals: RunTotals = field(default_factory=RunTotals)
    aborted: bool = False

    def event_fields(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "workflow_name": self.workflow.name}

    @property
    def journaling(self) -> bool:
        return self.on_step_complete is not None or self.on_steps_complete is not None

    async def commit(self, records: list[StepRecord], *, last: bool = False) -> None:
        """Hand finished steps to the journal: in one call when it takes batches.

        ``last``: the steps end the run (no task is left to depend on them); they go to
        ``on_last_steps`` when there is one, which stores them with the run's final state.
        """
        if last and self.on_last_steps is not None:
            self.on_last_steps(records)
        elif self.on_steps_complete is not None:
            await self.on_steps_complete(records)
        elif self.on_step_complete is not None:
            for record in records:
                await self.on_step_complete(record)


@dataclass
class _Finished:
    """A step that ran inline and waits for its batch commit before it counts as done."""

    name: str
    entry: CtxEntry
    metrics: TaskMetrics
    make_record: Callable[[], StepRecord]


class _Skipped(Exception):
    """Internal: the task's skip_if held."""


async def run_task_map(
    env: RunEnv,
    tasks: Mapping[str, TaskDef],
    entries: dict[str, CtxEntry],
    sessions: SessionManager,
    *,
    prefix: str = "",
    feedback: Any = None,
    ends_run: bool = False,
) -> None:
    """Run every task of ``tasks``; finished tasks land in ``entries`` as they complete.

    ``ends_run``: this is the workflow's own task map, so the steps that finish it end
    the run; they are journaled as the run's last steps (see ``RunEnv.commit``).

    Scheduling: a task becomes ready when its own dependencies are done. A task that never
    waits (a sync function, or a step restored from the journal) runs inline in whichever
    coroutine made it ready; a task that may wait (agents, async functions, loops) runs in
    a task of its own, except that the first one a task makes ready continues in the same
    coroutine. So neither a chain nor a fan-out of plain functions pays for a task per step.
    """
    dependencies = {name: node.depends_on for name, node in tasks.items()}
    topological_sort(dependencies)  # unknown dependencies and cycles fail before any task
    remaining = {name: len(deps) for name, deps in dependencies.items()}
    dependents: dict[str, list[str]] = {name: [] for name in tasks}
    for name, deps in dependencies.items():
        for dep in deps:
            dependents[dep].append(name)
    hooks_wait = _hooks_may_wait(env)
    inline = {
        name for name, node in tasks.items() if _never_waits(env, node, prefix + name, hooks_wait)
    }
    session_locks: dict[str, anyio.Lock] = {}
    failures: list[BaseException] = []
    walk = _TaskRunner(env, entries, sessions, prefix, feedback)
    if ends_run:
        walk.unreleased = len(tasks)

    async with anyio.create_task_group() as group:

        def release(
            name: str, queue: deque[str], may_wait: bool, waiting: str | None
        ) -> str | None:
            """Count ``name`` as done for its dependents; returns the task to continue with."""
            if walk.unreleased is not None:
                walk.unreleased -= 1
            for dependent in dependents[name]:
                remaining[dependent] -= 1
                if remaining[dependent]:
                    continue
                if dependent in inline:
                    queue.append(dependent)
                elif may_wait and waiting is None:
                    waiting = dependent
                else:
                    group.start_soon(drive, deque(), dependent, True, name=f"ageflow {dependent}")
            return waiting

        async def drive(queue: deque[str], waiting: str | None, may_wait: bool) -> None:
            """Run ready tasks here: queued inline ones first, then ``waiting``.

            Inline steps of a journaled run are committed in batches: their dependents are
            released only after the batch holding them is committed.
            """
            finished: list[_Finished] = []
            since_yield = 0
            while queue or waiting is not None or finished:
                if finished and (not queue or len(finished) >= _COMMIT_BATCH):
                    batch, finished = finished, []
                    try:
                        await walk.finish_batch(batch)
                    except Exception as exc:
                        fail(exc)
                        return
                    for done in batch:
                        waiting = release(done.name, queue, may_wait, waiting)
                    continue
                if queue:
                    name = queue.popleft()
                    since_yield += 1
                    if since_yield >= _INLINE_BATCH:
                        since_yield = 0
                        await anyio.lowlevel.checkpoint()  # let others run; allow cancel
                else:
                    assert waiting is not None
                    name, waiting = waiting, None
                held = len(finished)
                try:
                    await _run_with_limits(
                        env, walk, name, tasks[name], sessions, session_locks, finished
                    )
                except Exception as exc:
                    fail(exc)
                    return
                if len(finished) == held:  # not waiting for a commit: done now
                    waiting = release(name, queue, may_wait, waiting)

        def fail(exc: Exception) -> None:
            if not failures:
                failures.append(exc)
            group.cancel_scope.cancel()

        roots = [name for name in tasks if remaining[name] == 0]
        for name in roots:
            if name not in inline:
                group.start_soon(drive, deque(), name, True, name=f"ageflow {name}")
        # The host runs the inline roots; tasks they release that may wait get their own.
        await drive(deque(name for name in roots if name in inline), None, False)
    if failures:
        raise failures[0]


_INLINE_BATCH = 64
_COMMIT_BATCH = 256
_WAITING_HOOKS = ("on_task_start", "on_task_complete", "on_task_skip", "on_task_error")


def _hooks_may_wait(env: RunEnv) -> bool:
    """Whether a task hook of the workflow is async (then no task runs inline)."""
    hooks = env.workflow.hooks
    return any(inspect.iscoroutinefunction(getattr(hooks, hook)) for hook in _WAITING_HOOKS)


def _never_waits(env: RunEnv, node: TaskDef, key: str, hooks_wait: bool) -> bool:
    """Whether running ``node`` can complete without suspending (so it can run inline)."""
    if key in env.journal:
        return True  # restored without calling anything
    if hooks_wait or not isinstance(node, FunctionTask) or node.hitl is not None:
        return False
    if env.limiter is not None:
        return False
    callables = (node.fn.execute, node.skip_if, node.input)
    return not any(inspect.iscoroutinefunction(fn) for fn in callables if callable(fn))


async def _run_with_limits(
    env: RunEnv,
    walk: _TaskRunner,
    name: str,
    node: TaskDef,
    sessions: SessionManager,
    session_locks: dict[str, anyio.Lock],
    finished: list[_Finished] | None = None,
) -> None:
    if env.aborted:
        raise WorkflowAbortedError()
    if env.workflow.budget is not None:
        env.budget.check_budget(env.workflow.budget)
    if isinstance(node, LoopDef):
        # A loop holds no concurrency slot: its inner tasks take their own.
        await walk.run_loop(name, node)
        return
    token = sessions.canonical_token(name)
    lock = session_locks.setdefault(token, anyio.Lock()) if token is not None else None
    if lock is not None:
        await lock.acquire()
    try:
        if env.limiter is not None:
            async with env.limiter:
                await walk.run_leaf(name, node)
        else:
            await walk.run_leaf(name, node, finished)
    finally:
        if lock is not None:
            lock.release()


class _TaskRunner:
    """Runs the tasks of one task map (one loop iteration, or the top level)."""

    def __init__(
        self,
        env: RunEnv,
        entries: dict[str, CtxEntry],
        sessions: SessionManager,
        prefix: str,
        feedback: Any = None,
    ) -> None:
        self.env = env
        self.entries = entries
        self.sessions = sessions
        self.prefix = prefix
        self.ctx = TaskContext(entries, input=env.workflow_input, feedback=feedback)
        self.hooks = env.workflow.hooks
        # In the task map that ends the run: how many of its tasks have not released their
        # dependents yet (running, waiting, or finished and waiting for a batch commit).
        self.unreleased: int | None = None

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    # --- agents and functions -------------------------------------------------------------

    async def run_leaf(
        self, name: str, node: AgentTask | FunctionTask, finished: list[_Finished] | None = None
    ) -> None:
        """Run one agent or function task. With ``finished``, a function task that needs a
        journal commit is left there for the caller's batch commit instead."""
        key = self.key(name)
        record = self.env.journal.get(key)
        if record is not None:
            self._restore(name, node, record)
            return
        try:
            await self._check_skip(name, node)
        except _Skipped:
            return
        try:
            if isinstance(node, AgentTask):
                await self._run_agent(name, node)
            else:
                await self._run_function(name, node, finished)
        except Exception as exc:
            await self._fail(name, exc)

    async def _check_skip(self, name: str, node: AgentTask | FunctionTask) -> None:
        if node.skip_if is None:
            return
        try:
            skip = await call_maybe_async(node.skip_if, self.ctx)
        except Exception as exc:
            await self._fail(name, exc, attempt=0)
        if not skip:
            return
        self.entries[name] = CtxEntry(output=None, source="skipped")
        await call_hook(self.hooks.on_task_skip, name, "skipIf")
        self.env.emit(TaskSkipEvent(**self._task_fields(name)))
        raise _Skipped

    async def _resolve_input(self, node: TaskDef) -> Any:
        if node.input is UNSET:
            is_root = not node.depends_on and not self.prefix
            return self.env.workflow_input if is_root else None
        if callable(node.input):
            return await call_maybe_async(node.input, self.ctx)
        return node.input

    async def _run_agent(self, name: str, node: AgentTask) -> None:
        env = self.env
        agent = node.agent
        runner = env.registry.get(agent.runner)
        if runner is None:
            raise RunnerNotRegisteredError(agent.runner)
        value = await self._resolve_input(node)
        if value is not None:
            try:
                value = schema_adapter(agent.input).validate_python(value)
            except pydantic.ValidationError as exc:
                raise ValidationError(name, str(exc)) from exc
        hitl = env.hitl.resolve_config(agent.hitl, node.hitl)
        permission = env.hitl.apply_permissions(agent.tools, hitl)
        if isinstance(hitl, Checkpoint):
            await self._checkpoint(name, hitl.message_for(name))
        handle = self.sessions.get_handle(name)
        await call_hook(self.hooks.on_task_start, name, agent.runner)
        env.emit(TaskStartEvent(**self._task_fields(name)))
        result = await run_node(
            node,
            value,
            runner,
            name,
            handle,
            hooks=self.hooks,
            permissions=permission.permissions,
            filtered_tools=permission.filtered_tools,
            hitl_enforcing=permission.enforcing,
            on_retry=self._retry_emitter(name),
            workflow_mcp_servers=env.workflow.mcp_servers,
            runner_override=env.runner_overrides.get(agent.runner),
            sleep=env.sleep,
        )
        if result.session_handle:
            self.sessions.set_handle(name, result.session_handle)
        cost = env.budget.add_cost(agent.model, result.tokens_in, result.tokens_out)
        await self._after_cost(name)
        metrics = TaskMetrics(
            tokens_in=result.tokens_in,
            tokens_out=result.tokens_out,
            latency_ms=result.latency_ms,
            retries=result.retries,
            estimated_cost=cost,
            prompt_sent=result.prompt_sent,
        )
        await self._complete(
            name,
            CtxEntry(result.output, "agent", result.tokens_in, result.tokens_out),
            metrics,
            make_record=lambda: StepRecord(
                step_key=self.key(name),
                task_name=name,
                source="agent",
                output=dump_output(agent.output, result.output),
                metrics=metrics,
                session_token=self.sessions.canonical_token(name),
                session_handle=result.session_handle or None,
            ),
        )

    async def _run_function(
        self, name: str, node: FunctionTask, finished: list[_Finished] | None = None
    ) -> None:
        value = await self._resolve_input(node)
        if node.hitl is not None:
            await self._checkpoint(name, node.hitl.message_for(name))
        await call_hook(self.hooks.on_task_start, name, "")
        self.env.emit(TaskStartEvent(**self._task_fields(name)))
        result = await run_function(node, value, name, on_retry=self._retry_emitter(name))
        metrics = TaskMetrics(latency_ms=result.latency_ms, retries=result.retries)
        await self._complete(
            name,
            CtxEntry(result.output, "function"),
            metrics,
            finished=finished,
            make_record=lambda: StepRecord(
                step_key=self.key(name),
                task_name=name,
                source="function",
                output=dump_output(node.fn.output_schema, result.output),
                metrics=metrics,
            ),
        )

    async def _complete(
        self,
        name: str,
        entry: CtxEntry,
        metrics: TaskMetrics,
        *,
        make_record: Callable[[], StepRecord],
        finished: list[_Finished] | None = None,
    ) -> None:
        # The step is committed before anything can depend on it, and before it is reported
        # done; the steps that end the run are handed over to be stored with its final
        # state instead (see RunEnv.commit). The record is built only when a journal takes
        # it (dumping outputs costs time a plain run does not need).
        done = _Finished(name, entry, metrics, make_record)
        if not self.env.journaling:
            await self._finish(done)
        elif finished is not None:
            finished.append(done)  # the caller commits it with its batch
        else:
            await self.env.commit([make_record()], last=self._ends_run(1))
            await self._finish(done)

    def _ends_run(self, finishing: int) -> bool:
        """Whether the ``finishing`` steps are all the run has left (nothing else runs
        or waits, so no task can depend on them)."""
        return self.unreleased == finishing

    async def finish_batch(self, batch: list[_Finished]) -> None:
        """Commit inline steps together, then report each one done."""
        records = [done.make_record() for done in batch]
        await self.env.commit(records, last=self._ends_run(len(batch)))
        for done in batch:
            try:
                await self._finish(done)
            except Exception as exc:
                await self._fail(done.name, exc)

    async def _finish(self, done: _Finished) -> None:
        self.entries[done.name] = done.entry
        self.env.totals.add(done.metrics)
        await call_hook(self.hooks.on_task_complete, done.name, done.entry.output, done.metrics)
        self.env.emit(
            TaskCompleteEvent(
                **self._task_fields(done.name), output=done.entry.output, metrics=done.metrics
            )
        )

    def _restore(self, name: str, node: AgentTask | FunctionTask, record: StepRecord) -> None:
        """Put a journaled step back as if it had just run, without calling anything."""
        metrics = record.metrics
        if isinstance(node, AgentTask):
            output = load_output(node.agent.output, record.output)
            entry = CtxEntry(output, "agent", metrics.tokens_in, metrics.tokens_out)
            if record.session_handle:
                self.sessions.set_handle(name, record.session_handle)
            # The spend is recomputed from the tokens, so the budget sees what it saw before.
            self.env.budget.add_cost(node.agent.model, metrics.tokens_in, metrics.tokens_out)
        else:
            output = load_output(node.fn.output_schema, record.output)
            entry = CtxEntry(output, "function")
        self.entries[name] = entry
        self.env.totals.add(record.metrics)
        self.env.emit(
            TaskRestoredEvent(**self._task_fields(name), output=output, metrics=record.metrics)
        )

    async def _after_cost(self, name: str) -> None:
        env = self.env
        budget = env.workflow.budget
        if budget is None or not env.budget.exceeded(budget):
            return
        await env.budget.fire_on_exceeded(budget, name, env.workflow.name)
        if budget.on_exceed == "halt":
            env.budget.check_budget(budget)
        else:
            env.emit(
                BudgetWarningEvent(
                    **env.event_fields(), spent_usd=env.budget.total, limit_usd=budget.max_cost
                )
            )

    async def _checkpoint(self, name: str, message: str) -> None:
        event = CheckpointEvent(**self._task_fields(name), message=message)
        self.env.emit(event)
        if self.env.on_checkpoint is not None:
            approved = await call_maybe_async(self.env.on_checkpoint, event)
            if not approved:
                raise HitlRejectedError(name)
        else:
            await self.env.hitl.run_checkpoint(name, message, self.hooks)

    def _retry_emitter(self, name: str) -> Callable[[int, str], Awaitable[None]]:
        async def on_retry(attempt: int, reason: str) -> None:
            self.env.emit(TaskRetryEvent(**self._task_fields(name), attempt=attempt, reason=reason))

        return on_retry

    async def _fail(self, name: str, exc: BaseException, *, attempt: int | None = None) -> NoReturn:
        """Report a task's final failure (hook, then event) and re-raise it."""
        if attempt is None:
            attempt = len(exc.attempts) if isinstance(exc, NodeMaxRetriesError) else 1
        # A raising on_task_error replaces the error, and no task:error is emitted.
        await call_hook(self.hooks.on_task_error, name, exc, attempt)
        self.env.emit(
            TaskErrorEvent(
                **self._task_fields(name),
                error=ErrorInfo.from_exception(exc),
                attempt=attempt,
                terminal=True,
            )
        )
        raise exc

    def _task_fields(self, name: str) -> dict[str, Any]:
        return {**self.env.event_fields(), "task_name": name, "step_key": self.key(name)}

    # --- loops ---------------------------------------------------------------------------

    async def run_loop(self, name: str, node: LoopDef) -> None:
        started = time.perf_counter()
        self.env.emit(TaskStartEvent(**self._task_fields(name)))
        try:
            output = await self._iterate(name, node)
        except Exception as exc:
            await self._fail(name, exc)
        self.entries[name] = CtxEntry(output, "loop")
        metrics = TaskMetrics(latency_ms=(time.perf_counter() - started) * 1000)
        self.env.emit(TaskCompleteEvent(**self._task_fields(name), output=output, metrics=metrics))

    async def _iterate(self, name: str, node: LoopDef) -> dict[str, CtxEntry]:
        if node.max <= 0:
            raise LoopMaxIterationsError(name, node.max)
        key = self.key(name)
        persistent = SessionManager(node.tasks) if node.context == "persistent" else None
        last: dict[str, CtxEntry] | None = None
        for iteration in range(node.max):
            inner = dict(self.entries)
            if last is not None:
                inner[LOOP_FEEDBACK_KEY] = CtxEntry(last, "loop")
            loop_input = await self._loop_input(node, inner, last)
            if isinstance(loop_input, Mapping):
                for input_key, value in loop_input.items():
                    inner[str(input_key)] = CtxEntry(value, "loop")
            self.env.emit(
                LoopIterationEvent(**self._task_fields(name), iteration=iteration, max=node.max)
            )
            sessions = persistent or SessionManager(node.tasks)
            prefix = loop_iteration_prefix(key, iteration)
            await run_task_map(self.env, node.tasks, inner, sessions, prefix=prefix, feedback=last)
            last = inner
            done = await call_maybe_async(
                node.until, TaskContext(inner, input=self.env.workflow_input)
            )
            if done:
                return inner
        raise LoopMaxIterationsError(name, node.max)

    async def _loop_input(
        self, node: LoopDef, inner: dict[str, CtxEntry], last: dict[str, CtxEntry] | None
    ) -> Any:
        if node.input is UNSET:
            return None
        if not callable(node.input):
            return node.input
        visible = {k: v for k, v in inner.items() if k != LOOP_FEEDBACK_KEY}
        view = TaskContext(visible, input=self.env.workflow_input, feedback=last)
        return await call_maybe_async(node.input, view)
