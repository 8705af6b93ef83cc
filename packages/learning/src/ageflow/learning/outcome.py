"""How well one task of a run did, judged over the part of the DAG its output reached."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ageflow.learning.dag import downstream_of
from ageflow.learning.models import ExecutionTrace
from ageflow.learning.scoring import feedback_signal

# Delayed feedback outweighs what the run itself showed: a person or CI judged the outcome.
FEEDBACK_WEIGHT = 2.0


def dependencies_of(
    trace: ExecutionTrace, dag: Mapping[str, Mapping[str, Sequence[str]]] | None = None
) -> Mapping[str, Sequence[str]]:
    """The DAG of the trace's workflow: from ``dag`` (keyed by workflow name) when it has
    the workflow, else the one the hooks recorded in the trace, else none."""
    if dag is not None and trace.workflow_name in dag:
        return dag[trace.workflow_name]
    return trace.dependencies or {}


def task_successes(trace: ExecutionTrace) -> dict[str, bool]:
    """Each task that ran in the trace, and whether every run of it succeeded (a task in a
    loop appears once per iteration)."""
    ran: dict[str, bool] = {}
    for task_trace in trace.task_traces:
        ran[task_trace.task_name] = ran.get(task_trace.task_name, True) and task_trace.success
    return ran


def task_outcome(
    trace: ExecutionTrace, task_name: str, dependencies: Mapping[str, Sequence[str]]
) -> float | None:
    """The 0..1 outcome of ``task_name`` in this run; None when it did not run.

    It is the share of successes among the task and the tasks downstream of it that ran,
    so a failure further down counts against the tasks whose output reached it. Feedback
    on the run, when there is some, weighs twice as much as that share.
    """
    ran = task_successes(trace)
    if task_name not in ran:
        return None
    reached = [task_name, *(name for name in downstream_of(dependencies, task_name) if name in ran)]
    share = sum(ran[name] for name in reached) / len(reached)
    if not trace.feedback:
        return share
    judged = sum(feedback_signal(item) for item in trace.feedback) / len(trace.feedback)
    return (share + FEEDBACK_WEIGHT * judged) / (1 + FEEDBACK_WEIGHT)
