"""Credit assignment over a workflow's DAG: which tasks a task's output reached."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ageflow.core.workflow import WorkflowDef


def dependency_map(workflow: WorkflowDef) -> dict[str, tuple[str, ...]]:
    """Each task of the workflow with the tasks it depends on."""
    return {name: tuple(task.depends_on) for name, task in workflow.tasks.items()}


def downstream_of(dependencies: Mapping[str, Sequence[str]], task_name: str) -> frozenset[str]:
    """Every task that depends on ``task_name``, directly or through others.

    A failure in one of these may be the fault of ``task_name``: reflection uses this
    set to blame an upstream agent for what went wrong further down.
    """
    dependents: dict[str, list[str]] = {}
    for name, deps in dependencies.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(name)
    found: set[str] = set()
    pending = list(dependents.get(task_name, ()))
    while pending:
        current = pending.pop()
        if current in found:
            continue
        found.add(current)
        pending.extend(dependents.get(current, ()))
    return frozenset(found)


def downstream_tasks(workflow: WorkflowDef, task_name: str) -> frozenset[str]:
    """The tasks of ``workflow`` downstream of ``task_name``; KeyError for an unknown task."""
    if task_name not in workflow.tasks:
        raise KeyError(f"workflow {workflow.name!r} has no task {task_name!r}")
    return downstream_of(dependency_map(workflow), task_name)
