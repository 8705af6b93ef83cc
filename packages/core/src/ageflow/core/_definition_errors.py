"""Workflow-definition errors (checked when a workflow is defined).

Dependency and session-sharing graphs, invalid definitions, and workflows that cannot be
exposed over MCP. Import these from :mod:`ageflow.core.errors`, the public module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from ageflow.core._error_base import AgentFlowError, _quote


class CyclicDependencyError(AgentFlowError):
    """The tasks' ``depends_on`` edges form a cycle."""

    code: ClassVar[str] = "cyclic_dependency"
    _json_fields = ("cycle",)

    def __init__(self, cycle: Sequence[str], *, cause: object = None) -> None:
        self.cycle = list(cycle)
        super().__init__(f"Cyclic dependency between tasks: {' → '.join(self.cycle)}", cause=cause)


class UnresolvedDependencyError(AgentFlowError):
    """A task depends on a task name that is not in the same task map."""

    code: ClassVar[str] = "unresolved_dependency"
    _json_fields = ("task_name", "unresolved_dep", "available_task_names")

    def __init__(
        self,
        task_name: str,
        unresolved_dep: str,
        available_task_names: Sequence[str],
        *,
        cause: object = None,
    ) -> None:
        self.task_name = task_name
        self.unresolved_dep = unresolved_dep
        self.available_task_names = list(available_task_names)
        available = ", ".join(self.available_task_names) or "(none)"
        super().__init__(
            f"Task {_quote(task_name)} depends on unknown task {_quote(unresolved_dep)}; "
            f"available tasks: {available}",
            cause=cause,
        )


class SessionCycleError(AgentFlowError):
    """``share_session_with`` references form a cycle."""

    code: ClassVar[str] = "session_cycle"
    _json_fields = ("cycle",)

    def __init__(self, cycle: Sequence[str], *, cause: object = None) -> None:
        self.cycle = list(cycle)
        super().__init__(f"Session sharing forms a cycle: {' → '.join(self.cycle)}", cause=cause)


class UnresolvedSessionRefError(AgentFlowError):
    """A task shares the session of a task that does not exist or holds no session."""

    code: ClassVar[str] = "unresolved_session_ref"
    _json_fields = ("task_name", "target_task")

    def __init__(self, task_name: str, target_task: str, *, cause: object = None) -> None:
        self.task_name = task_name
        self.target_task = target_task
        super().__init__(
            f"Task {_quote(task_name)} shares the session of {_quote(target_task)}, but no "
            "agent task of that name with a session exists in the same task map",
            cause=cause,
        )


class WorkflowDefinitionError(AgentFlowError):
    """A workflow definition is invalid; raised when the workflow is defined."""

    code: ClassVar[str] = "workflow_definition"
    _json_fields = ("problem", "task_name")

    def __init__(self, problem: str, *, task_name: str | None = None, cause: object = None) -> None:
        self.problem = problem
        self.task_name = task_name
        prefix = "Invalid workflow" if task_name is None else f"Task {_quote(task_name)}"
        super().__init__(f"{prefix}: {problem}", cause=cause)


class WorkflowNotExposableError(AgentFlowError):
    """A workflow that opted out of MCP exposure (``mcp=False``) was asked for its MCP config."""

    code: ClassVar[str] = "WORKFLOW_NOT_MCP_EXPOSABLE"
    _json_fields = ("workflow_name",)

    def __init__(self, workflow_name: str | None = None, *, cause: object = None) -> None:
        self.workflow_name = workflow_name
        which = "this workflow" if workflow_name is None else f"workflow {_quote(workflow_name)}"
        super().__init__(
            f"WORKFLOW_NOT_MCP_EXPOSABLE: {which} sets mcp=False and cannot be exposed as an "
            "MCP tool",
            cause=cause,
        )
