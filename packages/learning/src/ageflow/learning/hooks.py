"""Executor hooks that record a trace of every run and put an agent's skill in its prompt.

``with_learning(workflow, skill_store=..., trace_store=...)`` is the same workflow with
these hooks composed after its own. For each run they:

- before an agent task, pick the agent's skill: a candidate still on trial (fewer scored
  runs than ``min_runs_before_rollback``) when there is one, else its active skill; its
  text goes before the system prompt of every attempt;
- record a ``TaskTrace`` for every task that finishes or fails (prompt sent, output,
  tokens, retries, the skill applied, the runner's spawn arguments and result; the
  arguments without MCP server settings and environment, which may hold credentials);
- when the run ends, whether it completed or failed, save its ``ExecutionTrace`` and
  score each skill it applied on the task's outcome (the task and what its output reached
  downstream), counting one more run for it;
- then, when ``reflect`` is given and ``should_reflect(config, trace, n)`` holds for this
  n-th run, await ``reflect(trace)`` (typically a ``run_reflection`` on that trace), one
  at a time. Feedback comes after a run, so ``"on-feedback"`` never fires here: reflect
  where the feedback is given.

Failures of the stores or of ``reflect`` are logged and never fail the run.

A run's state lives in a context variable, so one hooked workflow may run many times at
once. Steps restored from a journal on recovery are not traced again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio
from pydantic_core import to_jsonable_python

from ageflow.core.metrics import TaskMetrics, WorkflowMetrics
from ageflow.core.runner import RunnerSpawnArgs, RunnerSpawnResult
from ageflow.core.workflow import WorkflowDef, WorkflowHooks
from ageflow.executor.callbacks import call_hook
from ageflow.learning.config import DEFAULT_CONFIG, LearningConfig
from ageflow.learning.dag import dependency_map
from ageflow.learning.models import ExecutionTrace, SkillRecord, SkillStatus, TaskTrace
from ageflow.learning.outcome import task_outcome
from ageflow.learning.scoring import should_reflect, update_score
from ageflow.learning.stores import SkillStore, TraceStore

__all__ = ["Reflect", "learning_hooks", "pick_skill", "skill_prompt", "with_learning"]

Reflect = Callable[[ExecutionTrace], Awaitable[object]]
"""Called with a run's trace when the config says to reflect on it."""

logger = logging.getLogger("ageflow.learning")


@dataclass
class _Run:
    started: float
    input: Any
    task_traces: list[TaskTrace] = field(default_factory=list)
    runners: dict[str, str] = field(default_factory=dict)
    skills: dict[str, SkillRecord | None] = field(default_factory=dict)
    spawn_args: dict[str, dict[str, Any]] = field(default_factory=dict)
    spawn_results: dict[str, dict[str, Any]] = field(default_factory=dict)


# Keyed by the recorder's id, so that each set of hooks keeps its own run.
_RUNS: ContextVar[Mapping[int, _Run] | None] = ContextVar("ageflow_learning_runs", default=None)


def _runs() -> dict[int, _Run]:
    return dict(_RUNS.get() or {})


def skill_prompt(skill: SkillRecord) -> str:
    """The text a skill puts before an agent's system prompt."""
    return f"## Skill: {skill.name}\n\n{skill.content.strip()}"


async def pick_skill(
    skill_store: SkillStore,
    agent: str,
    workflow: str | None,
    config: LearningConfig = DEFAULT_CONFIG,
) -> SkillRecord | None:
    """The skill an agent runs with: a candidate on trial, else its active skill.

    Skills of this workflow come first; skills with no workflow apply to the agent in
    every workflow.
    """
    trial_runs = max(1, config.thresholds.min_runs_before_rollback)
    every_skill = await skill_store.for_agent(agent)  # one read: best score first
    scopes: list[Sequence[SkillRecord]] = []
    if workflow is not None:
        scopes.append([s for s in every_skill if s.workflow == workflow])
    scopes.append([s for s in every_skill if s.workflow is None])
    for skills in scopes:
        # for_agent lists best score first.
        for skill in skills:
            if skill.status is SkillStatus.CANDIDATE and skill.run_count < trial_runs:
                return skill
        for skill in skills:
            if skill.status is SkillStatus.ACTIVE:
                return skill
    return None


# Spawn argument fields a trace leaves out: MCP server settings and the agent's
# environment may carry credentials (expanded from the process environment), and inline
# tools are callables.
_UNTRACED = ("mcp_servers", "mcps", "env", "inline_tools")


def _plain(value: Any) -> dict[str, Any]:
    """Spawn arguments or result as JSON-able data, without the fields in _UNTRACED."""
    data = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    for name in _UNTRACED:
        data.pop(name, None)
    jsonable = to_jsonable_python(data, fallback=repr)
    assert isinstance(jsonable, dict)
    return {key: item for key, item in jsonable.items() if item is not None}


class _Recorder:
    def __init__(
        self,
        skill_store: SkillStore,
        trace_store: TraceStore,
        workflow: WorkflowDef,
        config: LearningConfig,
        inner: WorkflowHooks,
        reflect: Reflect | None,
    ) -> None:
        self.reflect = reflect
        self.finished_runs = 0
        # Made on first use: hooks are often built at import time, outside any event loop.
        self.reflecting: anyio.Lock | None = None
        self.skill_store = skill_store
        self.trace_store = trace_store
        self.workflow_name = workflow.name
        self.dependencies = dependency_map(workflow)
        self.config = config
        self.inner = inner

    def run(self) -> _Run | None:
        return (_RUNS.get() or {}).get(id(self))

    async def on_workflow_start(self, value: Any) -> None:
        await call_hook(self.inner.on_workflow_start, value)
        runs = _runs()
        runs[id(self)] = _Run(started=time.perf_counter(), input=value)
        _RUNS.set(runs)

    async def on_task_start(self, task_name: str, runner: str) -> None:
        await call_hook(self.inner.on_task_start, task_name, runner)
        run = self.run()
        if run is None:
            return
        run.runners[task_name] = runner
        if runner and task_name not in run.skills:
            # The skill layer must not fail the run it watches: a store that cannot
            # answer means no skill for this task.
            try:
                skill = await pick_skill(
                    self.skill_store, task_name, self.workflow_name, self.config
                )
            except Exception:
                logger.warning("could not read the skill of task %r", task_name, exc_info=True)
                skill = None
            run.skills[task_name] = skill

    async def get_system_prompt_prefix(self, task_name: str) -> str | None:
        own = await call_hook(self.inner.get_system_prompt_prefix, task_name)
        run = self.run()
        skill = run.skills.get(task_name) if run is not None else None
        parts = [text for text in (own, skill_prompt(skill) if skill else None) if text]
        return "\n\n".join(parts) or None

    async def on_task_spawn_args(self, task_name: str, args: RunnerSpawnArgs) -> None:
        await call_hook(self.inner.on_task_spawn_args, task_name, args)
        if (run := self.run()) is not None:
            run.spawn_args[task_name] = _plain(args)

    async def on_task_spawn_result(self, task_name: str, result: RunnerSpawnResult) -> None:
        await call_hook(self.inner.on_task_spawn_result, task_name, result)
        if (run := self.run()) is not None:
            run.spawn_results[task_name] = _plain(result)

    def _applied(self, run: _Run, task_name: str) -> tuple[str, ...]:
        skill = run.skills.get(task_name)
        return (skill.id,) if skill is not None else ()

    async def on_task_complete(self, task_name: str, output: Any, metrics: TaskMetrics) -> None:
        await call_hook(self.inner.on_task_complete, task_name, output, metrics)
        run = self.run()
        if run is None:
            return
        parsed = to_jsonable_python(output, fallback=repr)
        run.task_traces.append(
            TaskTrace(
                task_name=task_name,
                agent_runner=run.runners.get(task_name, ""),
                prompt=metrics.prompt_sent or "",
                output=parsed if isinstance(parsed, str) else json.dumps(parsed),
                parsed_output=parsed,
                success=True,
                skills_applied=self._applied(run, task_name),
                tokens_in=metrics.tokens_in,
                tokens_out=metrics.tokens_out,
                duration_ms=metrics.latency_ms,
                retry_count=metrics.retries,
                spawn_args=run.spawn_args.pop(task_name, None),
                spawn_result=run.spawn_results.pop(task_name, None),
            )
        )

    async def on_task_error(self, task_name: str, error: BaseException, attempt: int) -> None:
        await call_hook(self.inner.on_task_error, task_name, error, attempt)
        run = self.run()
        if run is None:
            return
        args = run.spawn_args.pop(task_name, None)
        run.task_traces.append(
            TaskTrace(
                task_name=task_name,
                agent_runner=run.runners.get(task_name, ""),
                prompt=str(args.get("prompt", "")) if args else "",
                output=str(error),
                success=False,
                skills_applied=self._applied(run, task_name),
                retry_count=max(0, attempt - 1),
                spawn_args=args,
                spawn_result=run.spawn_results.pop(task_name, None),
            )
        )

    async def on_workflow_complete(self, outputs: dict[str, Any], metrics: WorkflowMetrics) -> None:
        await call_hook(self.inner.on_workflow_complete, outputs, metrics)
        run = self.run()
        if run is not None:
            success = bool(run.task_traces) and all(t.success for t in run.task_traces)
            await self._finish(run, success=success, output=outputs)

    async def on_workflow_error(self, error: BaseException) -> None:
        await call_hook(self.inner.on_workflow_error, error)
        run = self.run()
        if run is not None:
            await self._finish(run, success=False, output=None)

    async def _finish(self, run: _Run, *, success: bool, output: Any) -> None:
        runs = _runs()
        runs.pop(id(self), None)
        _RUNS.set(runs)
        trace = ExecutionTrace(
            workflow_name=self.workflow_name,
            success=success,
            total_duration_ms=(time.perf_counter() - run.started) * 1000,
            task_traces=tuple(run.task_traces),
            workflow_input=to_jsonable_python(run.input, fallback=repr),
            workflow_output=to_jsonable_python(output, fallback=repr),
            dependencies=self.dependencies,
        )
        self.finished_runs += 1
        number = self.finished_runs
        try:
            await self.trace_store.save_trace(trace)
            await self._score(run, trace)
        except Exception:
            logger.warning("could not store a trace of %r", self.workflow_name, exc_info=True)
            return
        if self.reflect is None or not should_reflect(self.config, trace, number):
            return
        if self.reflecting is None:
            self.reflecting = anyio.Lock()
        try:
            async with self.reflecting:
                await self.reflect(trace)
        except Exception:
            logger.warning("reflection on a run of %r failed", self.workflow_name, exc_info=True)

    async def _score(self, run: _Run, trace: ExecutionTrace) -> None:
        thresholds = self.config.thresholds
        for task_name, chosen in run.skills.items():
            if chosen is None:
                continue
            signal = task_outcome(trace, task_name, self.dependencies)
            current = await self.skill_store.get(chosen.id)
            if signal is None or current is None:
                continue
            score = update_score(current.score, signal, thresholds=thresholds)
            await self.skill_store.save(
                current.model_copy(update={"score": score, "run_count": current.run_count + 1})
            )


def learning_hooks(
    *,
    skill_store: SkillStore,
    trace_store: TraceStore,
    workflow: WorkflowDef,
    config: LearningConfig = DEFAULT_CONFIG,
    inner: WorkflowHooks | None = None,
    reflect: Reflect | None = None,
) -> WorkflowHooks:
    """Hooks that trace every run of ``workflow`` and inject its agents' skills.

    ``inner`` hooks (say, the workflow's own) are called first by each hook, and their
    prompt prefix comes before the skill. An agent's skills are those whose ``agent`` is
    the task's name.
    """
    base = inner or WorkflowHooks()
    recorder = _Recorder(skill_store, trace_store, workflow, config, base, reflect)
    return dataclasses.replace(
        base,
        on_workflow_start=recorder.on_workflow_start,
        on_task_start=recorder.on_task_start,
        get_system_prompt_prefix=recorder.get_system_prompt_prefix,
        on_task_spawn_args=recorder.on_task_spawn_args,
        on_task_spawn_result=recorder.on_task_spawn_result,
        on_task_complete=recorder.on_task_complete,
        on_task_error=recorder.on_task_error,
        on_workflow_complete=recorder.on_workflow_complete,
        on_workflow_error=recorder.on_workflow_error,
    )


def with_learning(
    workflow: WorkflowDef,
    *,
    skill_store: SkillStore,
    trace_store: TraceStore,
    config: LearningConfig = DEFAULT_CONFIG,
    reflect: Reflect | None = None,
) -> WorkflowDef:
    """The same workflow with learning hooks composed after its own hooks."""
    hooks = learning_hooks(
        skill_store=skill_store,
        trace_store=trace_store,
        workflow=workflow,
        config=config,
        inner=workflow.hooks,
        reflect=reflect,
    )
    return workflow.with_hooks(hooks)
