"""Reflection: find which agents a run's failures are owed to, and draft skills for them.

It is an ageflow workflow (``reflection_workflow``), so it runs on the executor like any
other and, given to the server runner, is durable: a reflection killed half-way resumes
from its journal without calling its finished agents again. Its tasks:

``evidence``  (function) per task of the reflected workflow: how often it failed, which
              tasks lie downstream of it (``dag.downstream_of``) and how often those failed.
``credit``    (agent) scores every task and names the cause of what went wrong, told to
              separate a task's own faults from what it inherited from upstream.
``blame``     (function) keeps the agent tasks that score below the reflection threshold
              and that a failure can be traced to: one failed itself, or a task downstream
              of it failed, or the run was judged negatively. Blame on anything else (a
              task whose output reached no failure, a plain function, an unknown name) is
              dropped, so credit follows the DAG.
``draft``     (agent) writes one skill per blamed agent from the diagnosis, the blamed
              task's traces and those of the failed tasks downstream of it.
``save``      (function) stores each draft for a blamed agent as a new version in the
              lineage of the agent's current skill: a candidate (``autonomous``) or a
              draft awaiting approval (``hitl``). Ids derive from the trace, the agent and
              the draft, so a save that runs again after a crash writes the same records.

``run_reflection`` gathers the input from the stores, runs the workflow and summarises.

This module holds the workflow and the entry point; the models live in
``_reflection_models``, the evidence and blame steps in ``_reflection_credit``, the save
step in ``_reflection_save`` and the agents' prompts in ``_reflection_prompts``. Every
name below is importable from here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from ageflow.core.context import TaskContext
from ageflow.core.definitions import define_agent, define_function
from ageflow.core.metrics import WorkflowResult
from ageflow.core.registry import RunnerRegistry
from ageflow.core.tasks import task
from ageflow.core.workflow import WorkflowDef, define_workflow
from ageflow.executor.executor import WorkflowExecutor
from ageflow.learning._reflection_credit import assign_blame, gather_evidence
from ageflow.learning._reflection_models import (
    Blame,
    BlamedTask,
    BlameRequest,
    CreditRequest,
    CreditResult,
    DraftRequest,
    Evidence,
    ReflectionInput,
    ReflectionSummary,
    Saved,
    SaveRequest,
    SkillDraft,
    SkillDrafts,
    TaskCredit,
    TaskEvidence,
)
from ageflow.learning._reflection_prompts import credit_prompt, draft_prompt
from ageflow.learning._reflection_save import save_drafts
from ageflow.learning.config import DEFAULT_CONFIG, LearningConfig
from ageflow.learning.models import SkillStatus, TraceFilter
from ageflow.learning.outcome import dependencies_of
from ageflow.learning.stores import LearningStoreError, SkillStore, TraceStore

__all__ = [
    "REFLECTION_WORKFLOW_NAME",
    "Blame",
    "BlamedTask",
    "CreditResult",
    "ReflectionInput",
    "ReflectionSummary",
    "RunWorkflow",
    "SkillDraft",
    "SkillDrafts",
    "TaskCredit",
    "TaskEvidence",
    "assign_blame",
    "build_reflection_input",
    "credit_prompt",
    "draft_prompt",
    "gather_evidence",
    "reflection_summary",
    "reflection_workflow",
    "run_reflection",
    "save_drafts",
]

REFLECTION_WORKFLOW_NAME = "__ageflow_reflection"
# How many earlier runs reflection reads. The credit agent sees the first 60 % of them
# (build_reflection_input); the rest is held out for the drafting agent to check that a
# skill generalises.
HISTORY_LIMIT = 50

RunWorkflow = Callable[[WorkflowDef, Any], Awaitable[WorkflowResult]]
"""Runs a workflow on an input: ``WorkflowRunner.run`` of the server fits."""


# --- the workflow -----------------------------------------------------------------------


def reflection_workflow(
    *, skill_store: SkillStore, runner: str = "api", model: str | None = None
) -> WorkflowDef:
    """The reflection workflow, whose agents use ``runner`` (and ``model``).

    To recover its unfinished runs after a restart, build it again with the same store
    and give it to the server runner's ``recover``.
    """
    evidence = define_function(gather_evidence, input=ReflectionInput, output=Evidence)
    blame = define_function(assign_blame, input=BlameRequest, output=Blame)

    async def save(request: SaveRequest) -> Saved:
        return await save_drafts(skill_store, request)

    saver = define_function(save, input=SaveRequest, output=Saved, name="save_drafts")
    credit = define_agent(
        runner=runner, model=model, input=CreditRequest, output=CreditResult, prompt=credit_prompt
    )
    draft = define_agent(
        runner=runner, model=model, input=DraftRequest, output=SkillDrafts, prompt=draft_prompt
    )

    def reflection_input(ctx: TaskContext) -> ReflectionInput:
        return ReflectionInput.model_validate(ctx.input)

    return define_workflow(
        name=REFLECTION_WORKFLOW_NAME,
        description="Credit assignment over a run's DAG, then skill drafts for blamed agents",
        tasks={
            "evidence": task(evidence),
            "credit": task(
                credit,
                depends_on=["evidence"],
                input=lambda ctx: CreditRequest(
                    input=reflection_input(ctx), evidence=ctx["evidence"].output
                ),
            ),
            "blame": task(
                blame,
                depends_on=["evidence", "credit"],
                input=lambda ctx: BlameRequest(
                    evidence=ctx["evidence"].output,
                    credit=ctx["credit"].output,
                    threshold=reflection_input(ctx).threshold,
                ),
            ),
            "draft": task(
                draft,
                depends_on=["blame"],
                input=lambda ctx: DraftRequest(
                    input=reflection_input(ctx), blame=ctx["blame"].output
                ),
                skip_if=lambda ctx: not ctx["blame"].output.blamed,
            ),
            "save": task(
                saver,
                depends_on=["blame", "draft"],
                input=lambda ctx: SaveRequest(
                    input=reflection_input(ctx),
                    blame=ctx["blame"].output,
                    drafts=ctx["draft"].output,
                ),
            ),
        },
    )


# --- entry point ------------------------------------------------------------------------


async def build_reflection_input(
    *,
    skill_store: SkillStore,
    trace_store: TraceStore,
    trace_id: str | None = None,
    workflow_name: str | None = None,
    dag: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    config: LearningConfig = DEFAULT_CONFIG,
) -> ReflectionInput:
    """The input of one reflection: the trace (by id, else the newest one, of
    ``workflow_name`` when given), earlier runs split into seen and held out, the
    workflow's dependencies (from ``dag``, keyed by workflow name, else those the hooks
    recorded in the trace) and its agents' skills.

    Raises LearningStoreError when there is no such trace.
    """
    if trace_id is not None:
        trace = await trace_store.get_trace(trace_id)
        if trace is None:
            raise LearningStoreError(f"no trace with id {trace_id!r}")
    else:
        newest = await trace_store.traces(TraceFilter(workflow_name=workflow_name, limit=1))
        if not newest:
            where = f" of workflow {workflow_name!r}" if workflow_name else ""
            raise LearningStoreError(f"no trace{where} to reflect on")
        trace = newest[0]
    name = trace.workflow_name
    earlier = [
        t
        for t in await trace_store.traces(TraceFilter(workflow_name=name, limit=HISTORY_LIMIT + 1))
        if t.id != trace.id
    ][:HISTORY_LIMIT]
    split = -(-len(earlier) * 6 // 10)  # ceil(60 %)
    dependencies = {t: list(deps) for t, deps in dependencies_of(trace, dag).items()}
    agents = {t.task_name for run in (trace, *earlier) for t in run.task_traces if t.agent_runner}
    skills = [
        skill
        for agent in sorted(agents)
        for skill in await skill_store.for_agent(agent, name)
        if skill.status is SkillStatus.ACTIVE
    ]
    return ReflectionInput(
        workflow_name=name,
        trace=trace,
        history=earlier[:split],
        held_out=earlier[split:],
        dependencies=dependencies,
        skills=skills,
        threshold=config.thresholds.reflection_threshold,
        strategy=config.strategy,
    )


def reflection_summary(request: ReflectionInput, result: WorkflowResult) -> ReflectionSummary:
    """Summarise a finished reflection run."""
    credit = CreditResult.model_validate(result.outputs["credit"])
    blame = Blame.model_validate(result.outputs["blame"])
    saved = Saved.model_validate(result.outputs["save"])
    return ReflectionSummary(
        trace_id=request.trace.id,
        workflow_name=request.workflow_name,
        workflow_score=credit.workflow_score,
        task_scores={name: item.score for name, item in credit.task_scores.items()},
        blamed=[item.task for item in blame.blamed],
        dropped=blame.dropped,
        skill_ids=saved.skill_ids,
        skills_created=saved.created,
        skills_updated=saved.updated,
    )


async def run_reflection(
    *,
    skill_store: SkillStore,
    trace_store: TraceStore,
    runner: str = "api",
    model: str | None = None,
    registry: RunnerRegistry | None = None,
    trace_id: str | None = None,
    workflow_name: str | None = None,
    dag: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    config: LearningConfig = DEFAULT_CONFIG,
    run: RunWorkflow | None = None,
) -> ReflectionSummary:
    """Reflect on one run (see ``build_reflection_input`` for which) and store drafts.

    The workflow's agents use the runner registered as ``runner`` in ``registry`` (the
    default registry when None). ``run`` runs the workflow: a ``WorkflowExecutor`` by
    default; pass the server runner's ``run`` to make the reflection durable.
    """
    request = await build_reflection_input(
        skill_store=skill_store,
        trace_store=trace_store,
        trace_id=trace_id,
        workflow_name=workflow_name,
        dag=dag,
        config=config,
    )
    workflow = reflection_workflow(skill_store=skill_store, runner=runner, model=model)
    if run is None:
        result = await WorkflowExecutor(workflow, registry=registry).run(request)
    else:
        result = await run(workflow, request)
    return reflection_summary(request, result)
