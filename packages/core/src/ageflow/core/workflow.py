"""Workflows: a named map of tasks, with hooks, a budget and MCP settings.

``define_workflow`` checks at definition time what the TypeScript original checked at
compile time (or not at all): names, dependencies, cycles, sessions and schemas. Each
problem raises a WorkflowDefinitionError that names the task.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from ageflow.core.config import HITL_CONFIG_TYPES, BudgetConfig, Checkpoint
from ageflow.core.context import LOOP_FEEDBACK_KEY
from ageflow.core.dag import topological_sort
from ageflow.core.definitions import AgentDef, FunctionDef, check_agent_fields
from ageflow.core.errors import (
    AgentFlowError,
    CyclicDependencyError,
    InvalidIdentifierError,
    SessionCycleError,
    UnresolvedDependencyError,
    UnresolvedSessionRefError,
    WorkflowDefinitionError,
)
from ageflow.core.identifiers import validate_static_identifier
from ageflow.core.mcp import McpExposureConfig, McpServerConfig
from ageflow.core.metrics import TaskMetrics, WorkflowMetrics
from ageflow.core.runner import RunnerSpawnArgs, RunnerSpawnResult
from ageflow.core.schemas import check_schema
from ageflow.core.sessions import resolve_session_tokens
from ageflow.core.tasks import (
    TASK_TYPES,
    AgentTask,
    FunctionTask,
    LoopDef,
    SessionToken,
    ShareSession,
    TaskDef,
)

Hook = Callable[..., Awaitable[Any] | Any]


@dataclass(frozen=True)
class WorkflowHooks:
    """Callbacks fired while a workflow runs; each may be sync or async.

    See docs/concepts.md for when each fires and what happens when one raises.
    """

    on_workflow_start: Callable[[Any], Awaitable[None] | None] | None = None
    on_task_start: Callable[[str, str], Awaitable[None] | None] | None = None
    on_task_complete: Callable[[str, Any, TaskMetrics], Awaitable[None] | None] | None = None
    on_task_error: Callable[[str, BaseException, int], Awaitable[None] | None] | None = None
    on_task_skip: Callable[[str, str], Awaitable[None] | None] | None = None
    on_checkpoint: Callable[[str, str], Awaitable[bool] | bool | None] | None = None
    on_workflow_complete: (
        Callable[[dict[str, Any], WorkflowMetrics], Awaitable[None] | None] | None
    ) = None
    get_system_prompt_prefix: Callable[[str], Awaitable[str | None] | str | None] | None = None
    on_task_spawn_args: Callable[[str, RunnerSpawnArgs], Awaitable[None] | None] | None = None
    on_task_spawn_result: Callable[[str, RunnerSpawnResult], Awaitable[None] | None] | None = None
    # Beyond the original: a run that ends in an error (a task failed for good, the
    # budget halted it, it was aborted) reports it here; on_workflow_complete does not fire.
    on_workflow_error: Callable[[BaseException], Awaitable[None] | None] | None = None


@dataclass(frozen=True, eq=False)
class WorkflowDef:
    """A workflow. Build it with ``define_workflow`` so that it is checked."""

    name: str
    tasks: Mapping[str, TaskDef]
    hooks: WorkflowHooks = field(default_factory=WorkflowHooks)
    budget: BudgetConfig | None = None
    mcp: McpExposureConfig | Literal[False] | None = None
    mcp_servers: Sequence[McpServerConfig] = ()
    description: str | None = None

    def with_hooks(self, hooks: WorkflowHooks) -> WorkflowDef:
        """The same workflow with other hooks (tests and servers wrap hooks this way)."""
        return WorkflowDef(
            name=self.name,
            tasks=self.tasks,
            hooks=hooks,
            budget=self.budget,
            mcp=self.mcp,
            mcp_servers=self.mcp_servers,
            description=self.description,
        )


def define_workflow(
    *,
    name: str,
    tasks: Mapping[str, TaskDef],
    hooks: WorkflowHooks | None = None,
    budget: BudgetConfig | None = None,
    mcp: McpExposureConfig | Mapping[str, Any] | Literal[False] | None = None,
    mcp_servers: Sequence[McpServerConfig | Mapping[str, Any]] = (),
    description: str | None = None,
) -> WorkflowDef:
    """Define and check a workflow. Raises WorkflowDefinitionError naming the problem."""
    exposure: McpExposureConfig | Literal[False] | None
    if mcp is None or mcp is False or isinstance(mcp, McpExposureConfig):
        exposure = mcp
    else:
        exposure = McpExposureConfig.model_validate(dict(mcp))
    servers = [
        server if isinstance(server, McpServerConfig) else McpServerConfig.model_validate(server)
        for server in mcp_servers
    ]
    workflow = WorkflowDef(
        name=name,
        tasks=dict(tasks),
        hooks=hooks or WorkflowHooks(),
        budget=budget,
        mcp=exposure,
        mcp_servers=tuple(servers),
        description=description,
    )
    validate_workflow(workflow)
    return workflow


InputT = TypeVar("InputT")


def define_workflow_factory(
    build: Callable[[InputT], WorkflowDef],
) -> Callable[[InputT], WorkflowDef]:
    """A function that builds a (checked) workflow for each input it is given."""

    def factory(value: InputT) -> WorkflowDef:
        workflow = build(value)
        validate_workflow(workflow)
        return workflow

    return factory


# --- checks ------------------------------------------------------------------------------


def validate_workflow(workflow: WorkflowDef) -> None:
    """Check a workflow as ``define_workflow`` does; raise WorkflowDefinitionError."""
    try:
        validate_static_identifier(workflow.name, "workflow name")
    except InvalidIdentifierError as exc:
        raise WorkflowDefinitionError(
            f"workflow name {workflow.name!r} may only use letters, digits, '.', '_' and '-'",
            cause=exc,
        ) from exc
    if not workflow.tasks:
        raise WorkflowDefinitionError(f"workflow {workflow.name!r} has no tasks")
    _check_task_map(workflow.tasks, prefix="")
    exposure = workflow.mcp
    if isinstance(exposure, McpExposureConfig):
        for role, task_name in (("input", exposure.input_task), ("output", exposure.output_task)):
            if task_name is not None and task_name not in workflow.tasks:
                raise WorkflowDefinitionError(
                    f"mcp.{role}_task names no task of the workflow (tasks: "
                    f"{', '.join(workflow.tasks)})",
                    task_name=task_name,
                )


def _check_task_map(tasks: Mapping[str, TaskDef], *, prefix: str) -> None:
    for name, node in tasks.items():
        label = f"{prefix}{name}"  # a name may not be a string yet: it is checked next
        _check_task_name(name, label)
        if not isinstance(node, TASK_TYPES):
            raise WorkflowDefinitionError(
                f"is a {type(node).__name__}, not a task: wrap agents and functions with "
                "task(...) and loops with loop(...)",
                task_name=label,
            )
        _check_node(node, label)

    try:
        topological_sort({name: node.depends_on for name, node in tasks.items()})
    except UnresolvedDependencyError as exc:
        raise WorkflowDefinitionError(
            f'depends on unknown task "{exc.unresolved_dep}" (tasks here: '
            f"{', '.join(exc.available_task_names)})",
            task_name=prefix + exc.task_name,
            cause=exc,
        ) from exc
    except CyclicDependencyError as exc:
        raise WorkflowDefinitionError(
            f"dependency cycle: {' → '.join(exc.cycle)}",
            task_name=prefix + exc.cycle[0],
            cause=exc,
        ) from exc

    try:
        tokens = resolve_session_tokens(tasks)
    except SessionCycleError as exc:
        raise WorkflowDefinitionError(
            f"share_session_with chain loops: {' → '.join(exc.cycle)}",
            task_name=prefix + exc.cycle[0],
            cause=exc,
        ) from exc
    except UnresolvedSessionRefError as exc:
        raise WorkflowDefinitionError(
            f'shares the session of "{exc.target_task}", which is not an agent task with a '
            "session in the same task map",
            task_name=prefix + exc.task_name,
            cause=exc,
        ) from exc
    # Handles are kept per token name, so one name must mean one runner in a task map.
    runner_of_session: dict[str, tuple[str, str]] = {}
    for name, token in tokens.items():
        node = tasks[name]
        assert isinstance(node, AgentTask)
        if node.agent.runner != token.runner:
            raise WorkflowDefinitionError(
                f'uses runner "{node.agent.runner}" but its session "{token.name}" belongs to '
                f'runner "{token.runner}": a session cannot be shared across runners',
                task_name=prefix + name,
            )
        first = runner_of_session.setdefault(token.name, (token.runner, name))
        if first[0] != token.runner:
            raise WorkflowDefinitionError(
                f'uses session "{token.name}" with runner "{token.runner}", but task '
                f'"{prefix}{first[1]}" uses a session of that name with runner "{first[0]}": '
                "a session cannot be shared across runners",
                task_name=prefix + name,
            )


def _check_task_name(name: Any, label: str) -> None:
    if not isinstance(name, str):
        raise WorkflowDefinitionError(f"task names must be strings, got {name!r}")
    if name == LOOP_FEEDBACK_KEY:
        raise WorkflowDefinitionError(
            "this task name is reserved for loop feedback", task_name=label
        )
    try:
        validate_static_identifier(name, "task name")
    except InvalidIdentifierError as exc:
        raise WorkflowDefinitionError(
            "task names may only use letters, digits, '.', '_' and '-'",
            task_name=label,
            cause=exc,
        ) from exc


def _check_node(node: TaskDef, label: str) -> None:
    depends_on: object = node.depends_on  # raw task objects are not checked by task()
    if isinstance(depends_on, str):
        # Iterating a string would yield single letters as dependency names.
        raise WorkflowDefinitionError(
            f"depends_on must be a list of task names, got the string {depends_on!r} "
            f"(write depends_on=[{depends_on!r}])",
            task_name=label,
        )
    if node.input is not None and callable(node.input) and isinstance(node.input, type):
        raise WorkflowDefinitionError(
            "input must be a value or a callable taking the context, not a class", task_name=label
        )
    if isinstance(node, LoopDef):
        if not isinstance(node.max, int) or isinstance(node.max, bool):
            raise WorkflowDefinitionError(
                f"loop max must be an int, got {type(node.max).__name__}", task_name=label
            )
        if node.max < 1:
            raise WorkflowDefinitionError(
                f"loop max must be at least 1, got {node.max}", task_name=label
            )
        if not callable(node.until):
            raise WorkflowDefinitionError("loop until must be callable", task_name=label)
        if node.context not in ("persistent", "fresh"):
            raise WorkflowDefinitionError(
                "loop context must be 'persistent' or 'fresh'", task_name=label
            )
        if not node.tasks:
            raise WorkflowDefinitionError("loop has no tasks", task_name=label)
        _check_task_map(node.tasks, prefix=f"{label}/")
        return
    if node.skip_if is not None and not callable(node.skip_if):
        raise WorkflowDefinitionError("skip_if must be callable", task_name=label)
    if isinstance(node, FunctionTask):
        if node.hitl is not None and not isinstance(node.hitl, Checkpoint):
            raise WorkflowDefinitionError(
                "a function task takes hitl=Checkpoint(...) only", task_name=label
            )
        if not isinstance(node.fn, FunctionDef):
            raise WorkflowDefinitionError("fn must be built with define_function", task_name=label)
        fn = node.fn

        def check_function() -> None:
            check_schema(fn.input_schema, "input")
            check_schema(fn.output_schema, "output")

        _reraise_with_task(label, check_function)
        return
    agent = node.agent
    if not isinstance(agent, AgentDef):
        raise WorkflowDefinitionError("agent must be built with define_agent", task_name=label)

    def check_agent() -> None:
        validate_static_identifier(agent.runner, "runner")
        if agent.model is not None:
            validate_static_identifier(agent.model, "model")
        check_agent_fields(input=agent.input, output=agent.output, prompt=agent.prompt)

    _reraise_with_task(label, check_agent)
    if node.session is not None and not isinstance(node.session, SessionToken | ShareSession):
        raise WorkflowDefinitionError(
            "session must be session_token(name, runner) or share_session_with(task), got "
            f"{node.session!r}",
            task_name=label,
        )
    if node.hitl is not None and not isinstance(node.hitl, HITL_CONFIG_TYPES):
        raise WorkflowDefinitionError(
            "hitl must be HitlOff(), HitlPermissions(...) or Checkpoint(...)", task_name=label
        )


def _reraise_with_task(label: str, check: Callable[[], object]) -> None:
    try:
        check()
    except WorkflowDefinitionError as exc:
        if exc.task_name is not None:
            raise
        raise WorkflowDefinitionError(exc.problem, task_name=label, cause=exc) from exc
    except AgentFlowError as exc:
        raise WorkflowDefinitionError(str(exc), task_name=label, cause=exc) from exc
