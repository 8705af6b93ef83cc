"""define_workflow's definition-time checks: each bad definition names its task and problem."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from ageflow.core import (
    AgentDef,
    AgentTask,
    Checkpoint,
    CyclicDependencyError,
    FunctionDef,
    FunctionTask,
    InvalidIdentifierError,
    LoopDef,
    McpExposureConfig,
    McpServerConfig,
    SessionCycleError,
    UnresolvedDependencyError,
    UnresolvedSessionRefError,
    WorkflowDef,
    WorkflowDefinitionError,
    define_agent,
    define_function,
    define_workflow,
    loop,
    session_token,
    share_session_with,
    task,
    validate_workflow,
)


class Text(BaseModel):
    text: str


class Label(BaseModel):
    label: str


def prompt(value: Text) -> str:
    return value.text


CLAUDE = define_agent(runner="claude", input=Text, output=Label, prompt=prompt)
CODEX = define_agent(runner="codex", input=Text, output=Label, prompt=prompt)
UPPER = define_function(lambda t: Text(text=t.text.upper()), input=Text, output=Text)


def done(ctx: Any) -> bool:
    return True


def rejects(tasks: dict[str, Any], **kwargs: Any) -> WorkflowDefinitionError:
    """define_workflow's error for ``tasks``; fails the test when it is accepted."""
    with pytest.raises(WorkflowDefinitionError) as info:
        define_workflow(name=kwargs.pop("name", "wf"), tasks=tasks, **kwargs)
    return info.value


# --- dependencies ------------------------------------------------------------------------


def test_unknown_dependency() -> None:
    error = rejects({"a": task(CLAUDE), "b": task(CLAUDE, depends_on=["ghost"])})
    assert error.task_name == "b"
    assert 'unknown task "ghost"' in error.problem
    assert "a, b" in error.problem  # the names it could have meant
    assert str(error).startswith('Task "b": ')
    assert isinstance(error.cause, UnresolvedDependencyError)


def test_unknown_dependency_inside_a_loop_is_labelled_with_the_loop() -> None:
    inner = {"draft": task(CLAUDE), "review": task(CLAUDE, depends_on=["drfat"])}
    error = rejects({"prep": task(CLAUDE), "refine": loop(tasks=inner, max=2, until=done)})
    assert error.task_name == "refine/review"
    assert 'unknown task "drfat"' in error.problem


def test_loop_inner_task_cannot_depend_on_an_outer_task() -> None:
    inner = {"draft": task(CLAUDE, depends_on=["prep"])}
    error = rejects(
        {"prep": task(CLAUDE), "refine": loop(tasks=inner, max=2, until=done, depends_on=["prep"])}
    )
    assert error.task_name == "refine/draft"
    assert 'unknown task "prep"' in error.problem


def test_self_dependency() -> None:
    error = rejects({"a": task(CLAUDE, depends_on=["a"])})
    assert error.task_name == "a"
    assert "dependency cycle: a → a" in error.problem
    assert isinstance(error.cause, CyclicDependencyError)


def test_three_node_cycle_shows_its_path() -> None:
    error = rejects(
        {
            "a": task(CLAUDE, depends_on=["c"]),
            "b": task(CLAUDE, depends_on=["a"]),
            "c": task(CLAUDE, depends_on=["b"]),
        }
    )
    assert error.task_name == "a"
    assert "dependency cycle: a → c → b → a" in error.problem


def test_cycle_inside_a_loop_is_labelled_with_the_loop() -> None:
    inner = {"x": task(CLAUDE, depends_on=["y"]), "y": task(CLAUDE, depends_on=["x"])}
    error = rejects({"outer": loop(tasks=inner, max=2, until=done)})
    assert error.task_name == "outer/x"
    assert "x → y → x" in error.problem


def test_depends_on_given_as_a_string() -> None:
    # task() refuses this with a TypeError; a raw task object is caught at definition.
    error = rejects({"a": task(CLAUDE), "b": AgentTask(agent=CLAUDE, depends_on="a")})  # type: ignore[arg-type]
    assert error.task_name == "b"
    assert "depends_on must be a list of task names" in error.problem
    assert "depends_on=['a']" in error.problem


def test_loop_depends_on_given_as_a_string() -> None:
    raw = LoopDef(tasks={"s": task(CLAUDE)}, max=1, until=done, depends_on="a")  # type: ignore[arg-type]
    error = rejects({"a": task(CLAUDE), "l": raw})
    assert error.task_name == "l"
    assert "depends_on must be a list" in error.problem


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["has space", "a/b", "", "ünïcode", "semi;colon"])
def test_bad_task_name(name: str) -> None:
    error = rejects({name: task(CLAUDE)})
    assert error.task_name == name
    assert "task names may only use letters, digits" in error.problem
    assert isinstance(error.cause, InvalidIdentifierError)


def test_bad_task_name_inside_a_loop() -> None:
    error = rejects({"l": loop(tasks={"bad name": task(CLAUDE)}, max=1, until=done)})
    assert error.task_name == "l/bad name"


def test_non_string_task_name() -> None:
    error = rejects({1: task(CLAUDE)})  # type: ignore[dict-item]
    assert error.task_name is None
    assert "task names must be strings" in error.problem


def test_reserved_loop_feedback_name() -> None:
    error = rejects({"__loop_feedback__": task(CLAUDE)})
    assert error.task_name == "__loop_feedback__"
    assert "reserved for loop feedback" in error.problem


@pytest.mark.parametrize("value", [CLAUDE, UPPER, "a string", {"agent": CLAUDE}])
def test_non_task_value_in_the_task_map(value: Any) -> None:
    error = rejects({"a": value})
    assert error.task_name == "a"
    assert "not a task" in error.problem
    assert "task(...)" in error.problem


@pytest.mark.parametrize("name", ["my workflow", "", "a/b"])
def test_bad_workflow_name(name: str) -> None:
    error = rejects({"a": task(CLAUDE)}, name=name)
    assert error.task_name is None
    assert f"workflow name {name!r}" in error.problem
    assert str(error).startswith("Invalid workflow: ")


def test_empty_workflow() -> None:
    error = rejects({})
    assert error.task_name is None
    assert "has no tasks" in error.problem


# --- loops -------------------------------------------------------------------------------


@pytest.mark.parametrize("maximum", [0, -1])
def test_loop_max_below_one(maximum: int) -> None:
    error = rejects({"l": loop(tasks={"s": task(CLAUDE)}, max=maximum, until=done)})
    assert error.task_name == "l"
    assert f"loop max must be at least 1, got {maximum}" in error.problem


@pytest.mark.parametrize("maximum", [2.5, "3", True])
def test_loop_max_not_an_int(maximum: Any) -> None:
    error = rejects({"l": loop(tasks={"s": task(CLAUDE)}, max=maximum, until=done)})
    assert error.task_name == "l"
    assert "loop max must be an int" in error.problem


def test_loop_with_no_tasks() -> None:
    error = rejects({"l": loop(tasks={}, max=2, until=done)})
    assert error.task_name == "l"
    assert "loop has no tasks" in error.problem


def test_loop_until_not_callable() -> None:
    error = rejects({"l": loop(tasks={"s": task(CLAUDE)}, max=2, until=True)})  # type: ignore[arg-type]
    assert error.task_name == "l"
    assert "until must be callable" in error.problem


def test_loop_context_unknown() -> None:
    error = rejects({"l": loop(tasks={"s": task(CLAUDE)}, max=2, until=done, context="shared")})  # type: ignore[arg-type]
    assert error.task_name == "l"
    assert "'persistent' or 'fresh'" in error.problem


# --- sessions ----------------------------------------------------------------------------


def test_session_token_runner_differs_from_agent_runner() -> None:
    error = rejects({"a": task(CODEX, session=session_token("chat", "claude"))})
    assert error.task_name == "a"
    assert 'uses runner "codex"' in error.problem
    assert 'belongs to runner "claude"' in error.problem


def test_shared_session_reaches_an_agent_of_another_runner() -> None:
    error = rejects(
        {
            "a": task(CLAUDE, session=session_token("chat", "claude")),
            "b": task(CODEX, session=share_session_with("a")),
        }
    )
    assert error.task_name == "b"
    assert "cannot be shared across runners" in error.problem


def test_one_session_name_used_with_two_runners() -> None:
    # Each token matches its own agent, but handles are kept per session name, so the
    # codex task would resume the claude conversation.
    error = rejects(
        {
            "a": task(CLAUDE, session=session_token("chat", "claude")),
            "b": task(CODEX, session=session_token("chat", "codex")),
        }
    )
    assert error.task_name == "b"
    assert 'session "chat" with runner "codex"' in error.problem
    assert 'task "a"' in error.problem


def test_share_session_with_a_missing_task() -> None:
    error = rejects({"a": task(CLAUDE, session=share_session_with("ghost"))})
    assert error.task_name == "a"
    assert 'shares the session of "ghost"' in error.problem
    assert isinstance(error.cause, UnresolvedSessionRefError)


def test_share_session_with_a_function_task() -> None:
    error = rejects({"f": task(UPPER), "a": task(CLAUDE, session=share_session_with("f"))})
    assert error.task_name == "a"
    assert 'shares the session of "f"' in error.problem
    assert "not an agent task with a session" in error.problem


def test_share_session_with_a_task_without_session() -> None:
    error = rejects({"plain": task(CLAUDE), "a": task(CLAUDE, session=share_session_with("plain"))})
    assert error.task_name == "a"
    assert 'shares the session of "plain"' in error.problem


def test_share_session_with_a_loop() -> None:
    inner = {"s": task(CLAUDE, session=session_token("chat", "claude"))}
    error = rejects(
        {
            "l": loop(tasks=inner, max=1, until=done),
            "a": task(CLAUDE, session=share_session_with("l")),
        }
    )
    assert error.task_name == "a"
    assert 'shares the session of "l"' in error.problem


def test_share_session_cycle() -> None:
    error = rejects(
        {
            "a": task(CLAUDE, session=share_session_with("b")),
            "b": task(CLAUDE, session=share_session_with("a")),
        }
    )
    assert error.task_name == "a"
    assert "share_session_with chain loops: a → b → a" in error.problem
    assert isinstance(error.cause, SessionCycleError)


def test_share_session_with_itself() -> None:
    error = rejects({"a": task(CLAUDE, session=share_session_with("a"))})
    assert error.task_name == "a"
    assert "a → a" in error.problem


def test_session_that_is_not_a_session_ref() -> None:
    error = rejects({"a": AgentTask(agent=CLAUDE, session="chat")})  # type: ignore[arg-type]
    assert error.task_name == "a"
    assert "session must be session_token(name, runner) or share_session_with(task)" in (
        error.problem
    )


def test_session_problem_inside_a_loop_is_labelled_with_the_loop() -> None:
    inner = {"s": task(CODEX, session=session_token("chat", "claude"))}
    error = rejects({"l": loop(tasks=inner, max=1, until=done)})
    assert error.task_name == "l/s"


# --- raw agents and functions ------------------------------------------------------------


def raw_agent(**overrides: Any) -> AgentDef[Any, Any]:
    fields: dict[str, Any] = {"runner": "claude", "input": Text, "output": Label, "prompt": prompt}
    fields.update(overrides)
    return AgentDef(**fields)


def test_raw_agent_with_bad_runner() -> None:
    error = rejects({"a": AgentTask(agent=raw_agent(runner="bad runner!"))})
    assert error.task_name == "a"
    assert "Invalid runner" in error.problem
    assert "invalid characters" in error.problem
    assert isinstance(error.cause, InvalidIdentifierError)


def test_raw_agent_with_bad_model() -> None:
    error = rejects({"a": AgentTask(agent=raw_agent(model="org/model"))})
    assert error.task_name == "a"
    assert "Invalid model" in error.problem


@pytest.mark.parametrize("role", ["input", "output"])
def test_raw_agent_with_a_schema_that_is_not_a_model(role: str) -> None:
    error = rejects({"a": AgentTask(agent=raw_agent(**{role: {"type": "object"}}))})
    assert error.task_name == "a"
    assert f"{role} schema must be a pydantic model class" in error.problem
    assert "{'type': 'object'}" in error.problem


def test_raw_agent_with_a_class_pydantic_cannot_validate() -> None:
    class Opaque:
        pass

    error = rejects({"a": AgentTask(agent=raw_agent(output=Opaque))})
    assert error.task_name == "a"
    assert "output schema" in error.problem
    assert "not a type pydantic can validate" in error.problem


def test_raw_agent_with_non_callable_prompt() -> None:
    error = rejects({"a": AgentTask(agent=raw_agent(prompt="hello"))})
    assert error.task_name == "a"
    assert "prompt must be callable" in error.problem


def test_agent_task_whose_agent_is_not_an_agent_def() -> None:
    error = rejects({"a": AgentTask(agent=UPPER)})  # type: ignore[arg-type]
    assert error.task_name == "a"
    assert "agent must be built with define_agent" in error.problem


def test_function_task_whose_fn_is_not_a_function_def() -> None:
    error = rejects({"f": FunctionTask(fn=lambda x: x)})  # type: ignore[arg-type]
    assert error.task_name == "f"
    assert "fn must be built with define_function" in error.problem


def test_raw_function_with_a_non_schema() -> None:
    fn: FunctionDef[Any, Any] = FunctionDef(
        input_schema=Text, output_schema={"type": "object"}, execute=lambda x: x
    )
    error = rejects({"f": FunctionTask(fn=fn)})
    assert error.task_name == "f"
    assert "output schema must be a pydantic model class" in error.problem


def test_define_function_with_a_non_schema() -> None:
    # Raised by define_function itself, before any task exists: no task name yet.
    with pytest.raises(WorkflowDefinitionError) as info:
        define_function(lambda x: x, input={"type": "object"}, output=Text)
    assert info.value.task_name is None
    assert "input schema must be a pydantic model class" in info.value.problem


def test_task_hitl_of_the_wrong_kind() -> None:
    error = rejects({"a": AgentTask(agent=CLAUDE, hitl={"mode": "checkpoint"})})  # type: ignore[arg-type]
    assert error.task_name == "a"
    assert "hitl must be" in error.problem


def test_skip_if_not_callable() -> None:
    error = rejects({"a": AgentTask(agent=CLAUDE, skip_if=True)})  # type: ignore[arg-type]
    assert error.task_name == "a"
    assert "skip_if must be callable" in error.problem


def test_input_that_is_a_class() -> None:
    error = rejects({"a": task(CLAUDE, input=Text)})
    assert error.task_name == "a"
    assert "input must be a value or a callable" in error.problem


# --- MCP exposure ------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["input_task", "output_task"])
def test_mcp_task_naming_no_task(role: str) -> None:
    error = rejects({"a": task(CLAUDE)}, mcp={role: "ghost"})
    assert error.task_name == "ghost"
    assert f"mcp.{role} names no task of the workflow (tasks: a)" in error.problem


# --- what is accepted --------------------------------------------------------------------


def test_valid_workflow_with_loops_sessions_and_shared_sessions() -> None:
    inner = {
        "draft": task(CLAUDE, session=session_token("writer", "claude")),
        "critique": task(CODEX, depends_on=["draft"], session=session_token("critic", "codex")),
        "revise": task(CLAUDE, depends_on=["critique"], session=share_session_with("draft")),
    }
    workflow = define_workflow(
        name="essay.v2",
        tasks={
            "outline": task(CLAUDE, session=session_token("writer", "claude")),
            "expand": task(CLAUDE, depends_on=["outline"], session=share_session_with("outline")),
            "polish": task(CLAUDE, depends_on=["expand"], session=share_session_with("expand")),
            "normalise": task(UPPER, depends_on=["outline"], input=lambda ctx: {"text": "x"}),
            "refine": loop(tasks=inner, max=3, until=done, depends_on=["polish", "normalise"]),
            "approve": task(CLAUDE, depends_on=["refine"], hitl=Checkpoint("ship it?")),
        },
        description="an essay pipeline",
    )
    assert isinstance(workflow, WorkflowDef)
    assert list(workflow.tasks) == ["outline", "expand", "polish", "normalise", "refine", "approve"]
    assert workflow.description == "an essay pipeline"
    assert workflow.mcp is None
    assert workflow.mcp_servers == ()


def test_same_session_name_in_a_loop_and_outside_it_is_fine() -> None:
    # Each task map keeps its own sessions, so the names do not meet.
    define_workflow(
        name="wf",
        tasks={
            "a": task(CLAUDE, session=session_token("chat", "claude")),
            "l": loop(
                tasks={"b": task(CODEX, session=session_token("chat", "codex"))},
                max=1,
                until=done,
            ),
        },
    )


def test_define_workflow_accepts_mcp_and_mcp_servers_as_dicts() -> None:
    workflow = define_workflow(
        name="wf",
        tasks={"a": task(CLAUDE)},
        mcp={"description": "label things", "maxCostUsd": 2.5, "inputTask": "a"},
        mcp_servers=[{"name": "fs", "command": "mcp-fs", "args": ["/tmp"]}],
    )
    assert isinstance(workflow.mcp, McpExposureConfig)
    assert workflow.mcp.max_cost_usd == 2.5
    assert workflow.mcp.input_task == "a"
    assert workflow.mcp_servers == (McpServerConfig(name="fs", command="mcp-fs", args=["/tmp"]),)


def test_define_workflow_accepts_mcp_false_and_models() -> None:
    server = McpServerConfig(name="fs", command="mcp-fs")
    workflow = define_workflow(
        name="wf", tasks={"a": task(CLAUDE)}, mcp=False, mcp_servers=[server]
    )
    assert workflow.mcp is False
    assert workflow.mcp_servers[0] is server


def test_define_workflow_rejects_a_bad_mcp_dict() -> None:
    with pytest.raises(ValueError, match=r"maxTurns|max_turns"):
        define_workflow(name="wf", tasks={"a": task(CLAUDE)}, mcp={"maxTurns": 0})


def test_define_workflow_copies_the_task_map() -> None:
    tasks: dict[str, Any] = {"a": task(CLAUDE)}
    workflow = define_workflow(name="wf", tasks=tasks)
    tasks["b"] = task(CLAUDE)
    assert list(workflow.tasks) == ["a"]


def test_validate_workflow_checks_a_directly_built_workflow() -> None:
    workflow = WorkflowDef(name="wf", tasks={"a": task(CLAUDE, depends_on=["a"])})
    with pytest.raises(WorkflowDefinitionError, match="cycle"):
        validate_workflow(workflow)


def test_with_hooks_keeps_everything_else() -> None:
    from ageflow.core import WorkflowHooks

    workflow = define_workflow(name="wf", tasks={"a": task(CLAUDE)}, description="d")
    hooks = WorkflowHooks(on_workflow_start=lambda value: None)
    rewired = workflow.with_hooks(hooks)
    assert rewired.hooks is hooks
    assert (rewired.name, rewired.tasks, rewired.description) == ("wf", workflow.tasks, "d")
    assert workflow.hooks is not hooks
