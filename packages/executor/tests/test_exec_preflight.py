"""run_preflight: every check, on checked workflows and on raw (unchecked) WorkflowDefs."""

from __future__ import annotations

import os
import stat

import pytest
from pydantic import BaseModel

from ageflow.core import (
    AgentDef,
    AgentMcpConfig,
    AgentTask,
    EnvConfig,
    FunctionTask,
    LegacyMcpConfig,
    LoopDef,
    McpServerConfig,
    RunnerRegistry,
    WorkflowDef,
    define_agent,
    define_function,
    define_workflow,
    loop,
    session_token,
    share_session_with,
    task,
)
from ageflow.executor.preflight import PreflightResult, run_preflight

pytestmark = pytest.mark.anyio


class Text(BaseModel):
    text: str


def make_agent(runner: str = "claude", **fields) -> AgentDef:
    return define_agent(runner=runner, input=Text, output=Text, prompt=lambda i: i.text, **fields)


def raw_agent(runner: str = "claude", **fields) -> AgentDef:
    """An agent built without define_agent's checks."""
    return AgentDef(runner=runner, input=Text, output=Text, prompt=lambda i: i.text, **fields)


echo = define_function(lambda v: v, input=Text, output=Text)


def found_all(name: str) -> bool:
    return True


class Which:
    """A `which` that knows a fixed set of executables and records what it was asked."""

    def __init__(self, *present: str) -> None:
        self.present = set(present)
        self.asked: list[str] = []

    def __call__(self, name: str) -> bool:
        self.asked.append(name)
        return name in self.present


async def preflight(workflow, *, which=found_all, registry=None, env=None) -> PreflightResult:
    return await run_preflight(
        workflow,
        which=which,
        registry=RunnerRegistry() if registry is None else registry,
        env={} if env is None else env,
    )


def simple(**tasks) -> WorkflowDef:
    return define_workflow(name="wf", tasks=tasks)


# --- clean workflow ------------------------------------------------------------------------


async def test_clean_workflow_has_no_findings():
    workflow = simple(
        a=task(make_agent()),
        b=task(echo, depends_on=["a"]),
        c=task(make_agent("codex"), depends_on=["b"]),
    )
    result = await preflight(workflow)
    assert result == PreflightResult(errors=[], warnings=[])
    assert result.ok


# --- 1. runners --------------------------------------------------------------------------


async def test_all_runners_found_means_no_errors():
    which = Which("claude", "codex")
    result = await preflight(simple(a=task(make_agent()), b=task(make_agent("codex"))), which=which)
    assert result.errors == []
    assert which.asked == ["claude", "codex"]


async def test_missing_runner_error_names_it_with_install_hint():
    result = await preflight(simple(a=task(make_agent())), which=Which())
    assert len(result.errors) == 1
    error = result.errors[0]
    assert '"claude"' in error
    assert "not found on PATH" in error
    assert "Install with: npm install -g @anthropic-ai/claude-code" in error
    assert not result.ok


async def test_codex_hint_and_no_hint_for_unknown_runners():
    result = await preflight(
        simple(a=task(make_agent("codex")), b=task(make_agent("mine"))), which=Which()
    )
    assert len(result.errors) == 2
    assert "Install with: npm install -g @openai/codex" in result.errors[0]
    assert '"mine"' in result.errors[1]
    assert "Install with:" not in result.errors[1]


async def test_same_missing_runner_reported_once():
    which = Which()
    result = await preflight(simple(a=task(make_agent()), b=task(make_agent())), which=which)
    assert len(result.errors) == 1
    assert which.asked == ["claude"]


async def test_runner_used_inside_and_outside_a_loop_reported_once():
    inner = loop(tasks={"x": task(make_agent())}, max=2, until=lambda ctx: True)
    result = await preflight(simple(a=task(make_agent()), l=inner), which=Which())
    assert len([e for e in result.errors if "not found on PATH" in e]) == 1


async def test_runner_only_inside_a_loop_is_checked():
    inner = loop(tasks={"x": task(make_agent("codex"))}, max=2, until=lambda ctx: True)
    result = await preflight(simple(a=task(echo), l=inner), which=Which())
    assert len(result.errors) == 1
    assert '"codex"' in result.errors[0]


async def test_function_tasks_have_no_runner_to_check():
    which = Which()
    result = await preflight(simple(f=task(echo)), which=which)
    assert result.errors == []
    assert which.asked == []


async def test_registered_runner_counts_as_available_without_lookup():
    which = Which()
    registry = RunnerRegistry({"api": object()})  # type: ignore[dict-item]
    result = await preflight(simple(a=task(make_agent("api"))), which=which, registry=registry)
    assert result.errors == []
    assert which.asked == []


async def test_plain_mapping_works_as_registry():
    result = await preflight(
        simple(a=task(make_agent("api"))), which=Which(), registry={"api": object()}
    )
    assert result.errors == []


async def test_async_which_and_path_results_are_accepted():
    async def which(name: str) -> str | None:
        return f"/usr/bin/{name}" if name == "claude" else None

    result = await preflight(simple(a=task(make_agent()), b=task(make_agent("codex"))), which=which)
    assert len(result.errors) == 1
    assert '"codex"' in result.errors[0]


async def test_default_which_searches_path(tmp_path, monkeypatch):
    executable = tmp_path / "ageflow-fake-runner"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(executable.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path))
    workflow = simple(a=task(make_agent("ageflow-fake-runner")), b=task(make_agent("absent-xyz")))
    result = await run_preflight(workflow, registry=RunnerRegistry(), env={})
    assert len(result.errors) == 1
    assert '"absent-xyz"' in result.errors[0]


async def test_default_registry_is_used_when_none_given(monkeypatch):
    from ageflow.core import register_runner, unregister_runner

    register_runner("preflight-registered", object())  # type: ignore[arg-type]
    try:
        result = await run_preflight(
            simple(a=task(make_agent("preflight-registered"))), which=Which(), env={}
        )
    finally:
        unregister_runner("preflight-registered")
    assert result.errors == []


# --- 2. DAG ------------------------------------------------------------------------------


async def test_valid_dag_has_no_dag_errors():
    result = await preflight(simple(a=task(echo), b=task(echo, depends_on=["a"])))
    assert not any("DAG" in e for e in result.errors)


async def test_cycle_is_reported_with_its_path():
    workflow = WorkflowDef(
        name="wf",
        tasks={
            "a": FunctionTask(fn=echo, depends_on=("b",)),
            "b": FunctionTask(fn=echo, depends_on=("a",)),
        },
    )
    result = await preflight(workflow)
    assert result.errors == ["DAG cycle detected: a → b → a"]


async def test_unknown_dependency_names_task_and_dependency():
    workflow = WorkflowDef(name="wf", tasks={"a": FunctionTask(fn=echo, depends_on=("ghost",))})
    result = await preflight(workflow)
    assert len(result.errors) == 1
    assert result.errors[0].startswith("DAG error:")
    assert '"a"' in result.errors[0]
    assert '"ghost"' in result.errors[0]


async def test_string_depends_on_is_reported_not_raised():
    workflow = WorkflowDef(name="wf", tasks={"ab": FunctionTask(fn=echo, depends_on="a")})  # type: ignore[arg-type]
    result = await preflight(workflow)
    assert len(result.errors) == 1
    assert result.errors[0].startswith("DAG error:")


async def test_cycle_inside_a_loop_is_reported_with_loop_labels():
    body = {
        "x": FunctionTask(fn=echo, depends_on=("y",)),
        "y": FunctionTask(fn=echo, depends_on=("x",)),
    }
    workflow = WorkflowDef(
        name="wf", tasks={"fix": LoopDef(tasks=body, max=2, until=lambda c: True)}
    )
    result = await preflight(workflow)
    assert result.errors == ["DAG cycle detected: fix/x → fix/y → fix/x"]


async def test_inner_task_depending_on_outer_task_is_unresolved():
    body = {"x": FunctionTask(fn=echo, depends_on=("outer",))}
    workflow = WorkflowDef(
        name="wf",
        tasks={
            "outer": FunctionTask(fn=echo),
            "l": LoopDef(tasks=body, max=1, until=lambda c: True, depends_on=("outer",)),
        },
    )
    result = await preflight(workflow)
    assert len(result.errors) == 1
    assert '"l/x"' in result.errors[0]
    assert '"outer"' in result.errors[0]


# --- 3. sessions -------------------------------------------------------------------------


async def test_valid_share_chain_has_no_session_errors():
    token = session_token("s", "claude")
    workflow = simple(
        a=task(make_agent(), session=token),
        b=task(make_agent(), session=share_session_with("a"), depends_on=["a"]),
        c=task(make_agent(), session=share_session_with("b"), depends_on=["b"]),
    )
    result = await preflight(workflow)
    assert result.errors == []
    assert result.warnings == []


async def test_share_cycle_is_an_error():
    workflow = WorkflowDef(
        name="wf",
        tasks={
            "a": AgentTask(agent=make_agent(), session=share_session_with("b")),
            "b": AgentTask(agent=make_agent(), session=share_session_with("a")),
        },
    )
    result = await preflight(workflow)
    assert len(result.errors) == 1
    assert result.errors[0].startswith("Session reference cycle detected:")
    assert "a → b → a" in result.errors[0]


async def test_share_to_unknown_task_is_an_error_naming_both():
    workflow = WorkflowDef(
        name="wf", tasks={"b": AgentTask(agent=make_agent(), session=share_session_with("ghost"))}
    )
    result = await preflight(workflow)
    assert len(result.errors) == 1
    assert '"b"' in result.errors[0]
    assert '"ghost"' in result.errors[0]


async def test_share_error_inside_a_loop_is_reported():
    body = {"x": AgentTask(agent=make_agent(), session=share_session_with("outer"))}
    workflow = WorkflowDef(
        name="wf",
        tasks={
            "outer": AgentTask(agent=make_agent(), session=session_token("s", "claude")),
            "l": LoopDef(tasks=body, max=1, until=lambda c: True),
        },
    )
    result = await preflight(workflow)
    assert len(result.errors) == 1
    assert '"l/x"' in result.errors[0]


# --- 4. static arguments -----------------------------------------------------------------


async def test_invalid_runner_identifier_is_an_error_and_not_looked_up():
    which = Which()
    workflow = WorkflowDef(name="wf", tasks={"a": AgentTask(agent=raw_agent("bad;runner"))})
    result = await preflight(workflow, which=which)
    assert result.errors == ['Task "a": runner "bad;runner" is not a valid static identifier']
    assert which.asked == []


async def test_invalid_model_identifier_is_an_error():
    workflow = WorkflowDef(name="wf", tasks={"a": AgentTask(agent=raw_agent(model="org/model"))})
    result = await preflight(workflow)
    assert result.errors == ['Task "a": model "org/model" is not a valid static identifier']


@pytest.mark.filterwarnings("ignore:agent.mcps is deprecated:DeprecationWarning")
async def test_invalid_legacy_mcp_server_identifier_is_an_error():
    legacy = LegacyMcpConfig.model_construct(server="bad server", args=None, auto_start=None)
    workflow = WorkflowDef(name="wf", tasks={"a": AgentTask(agent=raw_agent(mcps=[legacy]))})
    result = await preflight(workflow)
    assert any('mcp server "bad server"' in e for e in result.errors)


async def test_lowercase_env_pass_name_is_an_error():
    agent = make_agent(env=EnvConfig(pass_vars=["lower_case_var"]))
    result = await preflight(simple(a=task(agent)), env={"lower_case_var": "x"})
    assert len(result.errors) == 1
    assert '"lower_case_var"' in result.errors[0]
    assert result.warnings == []


async def test_static_args_inside_loops_are_checked():
    body = {"x": AgentTask(agent=raw_agent(model="bad model"))}
    workflow = WorkflowDef(name="wf", tasks={"l": LoopDef(tasks=body, max=1, until=lambda c: True)})
    result = await preflight(workflow)
    assert result.errors == ['Task "l/x": model "bad model" is not a valid static identifier']


async def test_bad_schema_and_prompt_of_a_raw_agent_are_errors():
    agent = AgentDef(runner="claude", input=Text, output={"type": "object"}, prompt="not callable")
    result = await preflight(WorkflowDef(name="wf", tasks={"a": AgentTask(agent=agent)}))
    assert len(result.errors) == 1
    assert result.errors[0].startswith('Task "a": output schema')


async def test_bad_function_schema_is_an_error():
    from ageflow.core import FunctionDef

    fn = FunctionDef(input_schema=Text, output_schema=42, execute=lambda v: v)
    result = await preflight(WorkflowDef(name="wf", tasks={"f": FunctionTask(fn=fn)}))
    assert len(result.errors) == 1
    assert result.errors[0].startswith('Task "f": output schema')


async def test_bad_hitl_config_is_an_error():
    workflow = WorkflowDef(name="wf", tasks={"a": AgentTask(agent=make_agent(), hitl="ask")})  # type: ignore[arg-type]
    result = await preflight(workflow)
    assert len(result.errors) == 1
    assert "hitl" in result.errors[0]


async def test_non_task_entries_are_reported_not_raised():
    workflow = WorkflowDef(
        name="wf",
        tasks={"a": make_agent(), "b": AgentTask(agent="claude"), "c": FunctionTask(fn=print)},  # type: ignore[dict-item,arg-type]
    )
    result = await preflight(workflow, which=Which())
    assert result.errors == [
        'Task "a": is a AgentDef, not a task (wrap agents and functions with task(...) and '
        "loops with loop(...))",
        'Task "b": agent must be built with define_agent',
        'Task "c": fn must be built with define_function',
    ]


# --- 5. env vars -------------------------------------------------------------------------


async def test_missing_pass_var_is_a_warning_naming_it():
    agent = make_agent(env=EnvConfig(pass_vars=["MY_TOKEN", "PRESENT"]))
    result = await preflight(simple(a=task(agent)), env={"PRESENT": "1"})
    assert result.errors == []
    assert result.warnings == ['Task "a": env var MY_TOKEN is not set']


async def test_pass_var_checks_use_the_process_environment_by_default(monkeypatch):
    monkeypatch.setenv("AGEFLOW_PREFLIGHT_SET", "1")
    monkeypatch.delenv("AGEFLOW_PREFLIGHT_UNSET", raising=False)
    agent = make_agent(
        env=EnvConfig(pass_vars=["AGEFLOW_PREFLIGHT_SET", "AGEFLOW_PREFLIGHT_UNSET"])
    )
    result = await run_preflight(simple(a=task(agent)), which=found_all, registry=RunnerRegistry())
    assert result.warnings == ['Task "a": env var AGEFLOW_PREFLIGHT_UNSET is not set']
    assert "AGEFLOW_PREFLIGHT_SET" in os.environ


# --- 6. sessions across runners ----------------------------------------------------------


async def test_token_shared_by_two_runners_warns():
    token = session_token("conv", "claude")
    workflow = WorkflowDef(
        name="wf",
        tasks={
            "a": AgentTask(agent=make_agent("claude"), session=token),
            "b": AgentTask(agent=make_agent("codex"), session=token),
        },
    )
    result = await preflight(workflow)
    assert result.errors == []
    shared = [w for w in result.warnings if "shared between different runners" in w]
    assert len(shared) == 1
    assert '"conv"' in shared[0]
    assert "(claude, codex)" in shared[0]
    assert "context will not carry over" in shared[0]
    # b also runs on a runner other than the token's
    assert any('Task "b"' in w and '"codex"' in w and '"claude"' in w for w in result.warnings)


async def test_same_runner_sharing_a_token_does_not_warn():
    token = session_token("conv", "claude")
    result = await preflight(
        simple(a=task(make_agent(), session=token), b=task(make_agent(), session=token))
    )
    assert result.warnings == []


async def test_token_runner_mismatch_alone_warns():
    workflow = WorkflowDef(
        name="wf",
        tasks={"a": AgentTask(agent=make_agent("codex"), session=session_token("s", "claude"))},
    )
    result = await preflight(workflow)
    assert result.warnings == [
        'Task "a": runs on runner "codex" but its session "s" was created for runner "claude"'
    ]


# --- 7. MCP ------------------------------------------------------------------------------


def server(name: str, **fields) -> McpServerConfig:
    return McpServerConfig(name=name, command=fields.pop("command", "npx"), **fields)


async def test_duplicate_agent_server_names_are_errors():
    agent = make_agent(mcp=AgentMcpConfig(servers=[server("fs"), server("fs"), server("fs")]))
    result = await preflight(simple(a=task(agent)))
    assert result.errors == [
        'Task "a": duplicate MCP server name "fs" in agent.mcp.servers',
        'Task "a": duplicate MCP server name "fs" in agent.mcp.servers',
    ]


async def test_duplicate_workflow_server_names_are_errors():
    workflow = WorkflowDef(
        name="wf", tasks={"f": FunctionTask(fn=echo)}, mcp_servers=(server("gh"), server("gh"))
    )
    result = await preflight(workflow)
    assert result.errors == ['Workflow: duplicate MCP server name "gh" in mcp_servers']


async def test_override_naming_unknown_server_is_an_error():
    workflow = define_workflow(
        name="wf",
        tasks={"a": task(make_agent(), mcp_override=["nope"])},
        mcp_servers=[server("fs")],
    )
    result = await preflight(workflow)
    assert len(result.errors) == 1
    assert result.errors[0].startswith('Task "a":')
    assert '"nope"' in result.errors[0]


async def test_unset_placeholder_in_server_env_is_a_warning():
    agent = make_agent(mcp=AgentMcpConfig(servers=[server("gh", env={"T": "${env:UNSET_VAR}"})]))
    result = await preflight(simple(a=task(agent)), env={})
    assert result.errors == []
    assert result.warnings == [
        'Task "a": MCP server "gh" references env var ${env:UNSET_VAR}, which is not set'
    ]


async def test_set_placeholder_does_not_warn():
    agent = make_agent(mcp=AgentMcpConfig(servers=[server("gh", args=["${env:TOKEN}"])]))
    result = await preflight(simple(a=task(agent)), env={"TOKEN": ""})
    assert result.warnings == []


async def test_workflow_server_placeholder_warning_lists_the_tasks_once():
    workflow = define_workflow(
        name="wf",
        tasks={"a": task(make_agent()), "b": task(make_agent()), "f": task(echo)},
        mcp_servers=[server("gh", command="${env:GH_BIN}")],
    )
    result = await preflight(workflow)
    assert result.warnings == [
        'Tasks "a", "b": MCP server "gh" references env var ${env:GH_BIN}, which is not set'
    ]


async def test_servers_a_task_does_not_start_are_not_checked():
    workflow = define_workflow(
        name="wf",
        tasks={"a": task(make_agent(), mcp_override=["fs"])},
        mcp_servers=[server("fs"), server("gh", env={"T": "${env:NOT_USED}"})],
    )
    result = await preflight(workflow)
    assert result == PreflightResult()


async def test_replaced_workflow_servers_are_not_checked_but_extension_is():
    workflow_servers = [server("gh", env={"T": "${env:WF_VAR}"})]
    replacing = make_agent(mcp=AgentMcpConfig(servers=[server("fs")]))
    extending = make_agent(mcp=AgentMcpConfig(servers=[server("fs")], extend_workflow=True))
    replaced = await preflight(
        define_workflow(name="wf", tasks={"a": task(replacing)}, mcp_servers=workflow_servers)
    )
    extended = await preflight(
        define_workflow(name="wf", tasks={"a": task(extending)}, mcp_servers=workflow_servers)
    )
    assert replaced.warnings == []
    assert len(extended.warnings) == 1
    assert "WF_VAR" in extended.warnings[0]


async def test_bare_dollar_reference_in_a_server_is_an_error():
    agent = make_agent(mcp=AgentMcpConfig(servers=[server("gh", args=["--token", "$TOKEN"])]))
    result = await preflight(simple(a=task(agent)), env={"TOKEN": "x"})
    assert result.errors == [
        'Task "a": MCP server "gh" uses bare $TOKEN, which is refused when the server starts; '
        "write ${env:TOKEN}"
    ]


async def test_mcp_checks_cover_tasks_inside_loops():
    agent = make_agent(mcp=AgentMcpConfig(servers=[server("gh", env={"T": "${env:LOOP_VAR}"})]))
    inner = loop(tasks={"x": task(agent)}, max=1, until=lambda ctx: True)
    result = await preflight(simple(l=inner))
    assert result.warnings == [
        'Task "l/x": MCP server "gh" references env var ${env:LOOP_VAR}, which is not set'
    ]


# --- 8. skippable dependencies -----------------------------------------------------------


def skip(ctx) -> bool:
    return True


async def test_all_deps_skippable_warns():
    workflow = simple(
        a=task(make_agent(), skip_if=skip),
        b=task(echo, skip_if=skip),
        c=task(echo, depends_on=["a", "b"]),
    )
    result = await preflight(workflow)
    assert result.warnings == [
        'Task "c": all dependencies ("a", "b") have skip_if defined — "c" may receive None '
        "inputs at runtime"
    ]


async def test_some_deps_skippable_does_not_warn():
    workflow = simple(
        a=task(make_agent(), skip_if=skip),
        b=task(echo),
        c=task(echo, depends_on=["a", "b"]),
    )
    assert (await preflight(workflow)).warnings == []


async def test_no_deps_does_not_warn():
    assert (await preflight(simple(a=task(echo, skip_if=skip)))).warnings == []


async def test_loop_dependency_is_not_skippable():
    inner = loop(tasks={"x": task(echo)}, max=1, until=lambda ctx: True)
    workflow = simple(l=inner, c=task(echo, depends_on=["l"]))
    assert (await preflight(workflow)).warnings == []


async def test_skippable_deps_inside_loops_warn():
    inner = loop(
        tasks={"x": task(echo, skip_if=skip), "y": task(echo, depends_on=["x"])},
        max=1,
        until=lambda ctx: True,
    )
    result = await preflight(simple(l=inner))
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith('Task "l/y": all dependencies ("x")')


# --- ordering ----------------------------------------------------------------------------


async def test_findings_come_in_check_order():
    workflow = WorkflowDef(
        name="wf",
        tasks={
            "a": AgentTask(
                agent=raw_agent("codex", model="bad model", env=EnvConfig(pass_vars=["UNSET"])),
                depends_on=("ghost",),
            ),
        },
    )
    result = await preflight(workflow, which=Which())
    assert [e.split(":")[0] for e in result.errors] == [
        'Runner "codex" is not registered and not found on PATH. Install with',
        "DAG error",
        'Task "a"',
    ]
    assert result.warnings == ['Task "a": env var UNSET is not set']
