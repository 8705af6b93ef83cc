import pytest
from pydantic import BaseModel

from ageflow.core import define_agent, define_function, loop, task
from ageflow.core.workflow import WorkflowDef, define_workflow
from ageflow.mcp_server.errors import ErrorCode, McpServerError
from ageflow.mcp_server.tool_definition import (
    ASYNC_OBSERVER_TOOL_NAMES,
    build_tool_definition,
    find_boundary_tasks,
    tool_output,
    validate_tool_input,
)


class In(BaseModel):
    x: str
    n: int = 1


class Mid(BaseModel):
    m: str


class Out(BaseModel):
    y: str


def agent(inp, out):
    return define_agent(runner="fake", input=inp, output=out, prompt=lambda _: "p")


def fn(inp, out):
    return define_function(lambda value: value, input=inp, output=out)


def linear(**mcp):
    return define_workflow(
        name="test-flow",
        tasks={
            "a": task(agent(In, Mid)),
            "b": task(agent(Mid, Mid), depends_on=["a"]),
            "c": task(agent(Mid, Out), depends_on=["b"]),
        },
        mcp=mcp or None,
    )


def dag_error(call):
    with pytest.raises(McpServerError) as info:
        call()
    assert info.value.code is ErrorCode.DAG_INVALID
    return info.value


# --- boundary ---------------------------------------------------------------------------


def test_linear_dag_boundary_is_root_and_leaf():
    assert find_boundary_tasks(linear().tasks) == ("a", "c")


def test_overrides_are_honoured():
    assert find_boundary_tasks(linear().tasks, "b", "b") == ("b", "b")
    definition = build_tool_definition(linear(input_task="b", output_task="b"))
    assert definition.input_task.path == ("b",)
    assert "m" in definition.input_schema["properties"]


def test_two_roots_or_two_leaves_need_an_override():
    tasks = {
        "a": task(agent(In, Out)),
        "b": task(agent(In, Out)),
        "c": task(agent(Out, Out), depends_on=["a", "b"]),
        "d": task(agent(Out, Out), depends_on=["c"]),
        "e": task(agent(Out, Out), depends_on=["c"]),
    }
    roots = dag_error(lambda: find_boundary_tasks(tasks, None, "d"))
    assert "multiple root tasks (a, b)" in roots.message
    assert "mcp.input_task" in roots.message
    assert roots.context == {"roots": ["a", "b"]}
    leaves = dag_error(lambda: find_boundary_tasks(tasks, "a", None))
    assert "multiple leaf tasks (d, e)" in leaves.message
    assert leaves.context == {"leaves": ["d", "e"]}


def test_unknown_overrides():
    tasks = linear().tasks
    err = dag_error(lambda: find_boundary_tasks(tasks, "nonexistent", None))
    assert 'input_task "nonexistent" not found' in err.message
    err = dag_error(lambda: find_boundary_tasks(tasks, None, "nope"))
    assert 'output_task "nope" not found' in err.message
    assert err.context == {"output_task": "nope"}


def test_cycle_means_no_root():
    tasks = {
        "a": task(agent(In, Out), depends_on=["b"]),
        "b": task(agent(In, Out), depends_on=["a"]),
    }
    assert "no root task" in dag_error(lambda: find_boundary_tasks(tasks)).message


# --- definition -------------------------------------------------------------------------


def test_name_description_and_schemas():
    definition = build_tool_definition(linear())
    assert definition.name == "test-flow"
    assert definition.description == "Run ageflow workflow: test-flow"
    assert definition.input_schema["type"] == "object"
    assert definition.input_schema["properties"]["x"]["type"] == "string"
    assert definition.input_schema["required"] == ["x"]
    assert "y" in definition.output_schema["properties"]
    assert "$schema" not in definition.input_schema
    assert not definition.input.wrapped
    assert (definition.input_task.name, definition.output_task.name) == ("a", "c")


def test_description_from_mcp_config():
    assert build_tool_definition(linear(description="Greet")).description == "Greet"


def test_mcp_false_is_refused_with_mcp_code():
    workflow = define_workflow(name="w", tasks={"a": task(agent(In, Out))}, mcp=False)
    with pytest.raises(McpServerError) as info:
        build_tool_definition(workflow)
    assert info.value.code is ErrorCode.WORKFLOW_NOT_MCP_EXPOSABLE


def test_function_tasks_can_be_boundaries():
    workflow = define_workflow(
        name="fns",
        tasks={"prep": task(fn(In, Mid)), "finish": task(fn(Mid, Out), depends_on=["prep"])},
    )
    definition = build_tool_definition(workflow)
    assert definition.input_task.path == ("prep",)
    assert "x" in definition.input_schema["properties"]
    assert "y" in definition.output_schema["properties"]


def test_loops_at_the_boundary_stand_for_their_inner_boundary_tasks():
    inner = {
        "draft": task(agent(In, Mid)),
        "review": task(fn(Mid, Out), depends_on=["draft"]),
    }
    workflow = define_workflow(
        name="looped", tasks={"refine": loop(tasks=inner, max=3, until=lambda ctx: True)}
    )
    definition = build_tool_definition(workflow)
    assert definition.input_task.path == ("refine", "draft")
    assert definition.input_task.name == "refine"
    assert definition.output_task.path == ("refine", "review")
    assert "x" in definition.input_schema["properties"]
    assert "y" in definition.output_schema["properties"]


def test_ambiguous_loop_boundary_is_dag_invalid_naming_the_loop():
    inner = {"p": task(agent(In, Out)), "q": task(agent(In, Out))}
    workflow = WorkflowDef(name="w", tasks={"lp": loop(tasks=inner, max=2, until=lambda ctx: True)})
    err = dag_error(lambda: build_tool_definition(workflow))
    assert "multiple root tasks (p, q)" in err.message
    assert 'inside loop "lp"' in err.message


@pytest.mark.parametrize("name", ASYNC_OBSERVER_TOOL_NAMES)
def test_reserved_names_refused_in_async_mode_only(name):
    workflow = define_workflow(name=name, tasks={"a": task(agent(In, Out))})
    assert build_tool_definition(workflow).name == name
    with pytest.raises(McpServerError) as info:
        build_tool_definition(workflow, async_mode=True)
    assert info.value.code is ErrorCode.RESERVED_TOOL_NAME
    assert "conflicts with a reserved async observer tool name" in info.value.message
    assert info.value.context == {"workflowName": name, "reserved": list(ASYNC_OBSERVER_TOOL_NAMES)}


def test_normal_name_is_fine_in_async_mode():
    assert build_tool_definition(linear(), async_mode=True).name == "test-flow"


# --- validation -------------------------------------------------------------------------


def test_valid_input_is_returned_as_the_model_and_extra_keys_dropped():
    definition = build_tool_definition(linear())
    value = validate_tool_input(definition, {"x": "hi", "junk": 1})
    assert value == In(x="hi")


def test_invalid_input_raises_with_issues():
    definition = build_tool_definition(linear())
    with pytest.raises(McpServerError) as info:
        validate_tool_input(definition, {"x": 123})
    err = info.value
    assert err.code is ErrorCode.INPUT_VALIDATION_FAILED
    assert "schema validation failed" in err.message.lower()
    assert err.context["toolName"] == "test-flow"
    assert err.context["issues"][0]["path"] == ["x"]


def test_missing_arguments_are_an_empty_object():
    definition = build_tool_definition(linear())
    with pytest.raises(McpServerError) as info:
        validate_tool_input(definition, None)
    assert info.value.context["issues"][0]["type"] == "missing"


def scalar_workflow():
    return define_workflow(name="scalar", tasks={"s": task(fn(str, list[int]))})


def test_non_object_input_schema_is_advertised_wrapped():
    definition = build_tool_definition(scalar_workflow())
    assert definition.input.wrapped
    assert definition.input_schema == {
        "type": "object",
        "properties": {"value": {"type": "string"}},
        "required": ["value"],
    }
    assert definition.output_schema["properties"]["value"]["type"] == "array"


def test_wrapped_input_is_unwrapped_before_validation():
    definition = build_tool_definition(scalar_workflow())
    assert validate_tool_input(definition, {"value": "hello"}) == "hello"
    with pytest.raises(McpServerError) as info:
        validate_tool_input(definition, {"value": 5})
    assert info.value.context["issues"][0]["path"] == ["value"]
    with pytest.raises(McpServerError) as missing:
        validate_tool_input(definition, {"other": "hello"})
    assert missing.value.context["issues"] == [
        {"path": ["value"], "message": "Field required", "type": "missing"}
    ]


def test_outputs_follow_the_advertised_shape():
    scalar = build_tool_definition(scalar_workflow())
    assert tool_output(scalar, [1, 2]) == {"value": [1, 2]}
    obj = build_tool_definition(linear())
    assert tool_output(obj, Out(y="done")) == {"y": "done"}
    assert tool_output(obj, {"y": "raw"}) == {"y": "raw"}


def test_bad_output_is_output_validation_failed():
    definition = build_tool_definition(linear())
    with pytest.raises(McpServerError) as info:
        tool_output(definition, {"nope": 1})
    assert info.value.code is ErrorCode.OUTPUT_VALIDATION_FAILED
    assert info.value.context["issues"][0]["path"] == ["y"]
