"""The MCP tool a workflow is offered as: its name, description and JSON Schemas.

The tool's input is the input of the workflow's input task (its single DAG root, or
``mcp.input_task``); its result is the output of the output task (the single leaf, or
``mcp.output_task``). Agent and function tasks can stand at either boundary; a loop there
stands for the boundary task of its own inner task map, found by the same rule.

Non-object schemas (``str``, ``list[int]`` ...) cannot be an MCP tool's schema, whose root
must be an object, so they are wrapped as ``{"value": <schema>}``. The wrapper is the
contract in both directions: arguments arrive as ``{"value": ...}`` and are unwrapped
before validation, and results are sent wrapped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pydantic

from ageflow.core.schemas import schema_adapter
from ageflow.core.tasks import AgentTask, FunctionTask, LoopDef, TaskDef
from ageflow.core.workflow import WorkflowDef
from ageflow.executor import json_schema_for
from ageflow.mcp_server.ceilings import workflow_ceilings
from ageflow.mcp_server.errors import ErrorCode, McpServerError

ASYNC_OBSERVER_TOOL_NAMES: Final[tuple[str, ...]] = (
    "get_workflow_status",
    "get_workflow_result",
    "cancel_workflow",
    "resume_workflow",
)
"""Tool names the async job mode uses for itself; no workflow may take one of them."""

WRAPPED_VALUE_KEY: Final = "value"


@dataclass(frozen=True, slots=True)
class BoundaryTask:
    """A task at the edge of the workflow DAG.

    ``path`` leads from the workflow's task map to the task: one name for a top-level
    task, more when the boundary lies inside loops (``("refine", "draft")``).
    """

    path: tuple[str, ...]
    task: AgentTask | FunctionTask

    @property
    def name(self) -> str:
        """The top-level task's name (the loop's, when the task lies inside one)."""
        return self.path[0]


@dataclass(frozen=True, slots=True)
class ToolSchema:
    """One side of a tool: the pydantic type, the advertised JSON Schema, and the wrapping."""

    type: Any
    json_schema: dict[str, Any]
    wrapped: bool


@dataclass(frozen=True, slots=True)
class ToolDefinition:
    """The MCP tool built from one workflow."""

    name: str
    description: str
    input: ToolSchema
    output: ToolSchema
    input_task: BoundaryTask
    output_task: BoundaryTask

    @property
    def input_schema(self) -> dict[str, Any]:
        return self.input.json_schema

    @property
    def output_schema(self) -> dict[str, Any]:
        return self.output.json_schema


def _dag_invalid(message: str, context: Mapping[str, Any] | None = None) -> McpServerError:
    return McpServerError(ErrorCode.DAG_INVALID, message, context)


def _where(prefix: tuple[str, ...]) -> str:
    return "" if not prefix else f' (inside loop "{".".join(prefix)}")'


def find_boundary_tasks(
    tasks: Mapping[str, TaskDef],
    input_override: str | None = None,
    output_override: str | None = None,
) -> tuple[str, str]:
    """The names of the input and output task of one task map.

    Roots depend on nothing; leaves are named in no task's ``depends_on``. An override
    must name a task of the map. No or several candidates raise DAG_INVALID.
    """
    roots = [name for name, node in tasks.items() if not node.depends_on]
    depended_on = {dep for node in tasks.values() for dep in node.depends_on}
    leaves = [name for name in tasks if name not in depended_on]
    return (
        _pick("input", tasks, input_override, roots, "root"),
        _pick("output", tasks, output_override, leaves, "leaf"),
    )


def _pick(
    role: str,
    tasks: Mapping[str, TaskDef],
    override: str | None,
    candidates: Sequence[str],
    kind: str,
) -> str:
    option = f"{role}_task"
    if override is not None:
        if override not in tasks:
            raise _dag_invalid(
                f'{option} "{override}" not found in workflow tasks', {option: override}
            )
        return override
    if not candidates:
        raise _dag_invalid(f"workflow has no {kind} task (cyclic?)")
    if len(candidates) > 1:
        raise _dag_invalid(
            f"workflow has multiple {kind} tasks ({', '.join(candidates)}); set "
            f"workflow.mcp.{option} to disambiguate",
            {"roots" if kind == "root" else "leaves": list(candidates)},
        )
    return candidates[0]


def _resolve_boundary(
    tasks: Mapping[str, TaskDef], name: str, role: str, prefix: tuple[str, ...]
) -> BoundaryTask:
    """Follow loops down to the agent or function task that stands at the boundary."""
    path = (*prefix, name)
    node = tasks[name]
    if isinstance(node, AgentTask | FunctionTask):
        return BoundaryTask(path, node)
    if isinstance(node, LoopDef):
        try:
            inner_input, inner_output = find_boundary_tasks(node.tasks)
        except McpServerError as exc:
            raise _dag_invalid(exc.message + _where(path), exc.context) from exc
        inner = inner_input if role == "input" else inner_output
        return _resolve_boundary(node.tasks, inner, role, path)
    raise _dag_invalid(f'task "{".".join(path)}" is not a task ({type(node).__name__})')


def _types_of(boundary: BoundaryTask) -> tuple[Any, Any]:
    task = boundary.task
    if isinstance(task, AgentTask):
        return task.agent.input, task.agent.output
    return task.fn.input_schema, task.fn.output_schema


def tool_schema(schema_type: Any) -> ToolSchema:
    """The advertised schema of a pydantic type, wrapped in ``{"value": …}`` unless an object."""
    schema = json_schema_for(schema_type)
    schema.pop("$schema", None)
    if schema.get("type") == "object":
        return ToolSchema(schema_type, schema, wrapped=False)
    wrapper = {
        "type": "object",
        "properties": {WRAPPED_VALUE_KEY: schema},
        "required": [WRAPPED_VALUE_KEY],
    }
    return ToolSchema(schema_type, wrapper, wrapped=True)


def build_tool_definition(workflow: WorkflowDef, *, async_mode: bool = False) -> ToolDefinition:
    """The MCP tool for ``workflow``.

    Raises McpServerError: WORKFLOW_NOT_MCP_EXPOSABLE for ``mcp=False``, DAG_INVALID when
    the boundary tasks cannot be found, RESERVED_TOOL_NAME (async mode only) when the
    workflow's name is one of the job observer tools.
    """
    config = workflow_ceilings(workflow)
    if async_mode and workflow.name in ASYNC_OBSERVER_TOOL_NAMES:
        raise McpServerError(
            ErrorCode.RESERVED_TOOL_NAME,
            f'Workflow name "{workflow.name}" conflicts with a reserved async observer tool '
            f"name. Reserved names: {', '.join(ASYNC_OBSERVER_TOOL_NAMES)}",
            {"workflowName": workflow.name, "reserved": list(ASYNC_OBSERVER_TOOL_NAMES)},
        )
    input_name, output_name = find_boundary_tasks(
        workflow.tasks, config.input_task, config.output_task
    )
    input_task = _resolve_boundary(workflow.tasks, input_name, "input", ())
    output_task = _resolve_boundary(workflow.tasks, output_name, "output", ())
    input_type, _ = _types_of(input_task)
    _, output_type = _types_of(output_task)
    return ToolDefinition(
        name=workflow.name,
        description=config.description or f"Run ageflow workflow: {workflow.name}",
        input=tool_schema(input_type),
        output=tool_schema(output_type),
        input_task=input_task,
        output_task=output_task,
    )


def _issues(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    return [
        {"path": list(error["loc"]), "message": error["msg"], "type": error["type"]}
        for error in exc.errors(include_url=False)
    ]


def _summary(issues: Sequence[Mapping[str, Any]]) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in issue['path']) or '(root)'}: {issue['message']}"
        for issue in issues
    )


def validate_tool_input(definition: ToolDefinition, arguments: object) -> Any:
    """The tool arguments validated against the input task's type (unwrapped if wrapped).

    Unknown keys are dropped, as pydantic models do by default. Failures raise
    McpServerError(INPUT_VALIDATION_FAILED) with the issues as context.
    """
    if arguments is not None and not isinstance(arguments, Mapping):
        # MCP arguments are an object; anything else (a list, a string) is refused here,
        # before the wrapper key is looked up in it.
        issues = [{"path": [], "message": "Arguments must be an object", "type": "object_type"}]
        raise _input_failed(definition, issues)
    args: Mapping[str, Any] = {} if arguments is None else arguments
    value: Any = args
    if definition.input.wrapped:
        if WRAPPED_VALUE_KEY not in args:
            issues = [{"path": [WRAPPED_VALUE_KEY], "message": "Field required", "type": "missing"}]
            raise _input_failed(definition, issues)
        value = args[WRAPPED_VALUE_KEY]
    try:
        return schema_adapter(definition.input.type).validate_python(value)
    except pydantic.ValidationError as exc:
        issues = _issues(exc)
        if definition.input.wrapped:
            issues = [{**i, "path": [WRAPPED_VALUE_KEY, *i["path"]]} for i in issues]
        raise _input_failed(definition, issues) from exc


def _input_failed(definition: ToolDefinition, issues: list[dict[str, Any]]) -> McpServerError:
    return McpServerError(
        ErrorCode.INPUT_VALIDATION_FAILED,
        f'Input schema validation failed for tool "{definition.name}": {_summary(issues)}',
        {"toolName": definition.name, "issues": issues},
    )


def tool_output(definition: ToolDefinition, output: Any) -> dict[str, Any]:
    """The output task's result as the tool's structured content (wrapped if wrapped).

    The value is validated against the output type first; a mismatch raises
    McpServerError(OUTPUT_VALIDATION_FAILED).
    """
    adapter = schema_adapter(definition.output.type)
    try:
        checked = adapter.validate_python(output)
    except pydantic.ValidationError as exc:
        issues = _issues(exc)
        raise McpServerError(
            ErrorCode.OUTPUT_VALIDATION_FAILED,
            f'Output schema validation failed for tool "{definition.name}": {_summary(issues)}',
            {"toolName": definition.name, "issues": issues},
        ) from exc
    dumped = adapter.dump_python(checked, mode="json")
    if definition.output.wrapped:
        return {WRAPPED_VALUE_KEY: dumped}
    assert isinstance(dumped, dict)
    return dumped
