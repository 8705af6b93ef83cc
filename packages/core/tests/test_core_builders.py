"""define_agent, define_function, resolve_agent_def, sessions, task(), loop() and factories."""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import pytest
from pydantic import BaseModel

from ageflow.core import (
    AGENT_RETRY_DEFAULTS,
    UNSET,
    AgentDef,
    AgentMcpConfig,
    AgentTask,
    Checkpoint,
    FunctionDef,
    FunctionTask,
    HitlPermissions,
    InlineToolDef,
    InvalidIdentifierError,
    LegacyMcpConfig,
    LoopDef,
    McpServerConfig,
    ResolvedAgentDef,
    RetryConfig,
    RunnerSpawnResult,
    SessionToken,
    ShareSession,
    TaskMcpOverride,
    ToolCallRecord,
    WorkflowDef,
    WorkflowDefinitionError,
    define_agent,
    define_function,
    define_workflow,
    define_workflow_factory,
    loop,
    resolve_agent_def,
    session_token,
    share_session_with,
    task,
)


class Question(BaseModel):
    text: str


class Answer(BaseModel):
    answer: str


def ask(q: Question) -> str:
    return f"Answer: {q.text}"


def make_agent(**overrides: Any) -> AgentDef[Any, Any]:
    config: dict[str, Any] = {
        "runner": "claude",
        "input": Question,
        "output": Answer,
        "prompt": ask,
    }
    config.update(overrides)
    return define_agent(**config)


def echo(q: Question) -> Answer:
    return Answer(answer=q.text)


# --- define_agent ------------------------------------------------------------------------


def test_define_agent_exposes_runner_schemas_and_prompt() -> None:
    agent = make_agent()
    assert isinstance(agent, AgentDef)
    assert agent.runner == "claude"
    assert agent.input is Question
    assert agent.output is Answer
    assert agent.prompt(Question(text="why?")) == "Answer: why?"


def test_define_agent_leaves_sanitize_input_unset_and_keeps_explicit_false() -> None:
    assert make_agent().sanitize_input is None
    assert make_agent(sanitize_input=False).sanitize_input is False


@pytest.mark.parametrize("runner", ["my runner!", "my runner"])
def test_define_agent_rejects_runner_with_invalid_characters(runner: str) -> None:
    with pytest.raises(InvalidIdentifierError, match="invalid characters") as info:
        make_agent(runner=runner)
    assert info.value.field == "runner"
    assert info.value.value == runner


@pytest.mark.parametrize("model", ["org/model", "llama3:8b", ""])
def test_define_agent_rejects_model_that_is_not_an_identifier(model: str) -> None:
    with pytest.raises(InvalidIdentifierError) as info:
        make_agent(model=model)
    assert info.value.field == "model"


def test_define_agent_accepts_identifier_model() -> None:
    assert make_agent(model="claude-opus-4-6").model == "claude-opus-4-6"


@pytest.mark.parametrize(("schema", "kind"), [(Any, "Any"), (object, "object")])
def test_define_agent_warns_when_output_accepts_anything(schema: Any, kind: str) -> None:
    with pytest.warns(UserWarning, match=kind) as record:
        make_agent(output=schema)
    assert "prompt injection" in str(record[0].message)


def test_define_agent_with_model_output_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_agent()


def test_define_agent_rejects_non_schema_output() -> None:
    with pytest.raises(WorkflowDefinitionError, match="output schema"):
        make_agent(output={"type": "object"})


def test_define_agent_rejects_non_callable_prompt() -> None:
    with pytest.raises(WorkflowDefinitionError, match="prompt must be callable"):
        make_agent(prompt="Answer this")


@pytest.mark.parametrize(
    "legacy", [{"server": "my server!"}, {"server": "my server!", "args": ["/tmp"]}]
)
def test_define_agent_rejects_legacy_mcp_server_with_invalid_characters(
    legacy: dict[str, Any],
) -> None:
    with pytest.raises(InvalidIdentifierError, match="invalid characters") as info:
        make_agent(mcps=[legacy])
    assert info.value.field == "mcp.server"


def test_legacy_mcp_model_rejects_invalid_server_name() -> None:
    with pytest.raises(ValueError, match="invalid characters"):
        LegacyMcpConfig(server="my server!")


def test_define_agent_accepts_legacy_mcp_server_as_dict_or_model() -> None:
    agent = make_agent(
        mcps=[{"server": "my-mcp-server.v2"}, LegacyMcpConfig(server="fs", args=["/tmp"])]
    )
    assert agent.mcps is not None
    assert [m.server for m in agent.mcps] == ["my-mcp-server.v2", "fs"]
    assert all(isinstance(m, LegacyMcpConfig) for m in agent.mcps)


def test_define_agent_accepts_mcp_as_dict() -> None:
    agent = make_agent(
        mcp={"servers": [{"name": "fs", "command": "mcp-fs"}], "extendWorkflow": True}
    )
    assert isinstance(agent.mcp, AgentMcpConfig)
    assert agent.mcp.extend_workflow is True
    assert agent.mcp.servers[0].command == "mcp-fs"


def test_define_agent_keeps_tool_list_as_given() -> None:
    tools = ["Read", "Write", "Bash"]
    agent = make_agent(tools=tools)
    assert agent.tools is tools
    assert agent.tool_names() == ["Read", "Write", "Bash"]
    assert agent.inline_tools() == {}


def test_define_agent_keeps_inline_tool_map_in_order_and_tools_are_callable() -> None:
    class Args(BaseModel):
        city: str

    weather = InlineToolDef(
        description="weather", parameters=Args, execute=lambda a: f"sunny in {a.city}"
    )
    clock = InlineToolDef(description="clock", parameters=Args, execute=lambda a: "noon")
    agent = make_agent(tools={"weather": weather, "clock": clock})
    assert agent.tool_names() == ["weather", "clock"]
    inline = agent.inline_tools()
    assert list(inline) == ["weather", "clock"]
    assert inline["weather"].execute(Args(city="Oslo")) == "sunny in Oslo"


def test_agent_without_tools_has_no_tool_names() -> None:
    agent = make_agent()
    assert agent.tool_names() is None
    assert agent.inline_tools() == {}


def test_define_agent_rejects_tools_as_a_string() -> None:
    with pytest.raises(TypeError, match="list of tool names"):
        make_agent(tools="Read")


# --- resolve_agent_def -------------------------------------------------------------------


def test_resolve_agent_def_applies_defaults() -> None:
    resolved = resolve_agent_def(make_agent())
    assert isinstance(resolved, ResolvedAgentDef)
    assert resolved.sanitize_input is True
    assert resolved.timeout_ms == 300_000
    assert resolved.max_output_bytes == 1_048_576
    assert resolved.retry.max == 3
    assert resolved.retry.backoff == "exponential"
    assert set(resolved.retry.on) == {"subprocess_error", "output_validation_error"}
    assert resolved.retry.timeout_ms == 300_000
    assert resolved.mcp is None


def test_resolved_agent_fields_are_never_none() -> None:
    resolved = resolve_agent_def(
        make_agent(sanitize_input=None, timeout_ms=None, max_output_bytes=None, retry=None)
    )
    assert resolved.sanitize_input is not None
    assert resolved.timeout_ms is not None
    assert resolved.max_output_bytes is not None
    assert resolved.retry == AGENT_RETRY_DEFAULTS


@pytest.mark.parametrize("value", [True, False])
def test_resolve_agent_def_keeps_explicit_sanitize_input(value: bool) -> None:
    assert resolve_agent_def(make_agent(sanitize_input=value)).sanitize_input is value


def test_resolve_agent_def_merges_partial_retry_field_by_field() -> None:
    resolved = resolve_agent_def(make_agent(retry=RetryConfig(max=5)))
    assert resolved.retry.max == 5
    assert resolved.retry.backoff == "exponential"
    assert resolved.retry.timeout_ms == 300_000
    assert resolved.retry.on == ("subprocess_error", "output_validation_error")


def test_resolve_agent_def_keeps_explicit_empty_retry_on() -> None:
    assert resolve_agent_def(make_agent(retry=RetryConfig(on=[]))).retry.on == ()


def test_resolve_agent_def_keeps_explicit_timeout_and_output_limit() -> None:
    resolved = resolve_agent_def(make_agent(timeout_ms=60_000, max_output_bytes=512_000))
    assert resolved.timeout_ms == 60_000
    assert resolved.max_output_bytes == 512_000


def test_resolved_agent_exposes_runner_model_and_original_agent() -> None:
    agent = make_agent(model="m1")
    resolved = resolve_agent_def(agent)
    assert resolved.agent is agent
    assert resolved.runner == "claude"
    assert resolved.model == "m1"


def test_resolve_agent_def_migrates_legacy_mcps_with_deprecation_warning() -> None:
    agent = make_agent(mcps=[{"server": "filesystem", "args": ["/tmp"], "autoStart": True}])
    with pytest.warns(DeprecationWarning, match="mcps"):
        resolved = resolve_agent_def(agent)
    assert resolved.mcp is not None
    assert resolved.mcp.extend_workflow is False
    [server] = resolved.mcp.servers
    assert server == McpServerConfig(name="filesystem", command="npx", args=["/tmp"])
    # the legacy list itself stays on the agent
    assert agent.mcps is not None
    assert agent.mcps[0].server == "filesystem"


def test_legacy_mcps_without_args_migrate_without_args() -> None:
    agent = make_agent(mcps=[{"server": "git"}])
    with pytest.warns(DeprecationWarning, match="mcps"):
        resolved = resolve_agent_def(agent)
    assert resolved.mcp is not None
    assert resolved.mcp.servers[0].args is None


def test_legacy_mcps_warning_is_given_once_per_agent() -> None:
    agent = make_agent(mcps=[{"server": "filesystem"}])
    with pytest.warns(DeprecationWarning, match="mcps"):
        resolve_agent_def(agent)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = resolve_agent_def(agent)  # the executor resolves on every run: no repeat
    assert again.mcp is not None
    assert again.mcp.servers[0].name == "filesystem"


def test_legacy_mcps_warning_is_given_for_each_new_agent() -> None:
    # A new agent often reuses the memory (the id) of a freed one; it must still warn.
    legacy = [LegacyMcpConfig(server="filesystem")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            resolve_agent_def(
                AgentDef(runner="claude", input=Question, output=Answer, prompt=ask, mcps=legacy)
            )
    deprecations = [w for w in caught if issubclass(w.category, DeprecationWarning)]
    assert len(deprecations) == 5


def test_mcp_wins_over_legacy_mcps_without_warning() -> None:
    mcp = AgentMcpConfig(servers=[McpServerConfig(name="modern", command="mcp-modern")])
    agent = make_agent(mcp=mcp, mcps=[{"server": "legacy"}])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolved = resolve_agent_def(agent)
    assert resolved.mcp is mcp
    assert [s.name for s in resolved.mcp.servers] == ["modern"]


# --- define_function ---------------------------------------------------------------------


def test_define_function_call_form() -> None:
    fn = define_function(echo, input=Question, output=Answer)
    assert isinstance(fn, FunctionDef)
    assert fn.tag == "function"
    assert fn.input_schema is Question
    assert fn.output_schema is Answer
    assert fn.execute is echo
    assert fn.name is None


def test_define_function_call_form_with_name() -> None:
    assert define_function(echo, input=Question, output=Answer, name="echo-it").name == "echo-it"


def test_define_function_decorator_names_the_function_after_it() -> None:
    @define_function(input=Question, output=Answer)
    def shout(q: Question) -> Answer:
        return Answer(answer=q.text.upper())

    assert isinstance(shout, FunctionDef)
    assert shout.name == "shout"
    assert shout.input_schema is Question
    assert shout(Question(text="hi")) == Answer(answer="HI")


def test_define_function_decorator_with_explicit_name() -> None:
    @define_function(input=Question, output=Answer, name="loud")
    def shout(q: Question) -> Answer:
        return Answer(answer=q.text.upper())

    assert shout.name == "loud"


@pytest.mark.anyio
async def test_function_call_runs_sync_execute() -> None:
    fn = define_function(echo, input=Question, output=Answer)
    assert await fn.call(Question(text="sync")) == Answer(answer="sync")


@pytest.mark.anyio
async def test_function_call_awaits_async_execute() -> None:
    @define_function(input=Question, output=Answer)
    async def later(q: Question) -> Answer:
        return Answer(answer=f"async {q.text}")

    direct = later(Question(text="x"))
    assert inspect.isawaitable(direct)  # calling the def directly gives the coroutine
    assert await direct == Answer(answer="async x")
    assert await later.call(Question(text="y")) == Answer(answer="async y")


@pytest.mark.anyio
async def test_function_call_awaits_awaitable_returned_by_sync_execute() -> None:
    async def compute(q: Question) -> Answer:
        return Answer(answer=q.text * 2)

    fn = define_function(lambda q: compute(q), input=Question, output=Answer)
    assert await fn.call(Question(text="ab")) == Answer(answer="abab")


@pytest.mark.anyio
async def test_function_execute_receives_only_the_input() -> None:
    received: list[tuple[Any, ...]] = []

    def record(*args: Any) -> Answer:
        received.append(args)
        return Answer(answer="ok")

    fn = define_function(record, input=Question, output=Answer)
    value = Question(text="only me")
    await fn.call(value)
    assert received == [(value,)]


def test_define_function_rejects_non_callable_execute() -> None:
    with pytest.raises(WorkflowDefinitionError, match="execute must be callable"):
        define_function("not a function", input=Question, output=Answer)  # type: ignore[call-overload]


@pytest.mark.parametrize("role", ["input", "output"])
def test_define_function_rejects_non_schema(role: str) -> None:
    schemas: dict[str, Any] = {"input": Question, "output": Answer, role: {"type": "object"}}
    with pytest.raises(WorkflowDefinitionError, match=f"{role} schema"):
        define_function(echo, **schemas)


def test_define_function_accepts_plain_types() -> None:
    fn = define_function(len, input=str, output=int)
    assert fn.input_schema is str
    assert fn.output_schema is int


# --- runner results (§7.7) ---------------------------------------------------------------


def test_spawn_result_tool_calls_default_to_none() -> None:
    result = RunnerSpawnResult(stdout="{}")
    assert result.tool_calls is None
    assert result.session_handle == ""
    assert (result.tokens_in, result.tokens_out) == (0, 0)


def test_spawn_result_accepts_and_exposes_tool_call_records() -> None:
    record = ToolCallRecord(name="read", args={"path": "a.txt"}, result="text", duration_ms=12)
    result = RunnerSpawnResult(stdout="{}", tool_calls=[record])
    assert result.tool_calls is not None
    assert result.tool_calls[0].name == "read"
    assert result.tool_calls[0].args == {"path": "a.txt"}
    assert result.tool_calls[0].duration_ms == 12
    assert record.to_wire() == {
        "name": "read",
        "args": {"path": "a.txt"},
        "result": "text",
        "durationMs": 12,
    }


# --- sessions ----------------------------------------------------------------------------


def test_session_token_keeps_name_and_runner() -> None:
    token = session_token("my-session", "claude")
    assert isinstance(token, SessionToken)
    assert token.kind == "token"
    assert token.name == "my-session"
    assert token.runner == "claude"


def test_session_tokens_with_the_same_name_and_runner_are_equal() -> None:
    assert session_token("s", "claude") == session_token("s", "claude")


def test_session_token_rejects_bad_runner() -> None:
    with pytest.raises(InvalidIdentifierError, match="invalid characters") as info:
        session_token("my-session", "bad runner!")
    assert info.value.field == "sessionToken runner"


def test_session_token_name_is_not_validated() -> None:
    assert session_token("any name at all!", "claude").name == "any name at all!"


@pytest.mark.parametrize("name", ["analyze", "not an identifier!"])
def test_share_session_with_keeps_any_task_name(name: str) -> None:
    ref = share_session_with(name)
    assert isinstance(ref, ShareSession)
    assert ref.kind == "share"
    assert ref.task_name == name


# --- task() ------------------------------------------------------------------------------


def test_task_wraps_an_agent_with_its_options() -> None:
    agent = make_agent()
    token = session_token("s", "claude")
    gate = Checkpoint("go?")

    def skip(ctx: Any) -> bool:
        return False

    node = task(
        agent,
        depends_on=["a", "b"],
        input={"text": "hi"},
        session=token,
        hitl=gate,
        mcp_override=["fs"],
        skip_if=skip,
    )
    assert isinstance(node, AgentTask)
    assert node.agent is agent
    assert node.depends_on == ("a", "b")
    assert node.input == {"text": "hi"}
    assert node.session is token
    assert node.hitl is gate
    assert node.mcp_override == TaskMcpOverride(servers=["fs"])
    assert node.skip_if is skip


def test_task_defaults() -> None:
    node = task(make_agent())
    assert isinstance(node, AgentTask)
    assert node.depends_on == ()
    assert node.input is UNSET
    assert node.session is None
    assert node.hitl is None
    assert node.mcp_override is None


def test_task_keeps_mcp_override_model() -> None:
    override = TaskMcpOverride(servers=["fs", "git"])
    assert task(make_agent(), mcp_override=override).mcp_override is override  # type: ignore[union-attr]


def test_task_keeps_explicit_none_input_distinct_from_unset() -> None:
    node = task(make_agent(), input=None)
    assert node.input is None
    assert node.input is not UNSET


def test_unset_is_a_falsy_singleton() -> None:
    assert not UNSET
    assert repr(UNSET) == "UNSET"
    assert type(UNSET)() is UNSET


def test_task_wraps_a_function_with_retry() -> None:
    fn = define_function(echo, input=Question, output=Answer)
    retry = RetryConfig(max=2, on=["transient"])
    node = task(fn, depends_on=["a"], retry=retry)
    assert isinstance(node, FunctionTask)
    assert node.fn is fn
    assert node.depends_on == ("a",)
    assert node.retry is retry
    assert node.input is UNSET


def test_task_rejects_depends_on_as_a_string() -> None:
    with pytest.raises(TypeError, match=r"depends_on=\['a'\]"):
        task(make_agent(), depends_on="a")


def test_task_rejects_mcp_override_as_a_string() -> None:
    with pytest.raises(TypeError, match="list of server names"):
        task(make_agent(), mcp_override="fs")


def test_task_rejects_retry_on_an_agent_task() -> None:
    with pytest.raises(TypeError, match="retry belongs on the agent"):
        task(make_agent(), retry=RetryConfig(max=2))


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("session", ShareSession(task_name="a")),
        ("mcp_override", ["fs"]),
    ],
)
def test_task_rejects_agent_only_options_on_a_function(option: str, value: Any) -> None:
    fn = define_function(echo, input=Question, output=Answer)
    with pytest.raises(TypeError, match=f"{option} applies to agent tasks only"):
        task(fn, **{option: value})


def test_function_task_takes_a_checkpoint_but_no_permissions() -> None:
    fn = define_function(echo, input=Question, output=Answer)
    checkpoint = Checkpoint("ok?")
    assert task(fn, hitl=checkpoint).hitl is checkpoint
    with pytest.raises(TypeError, match=r"hitl=Checkpoint\(...\) only"):
        task(fn, hitl=HitlPermissions(permissions={"x": True}))


@pytest.mark.parametrize("work", [echo, "agent", None])
def test_task_rejects_what_is_neither_agent_nor_function(work: Any) -> None:
    with pytest.raises(TypeError, match="takes an agent"):
        task(work)


# --- loop() ------------------------------------------------------------------------------


def test_loop_builds_a_loop_node() -> None:
    inner = {"step": task(make_agent())}

    def done(ctx: Any) -> bool:
        return True

    node = loop(tasks=inner, max=3, until=done, context="persistent", depends_on=["prep"])
    assert isinstance(node, LoopDef)
    assert node.max == 3
    assert node.context == "persistent"
    assert node.until is done
    assert node.depends_on == ("prep",)
    assert node.input is UNSET
    assert list(node.tasks) == ["step"]


def test_loop_defaults_to_fresh_context() -> None:
    assert loop(tasks={"s": task(make_agent())}, max=1, until=lambda ctx: True).context == "fresh"


def test_loop_copies_its_task_map() -> None:
    inner: dict[str, Any] = {"step": task(make_agent())}
    node = loop(tasks=inner, max=2, until=lambda ctx: True)
    inner["late"] = task(make_agent())
    assert list(node.tasks) == ["step"]


def test_loop_rejects_depends_on_as_a_string() -> None:
    with pytest.raises(TypeError, match="depends_on"):
        loop(tasks={"s": task(make_agent())}, max=2, until=lambda ctx: True, depends_on="prep")


# --- define_workflow_factory -------------------------------------------------------------


class Spec(BaseModel):
    name: str
    steps: int


def build_from_spec(spec: Spec) -> WorkflowDef:
    agent = make_agent()
    tasks = {f"step{i}": task(agent, input={"text": spec.name}) for i in range(spec.steps)}
    return define_workflow(name=spec.name, tasks=tasks)


def test_workflow_factory_closes_over_its_input() -> None:
    factory = define_workflow_factory(build_from_spec)
    workflow = factory(Spec(name="alpha", steps=1))
    assert isinstance(workflow, WorkflowDef)
    assert workflow.name == "alpha"
    assert workflow.tasks["step0"].input == {"text": "alpha"}


def test_workflow_factory_builds_a_new_definition_per_input() -> None:
    factory = define_workflow_factory(build_from_spec)
    first = factory(Spec(name="alpha", steps=1))
    second = factory(Spec(name="beta", steps=3))
    assert first is not second
    assert (first.name, len(first.tasks)) == ("alpha", 1)
    assert (second.name, len(second.tasks)) == ("beta", 3)


def test_workflow_factory_checks_what_it_builds() -> None:
    # A builder that skips define_workflow still gets its result checked.
    factory = define_workflow_factory(
        lambda n: WorkflowDef(name=n, tasks={"a": task(make_agent(), depends_on=["ghost"])})
    )
    with pytest.raises(WorkflowDefinitionError, match="ghost") as info:
        factory("w")
    assert info.value.task_name == "a"


def test_workflow_factory_accepts_keyword_style_builders() -> None:
    # Both shapes of builder the original's factory typing allowed produce a WorkflowDef.
    def by_dict(cfg: dict[str, str]) -> WorkflowDef:
        return define_workflow(name=cfg["name"], tasks={"only": task(make_agent())})

    assert define_workflow_factory(by_dict)({"name": "x"}).name == "x"
