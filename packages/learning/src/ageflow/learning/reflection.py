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
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import to_jsonable_python

from ageflow.core.context import TaskContext
from ageflow.core.definitions import define_agent, define_function
from ageflow.core.metrics import WorkflowResult
from ageflow.core.registry import RunnerRegistry
from ageflow.core.tasks import task
from ageflow.core.workflow import WorkflowDef, define_workflow
from ageflow.executor.executor import WorkflowExecutor
from ageflow.learning.config import DEFAULT_CONFIG, LearningConfig
from ageflow.learning.dag import downstream_of
from ageflow.learning.models import ExecutionTrace, SkillRecord, SkillStatus, TraceFilter
from ageflow.learning.outcome import dependencies_of, task_successes
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
# How many earlier runs reflection reads, and the share of them the credit agent sees;
# the rest is held out for the drafting agent to check that a skill generalises.
HISTORY_LIMIT = 50
TRAIN_SHARE = 0.6

RunWorkflow = Callable[[WorkflowDef, Any], Awaitable[WorkflowResult]]
"""Runs a workflow on an input: ``WorkflowRunner.run`` of the server fits."""

_SKILL_IDS = uuid.UUID("5b0f8f8e-3f5e-4d1c-9a57-0c1e6a4f1d11")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReflectionInput(_Model):
    """Everything one reflection reads, gathered before it starts (its durable input)."""

    workflow_name: str
    trace: ExecutionTrace
    history: list[ExecutionTrace] = Field(default_factory=list)
    held_out: list[ExecutionTrace] = Field(default_factory=list)
    dependencies: dict[str, list[str]] = Field(default_factory=dict)
    skills: list[SkillRecord] = Field(default_factory=list)
    threshold: float = Field(ge=0, le=1)
    strategy: Literal["autonomous", "hitl"] = "autonomous"


class TaskEvidence(_Model):
    task: str
    is_agent: bool
    runs: int
    failures: int
    downstream: list[str]
    downstream_failures: list[str]


class Evidence(_Model):
    tasks: list[TaskEvidence]
    judged_negative: bool


class TaskCredit(_Model):
    score: float = Field(ge=0, le=1)
    credit_weight: float = Field(default=0, ge=0, le=1)
    diagnosis: str = ""
    improvement_hint: str = ""


class CreditResult(_Model):
    """The credit agent's answer."""

    workflow_score: float = Field(ge=0, le=1)
    task_scores: dict[str, TaskCredit]
    insight: str | None = None


class CreditRequest(_Model):
    input: ReflectionInput
    evidence: Evidence


class BlamedTask(_Model):
    task: str
    score: float
    diagnosis: str
    improvement_hint: str
    downstream_failures: list[str]


class Blame(_Model):
    blamed: list[BlamedTask]
    # Tasks the credit agent scored low that no failure can be traced to.
    dropped: list[str]


class BlameRequest(_Model):
    evidence: Evidence
    credit: CreditResult
    threshold: float


class DraftRequest(_Model):
    input: ReflectionInput
    blame: Blame


class SkillDraft(_Model):
    agent: str
    name: str
    description: str = ""
    content: str


class SkillDrafts(_Model):
    """The drafting agent's answer."""

    skills: list[SkillDraft]


class SaveRequest(_Model):
    input: ReflectionInput
    blame: Blame
    drafts: SkillDrafts | None


class Saved(_Model):
    skill_ids: list[str]
    created: int
    updated: int
    ignored: list[str]


class ReflectionSummary(_Model):
    """What a reflection found and wrote."""

    trace_id: str
    workflow_name: str
    workflow_score: float
    task_scores: dict[str, float]
    blamed: list[str]
    dropped: list[str]
    skill_ids: list[str]
    skills_created: int
    skills_updated: int


def _json(value: Any) -> str:
    return json.dumps(to_jsonable_python(value), indent=1, sort_keys=True)


# --- deterministic steps ----------------------------------------------------------------


def gather_evidence(request: ReflectionInput) -> Evidence:
    """Per task: runs, failures, downstream tasks and which of those failed, over the
    reflected run and the history the credit agent sees."""
    traces = [request.trace, *request.history]
    names: dict[str, bool] = dict.fromkeys(request.dependencies, False)
    for trace in traces:
        for task_trace in trace.task_traces:
            names[task_trace.task_name] = names.get(task_trace.task_name, False) or bool(
                task_trace.agent_runner
            )
    outcomes = [task_successes(trace) for trace in traces]
    found: list[TaskEvidence] = []
    for name, is_agent in names.items():
        downstream = downstream_of(request.dependencies, name)
        runs = sum(name in ran for ran in outcomes)
        failures = sum(name in ran and not ran[name] for ran in outcomes)
        failed_below = sorted(
            {other for ran in outcomes for other in downstream if other in ran and not ran[other]}
        )
        found.append(
            TaskEvidence(
                task=name,
                is_agent=is_agent,
                runs=runs,
                failures=failures,
                downstream=sorted(downstream),
                downstream_failures=failed_below,
            )
        )
    negative = any(item.rating != "positive" for item in request.trace.feedback)
    return Evidence(tasks=found, judged_negative=negative)


def assign_blame(request: BlameRequest) -> Blame:
    """The agent tasks scored below the threshold that a failure traces back to."""
    by_task = {item.task: item for item in request.evidence.tasks}
    blamed: list[BlamedTask] = []
    dropped: list[str] = []
    for name, credit in sorted(request.credit.task_scores.items()):
        if credit.score >= request.threshold:
            continue
        evidence = by_task.get(name)
        reached_failure = evidence is not None and (
            evidence.failures > 0
            or bool(evidence.downstream_failures)
            or request.evidence.judged_negative
        )
        if evidence is None or not evidence.is_agent or not reached_failure:
            dropped.append(name)
            continue
        blamed.append(
            BlamedTask(
                task=name,
                score=credit.score,
                diagnosis=credit.diagnosis,
                improvement_hint=credit.improvement_hint,
                downstream_failures=evidence.downstream_failures,
            )
        )
    return Blame(blamed=blamed, dropped=dropped)


def _current_skill(request: ReflectionInput, agent: str) -> SkillRecord | None:
    own = [s for s in request.skills if s.agent == agent and s.status is SkillStatus.ACTIVE]
    return max(own, key=lambda s: (s.score, s.version), default=None)


async def save_drafts(skill_store: SkillStore, request: SaveRequest) -> Saved:
    """Store each draft for a blamed agent as the next version of its lineage."""
    blamed = {item.task for item in request.blame.blamed}
    reflection = request.input
    saved: list[str] = []
    ignored: list[str] = []
    created = updated = 0
    for draft in request.drafts.skills if request.drafts is not None else []:
        if draft.agent not in blamed:
            ignored.append(draft.agent)
            continue
        parent = _current_skill(reflection, draft.agent)
        key = f"{reflection.trace.id}\n{draft.agent}\n{draft.name}\n{draft.content}"
        skill = SkillRecord(
            id=str(uuid.uuid5(_SKILL_IDS, key)),
            name=draft.name,
            description=draft.description,
            content=draft.content,
            agent=draft.agent,
            workflow=reflection.workflow_name,
            version=parent.version + 1 if parent is not None else 1,
            parent_id=parent.id if parent is not None else None,
            status=(
                SkillStatus.CANDIDATE if reflection.strategy == "autonomous" else SkillStatus.DRAFT
            ),
        )
        existing = await skill_store.get(skill.id)
        if existing is None:
            await skill_store.save(skill)
        saved.append(skill.id)
        if parent is not None:
            updated += 1
        else:
            created += 1
    return Saved(skill_ids=saved, created=created, updated=updated, ignored=ignored)


# --- prompts ----------------------------------------------------------------------------


def credit_prompt(request: CreditRequest) -> str:
    reflection = request.input
    return f"""You assign credit and blame to the tasks of one run of the workflow \
"{reflection.workflow_name}".

A task can go wrong in two ways: it handled good input badly (its own fault), or it was
handed bad input by a task upstream of it (the upstream task's fault). Trace every failure
back along the dependencies to the task where it started, and score that task low; do not
score a task low for a failure it only inherited. Feedback given on the run outweighs what
the run itself showed.

Dependencies (task: the tasks it depends on):
{_json(reflection.dependencies)}

Per task: runs, failures, the tasks downstream of it and which of those failed:
{_json(request.evidence.tasks)}

The run to judge:
{_json(reflection.trace)}

Earlier runs of the workflow (look for patterns that repeat, not one-off cases):
{_json(reflection.history)}

For every task give a score from 0 to 1, a credit weight (its share of the outcome), a
diagnosis citing the evidence, and an improvement hint: a reusable instruction that would
help the task in general, not a fix for this one input. Answer with JSON:
{{"workflow_score": <0-1>, "task_scores": {{"<task>": {{"score": <0-1>, "credit_weight": <0-1>,
"diagnosis": "...", "improvement_hint": "..."}}}}, "insight": "<optional>"}}"""


def draft_prompt(request: DraftRequest) -> str:
    reflection = request.input
    blamed = {item.task for item in request.blame.blamed}
    reached = blamed | {name for item in request.blame.blamed for name in item.downstream_failures}
    evidence = [t for t in reflection.trace.task_traces if t.task_name in reached]
    current = [s for s in reflection.skills if s.agent in blamed]
    return f"""You write skills for the agents of the workflow "{reflection.workflow_name}".
A skill is a short block of markdown put before an agent's system prompt; the agent follows
it on every run.

These agents were blamed for failures of the run, with the reason:
{_json(request.blame.blamed)}

What the blamed tasks, and the failed tasks downstream of them, did in that run:
{_json(evidence)}

The skills these agents run with now (improve on them; keep what works):
{_json(current)}

Runs held out from the diagnosis: a good skill would have helped on these as well.
{_json(reflection.held_out)}

Write one skill per blamed agent: a sentence of context, then concrete instructions, in
100 to 300 words; aim at the cause of the failure, not at this one input. Answer with JSON:
{{"skills": [{{"agent": "<task name>", "name": "<short-name>", "description": "<one line>",
"content": "<markdown>"}}]}}"""


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
