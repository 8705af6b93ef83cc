"""Reflection's credit checks in code: per-task evidence over the DAG, and blame kept or dropped."""

from __future__ import annotations

from ageflow.learning._reflection_models import (
    Blame,
    BlamedTask,
    BlameRequest,
    Evidence,
    ReflectionInput,
    TaskEvidence,
)
from ageflow.learning.dag import downstream_of
from ageflow.learning.outcome import task_successes


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
