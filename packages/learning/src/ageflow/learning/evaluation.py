"""Evaluation: would the agent's runs have gone better with the skill than without it?

The original asks an LLM this question run by run. Here the answer is computed from the
traces, with no LLM: for each candidate or active skill, the recent runs of its workflow
in which its agent ran are split into runs that applied the skill and runs that did not
(those are the comparison: what the agent does without it). A run's outcome for the agent
is ``outcome.task_outcome``: the share of successes over the task and everything its
output reached downstream, feedback weighing twice. The skill's score then moves by half
the mean difference, as in the original.

It runs as an ageflow workflow of one function task (``evaluation_workflow``), so a server
runner can run it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from ageflow.core.workflow import WorkflowDef
from ageflow.learning._one_step import NoInput, one_step_workflow, run_step
from ageflow.learning.config import DEFAULT_CONFIG, LearningConfig
from ageflow.learning.models import ExecutionTrace, SkillRecord, SkillStatus, TraceFilter
from ageflow.learning.outcome import dependencies_of, task_outcome
from ageflow.learning.stores import SkillStore, TraceStore

__all__ = [
    "EVALUATED_STATUSES",
    "EVALUATION_WORKFLOW_NAME",
    "TRACE_SAMPLE",
    "EvaluationResult",
    "EvaluationSummary",
    "compare_skill",
    "evaluation_workflow",
    "run_evaluation",
]

EVALUATION_WORKFLOW_NAME = "__ageflow_evaluation"
EVALUATED_STATUSES = (SkillStatus.CANDIDATE, SkillStatus.ACTIVE)
# How many recent runs of the skill's workflow are read per skill.
TRACE_SAMPLE = 50
# The share of the mean difference that moves the skill's score (the original's 0.5).
SCORE_STEP = 0.5


class EvaluationResult(BaseModel):
    """One skill's comparison."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    skill_id: str
    skill_name: str
    target_agent: str
    # Mean outcome with the skill minus mean outcome without it (0 when either is missing).
    mean_score_delta: float = Field(ge=-1, le=1)
    # Share of the runs with the skill that did better than the mean without it.
    improved_fraction: float = Field(ge=0, le=1)
    runs_with: int = 0
    runs_without: int = 0
    score_before: float = Field(ge=0, le=1)
    score_after: float = Field(ge=0, le=1)


class EvaluationSummary(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    skills_evaluated: int
    results: list[EvaluationResult]


def compare_skill(
    skill: SkillRecord,
    traces: Sequence[ExecutionTrace],
    dag: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> tuple[float, float, int, int]:
    """(mean delta, improved fraction, runs with, runs without) of ``skill`` over
    ``traces``, each judged on its workflow's DAG (``outcome.dependencies_of``)."""
    with_skill: list[float] = []
    without: list[float] = []
    for trace in traces:
        outcome = task_outcome(trace, skill.agent, dependencies_of(trace, dag))
        if outcome is None:
            continue
        applied = any(
            t.task_name == skill.agent and skill.id in t.skills_applied for t in trace.task_traces
        )
        (with_skill if applied else without).append(outcome)
    if not with_skill or not without:
        return 0.0, 0.0, len(with_skill), len(without)
    baseline = sum(without) / len(without)
    delta = sum(with_skill) / len(with_skill) - baseline
    improved = sum(outcome > baseline for outcome in with_skill) / len(with_skill)
    return delta, improved, len(with_skill), len(without)


def evaluation_workflow(
    *,
    skill_store: SkillStore,
    trace_store: TraceStore,
    dag: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> WorkflowDef:
    """The evaluation as a workflow: one function task, ``evaluate``, whose output is the
    EvaluationSummary."""

    async def evaluate(_: NoInput) -> EvaluationSummary:
        results: list[EvaluationResult] = []
        traces_of: dict[str | None, Sequence[ExecutionTrace]] = {}  # a pass writes no trace
        for skill in await skill_store.list_skills():
            if skill.status not in EVALUATED_STATUSES:
                continue
            if skill.workflow not in traces_of:
                traces_of[skill.workflow] = await trace_store.traces(
                    TraceFilter(workflow_name=skill.workflow, limit=TRACE_SAMPLE)
                )
            traces = traces_of[skill.workflow]
            delta, improved, runs_with, runs_without = compare_skill(skill, traces, dag)
            score = min(1.0, max(0.0, skill.score + SCORE_STEP * delta))
            if score != skill.score:
                await skill_store.save(skill.model_copy(update={"score": score}))
            results.append(
                EvaluationResult(
                    skill_id=skill.id,
                    skill_name=skill.name,
                    target_agent=skill.agent,
                    mean_score_delta=delta,
                    improved_fraction=improved,
                    runs_with=runs_with,
                    runs_without=runs_without,
                    score_before=skill.score,
                    score_after=score,
                )
            )
        return EvaluationSummary(skills_evaluated=len(results), results=results)

    return one_step_workflow(
        name=EVALUATION_WORKFLOW_NAME,
        description="Compare each skill's runs with the runs of its agent without it",
        step="evaluate",
        execute=evaluate,
        output=EvaluationSummary,
    )


async def run_evaluation(
    *,
    skill_store: SkillStore,
    trace_store: TraceStore,
    dag: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
    config: LearningConfig = DEFAULT_CONFIG,
) -> EvaluationSummary:
    """Evaluate every candidate and active skill and update its score.

    ``dag`` maps a workflow name to its dependencies (task: the tasks it depends on); a
    skill's runs are judged over the downstream part of their own workflow's DAG: the one
    in ``dag``, else the one the hooks recorded in the trace, else the task alone.
    ``config`` is accepted for the callers' uniformity; the comparison has no thresholds
    of its own.
    """
    del config
    workflow = evaluation_workflow(skill_store=skill_store, trace_store=trace_store, dag=dag)
    return await run_step(workflow, "evaluate", EvaluationSummary)
