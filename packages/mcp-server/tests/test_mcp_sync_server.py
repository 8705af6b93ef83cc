"""The sync tool path driven through the SDK's own in-process client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp.types as types
import pytest
from mcp import Client
from pydantic import BaseModel

from ageflow.core import (
    Checkpoint,
    RetryConfig,
    RunnerRegistry,
    define_agent,
    define_function,
    define_workflow,
    task,
)
from ageflow.core.workflow import WorkflowDef, WorkflowHooks
from ageflow.mcp_server import (
    CliCeilings,
    ConcurrencyConfig,
    McpServer,
    ToolCallRequest,
    create_mcp_server,
)
from ageflow.mcp_server.error_results import read_error
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Question(BaseModel):
    question: str


class Answer(BaseModel):
    answer: str


def ask_agent() -> Any:
    return define_agent(
        runner="scripted",
        input=Question,
        output=Answer,
        prompt=lambda q: f"Q: {q.question}",
        retry=RetryConfig(max=1),
    )


def ask_workflow(name: str = "ask", **mcp: Any) -> WorkflowDef:
    return define_workflow(name=name, tasks={"ask": task(ask_agent())}, mcp=mcp or None)


def two_step(name: str = "two", *, hitl: bool = False, hooks: WorkflowHooks | None = None) -> Any:
    workflow = define_workflow(
        name=name,
        tasks={
            "draft": task(ask_agent()),
            "publish": task(
                define_function(
                    lambda a: Answer(answer=a.answer.upper()), input=Answer, output=Answer
                ),
                depends_on=["draft"],
                input=lambda ctx: ctx["draft"].output,
                hitl=Checkpoint("Publish it?") if hitl else None,
            ),
        },
    )
    return workflow if hooks is None else workflow.with_hooks(hooks)


@pytest.fixture
def scripted() -> ScriptedRunner:
    return ScriptedRunner(lambda args: json.dumps({"answer": args.prompt}))


@pytest.fixture
def registry(scripted: ScriptedRunner) -> RunnerRegistry:
    return RunnerRegistry({"scripted": scripted})


@asynccontextmanager
async def connected(server: McpServer, **client_kw: Any) -> AsyncIterator[Client]:
    # "legacy" drives the JSON-RPC handshake, as a stdio client does.
    async with Client(server.server, mode="legacy", cache=None, **client_kw) as client:
        yield client


def error_code(result: types.CallToolResult) -> str:
    assert result.is_error is True
    error = read_error(result)
    assert error is not None
    return error["errorCode"]


# --- listing and successful calls ---------------------------------------------------------


async def test_list_tools_shows_one_tool_per_workflow_with_schemas(registry: RunnerRegistry):
    server = create_mcp_server(
        [ask_workflow(description="Ask a question"), two_step()], registry=registry
    )
    assert server.name == "ageflow-mcp"
    async with connected(server) as client:
        tools = (await client.list_tools()).tools
    assert [tool.name for tool in tools] == ["ask", "two"]
    ask = tools[0]
    assert ask.description == "Ask a question"
    assert ask.input_schema["properties"]["question"]["type"] == "string"
    assert ask.output_schema is not None
    assert ask.output_schema["required"] == ["answer"]
    assert tools[1].description == "Run ageflow workflow: two"


async def test_single_workflow_server_is_named_after_it(registry: RunnerRegistry):
    assert create_mcp_server(ask_workflow(), registry=registry).name == "ask"


async def test_successful_call_returns_structured_output(
    registry: RunnerRegistry, scripted: ScriptedRunner
):
    server = create_mcp_server([ask_workflow(), two_step()], registry=registry)
    async with connected(server) as client:
        result = await client.call_tool("two", {"question": "why"})
    assert result.is_error is False
    assert result.structured_content == {"answer": "Q: WHY"}
    assert isinstance(result.content[0], types.TextContent)
    assert json.loads(result.content[0].text) == {"answer": "Q: WHY"}
    # The tool input reached the root task as the run's input.
    assert [call.prompt for call in scripted.calls] == ["Q: why"]


async def test_non_object_output_is_wrapped_in_value():
    shout = define_function(lambda s: s.upper(), input=str, output=str)
    server = create_mcp_server(define_workflow(name="shout", tasks={"s": task(shout)}))
    async with connected(server) as client:
        result = await client.call_tool("shout", {"value": "hi"})
    assert result.is_error is False
    assert result.structured_content == {"value": "HI"}


async def test_input_task_that_is_not_a_root_gets_the_arguments():
    first = define_function(lambda q: Answer(answer="ignored"), input=Question, output=Answer)
    second = define_function(lambda q: Answer(answer=q.question), input=Question, output=Answer)
    workflow = define_workflow(
        name="late",
        tasks={"first": task(first), "second": task(second, depends_on=["first"])},
        mcp={"input_task": "second"},
    )
    server = create_mcp_server(workflow)
    async with connected(server) as client:
        result = await client.call_tool("late", {"question": "arrived"})
    assert result.structured_content == {"answer": "arrived"}


# --- failures -------------------------------------------------------------------------------


async def test_bad_input_is_an_error_result_and_runs_nothing(
    registry: RunnerRegistry, scripted: ScriptedRunner
):
    server = create_mcp_server(ask_workflow(), registry=registry)
    async with connected(server) as client:
        result = await client.call_tool("ask", {"question": 42})
    assert error_code(result) == "INPUT_VALIDATION_FAILED"
    assert read_error(result) is not None
    assert read_error(result)["context"]["issues"][0]["path"] == ["question"]
    assert scripted.calls == []


async def test_unknown_tool_is_workflow_failed(registry: RunnerRegistry):
    server = create_mcp_server(ask_workflow(), registry=registry)
    async with connected(server) as client:
        result = await client.call_tool("nope", {})
    assert error_code(result) == "WORKFLOW_FAILED"
    assert read_error(result) is not None
    assert read_error(result)["context"] == {"name": "nope"}


async def test_output_not_matching_the_schema_is_output_validation_failed():
    loose = define_function(lambda q: {"answer": 5}, input=Question, output=dict)
    strict = define_function(lambda d: d, input=dict, output=dict)
    workflow = define_workflow(
        name="loose",
        tasks={
            "a": task(loose),
            "b": task(strict, depends_on=["a"], input=lambda ctx: ctx["a"].output),
        },
    )
    server = create_mcp_server(workflow)
    server.tools["loose"] = _with_output_type(server, "loose", Answer)
    async with connected(server) as client:
        result = await client.call_tool("loose", {"question": "q"})
    assert error_code(result) == "OUTPUT_VALIDATION_FAILED"


def _with_output_type(server: McpServer, name: str, output_type: Any) -> Any:
    import dataclasses

    from ageflow.mcp_server import tool_schema

    return dataclasses.replace(server.tools[name], output=tool_schema(output_type))


async def test_busy_when_the_start_limit_is_reached(registry: RunnerRegistry):
    started = anyio.Event()
    release = anyio.Event()

    async def blocking(args: Any) -> str:
        started.set()
        await release.wait()
        return json.dumps({"answer": "late"})

    registry = RunnerRegistry({"scripted": ScriptedRunner(blocking)})
    server = create_mcp_server(
        [ask_workflow(), ask_workflow("other")],
        registry=registry,
        concurrency=ConcurrencyConfig(max_concurrent_starts=1),
    )
    results: list[types.CallToolResult] = []
    async with connected(server) as client, anyio.create_task_group() as group:

        async def first() -> None:
            results.append(await client.call_tool("ask", {"question": "a"}))

        group.start_soon(first)
        await started.wait()
        busy = await client.call_tool("other", {"question": "b"})
        release.set()
    assert error_code(busy) == "BUSY"
    assert read_error(busy) is not None
    assert read_error(busy)["context"]["scope"] == "server"
    assert results[0].structured_content == {"answer": "late"}
    # The permit is back: a new call runs.
    async with connected(server) as client:
        again = await client.call_tool("other", {"question": "c"})
    assert again.is_error is False


async def test_max_turns_stops_the_run(registry: RunnerRegistry, scripted: ScriptedRunner):
    workflow = define_workflow(
        name="three",
        tasks={
            "a": task(ask_agent()),
            "b": task(ask_agent(), depends_on=["a"], input=lambda c: Question(question="b")),
        },
    )
    server = create_mcp_server(workflow, registry=registry, ceilings=CliCeilings(max_turns=1))
    async with connected(server) as client:
        result = await client.call_tool("three", {"question": "a"})
    assert error_code(result) == "TURNS_EXCEEDED"
    assert read_error(result) is not None
    assert read_error(result)["context"] == {"maxTurns": 1}
    assert [call.task_name for call in scripted.calls] == ["a"]


async def test_duration_ceiling_stops_the_run_itself():
    cancelled = anyio.Event()

    async def hang(args: Any) -> str:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError

    scripted = ScriptedRunner(hang)
    server = create_mcp_server(
        ask_workflow(max_duration_sec=0.05),
        registry=RunnerRegistry({"scripted": scripted}),
    )
    async with connected(server) as client:
        result = await client.call_tool("ask", {"question": "slow"})
    assert error_code(result) == "DURATION_EXCEEDED"
    # The agent call was cancelled, not left running after the answer (D23).
    assert cancelled.is_set()
    assert scripted.cancelled == ["ask"]
    assert scripted.running == 0


# --- checkpoints ----------------------------------------------------------------------------


async def test_hitl_auto_approves(registry: RunnerRegistry):
    server = create_mcp_server(two_step(hitl=True), registry=registry, hitl="auto")
    async with connected(server) as client:
        result = await client.call_tool("two", {"question": "x"})
    assert result.structured_content == {"answer": "Q: X"}


async def test_hitl_fail_rejects_with_hitl_denied(registry: RunnerRegistry):
    server = create_mcp_server(two_step(hitl=True), registry=registry, hitl="fail")
    async with connected(server) as client:
        result = await client.call_tool("two", {"question": "x"})
    assert error_code(result) == "HITL_DENIED"
    assert read_error(result) is not None
    assert read_error(result)["context"] == {"taskName": "publish"}


@pytest.mark.parametrize(("answer", "ok"), [(True, True), (False, False)])
async def test_on_hitl_decides_instead_of_the_strategy(
    registry: RunnerRegistry, answer: bool, ok: bool
):
    asked: list[tuple[str, str]] = []

    async def on_hitl(task_name: str, message: str) -> bool:
        asked.append((task_name, message))
        return answer

    server = create_mcp_server(
        two_step(hitl=True), registry=registry, hitl="elicit", on_hitl=on_hitl
    )
    async with connected(server) as client:
        result = await client.call_tool("two", {"question": "x"})
    assert asked == [("publish", "Publish it?")]
    assert (result.is_error is False) is ok
    if not ok:
        assert error_code(result) == "HITL_DENIED"


async def test_workflow_hook_approving_skips_on_hitl(registry: RunnerRegistry):
    seen: list[str] = []

    async def on_hitl(task_name: str, message: str) -> bool:
        seen.append("on_hitl")
        return False

    hooks = WorkflowHooks(on_checkpoint=lambda task_name, message: seen.append(task_name) or True)
    server = create_mcp_server(two_step(hitl=True, hooks=hooks), registry=registry, on_hitl=on_hitl)
    async with connected(server) as client:
        result = await client.call_tool("two", {"question": "x"})
    assert result.is_error is False
    assert seen == ["publish"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (types.ElicitResult(action="accept", content={"approved": True}), None),
        (types.ElicitResult(action="accept", content={"approved": False}), "HITL_DENIED"),
        (types.ElicitResult(action="decline"), "HITL_DENIED"),
        (types.ElicitResult(action="cancel"), "HITL_CANCELLED"),
    ],
)
async def test_hitl_elicit_asks_the_client(
    registry: RunnerRegistry, reply: types.ElicitResult, expected: str | None
):
    asked: list[str] = []

    async def elicitation(context: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        return reply

    server = create_mcp_server(two_step(hitl=True), registry=registry, hitl="elicit")
    async with connected(server, elicitation_callback=elicitation) as client:
        result = await client.call_tool("two", {"question": "x"})
    assert asked == ["[publish] Publish it?"]
    if expected is None:
        assert result.structured_content == {"answer": "Q: X"}
    else:
        assert error_code(result) == expected


async def test_hitl_elicit_without_client_support_is_unsupported(registry: RunnerRegistry):
    server = create_mcp_server(two_step(hitl=True), registry=registry, hitl="elicit")
    async with connected(server) as client:
        result = await client.call_tool("two", {"question": "x"})
    assert error_code(result) == "HITL_ELICITATION_UNSUPPORTED"
    assert read_error(result) is not None
    assert read_error(result)["context"] == {"task": "publish"}


# --- progress and middleware ----------------------------------------------------------------


async def test_progress_notifications_reach_the_client(registry: RunnerRegistry):
    messages: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append((progress, message))

    server = create_mcp_server(two_step(hitl=True), registry=registry, hitl="auto")
    async with connected(server) as client:
        result = await client.call_tool("two", {"question": "x"}, progress_callback=on_progress)
    assert result.is_error is False
    phases = [str(message).split(":")[0] for _, message in messages]
    assert phases == [
        "task_started",
        "task_completed",
        "awaiting_approval",
        "task_started",
        "task_completed",
    ]
    assert [progress for progress, _ in messages] == [0, 1, 2, 3, 4]
    assert messages[0][1] == 'task_started: {"task":"draft"}'
    assert messages[2][1] == 'awaiting_approval: {"task":"publish","message":"Publish it?"}'
    completed = json.loads(str(messages[1][1]).removeprefix("task_completed: "))
    assert completed["task"] == "draft"
    assert completed["metrics"]["tokensIn"] == 10  # the scripted runner's token count


async def test_unlimited_ceilings_are_announced(registry: RunnerRegistry):
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(str(message))

    server = create_mcp_server(ask_workflow(limits="unsafe-unlimited"), registry=registry)
    async with connected(server) as client:
        await client.call_tool("ask", {"question": "x"}, progress_callback=on_progress)
    assert messages[0] == 'unlimited_warning: {"axes":["cost","duration","turns"]}'


async def test_task_failure_is_reported_as_progress_and_error_result():
    def boom(q: Question) -> Answer:
        raise RuntimeError("kaput")

    workflow = define_workflow(
        name="boom",
        tasks={"b": task(define_function(boom, input=Question, output=Answer))},
    )
    messages: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        messages.append(str(message))

    server = create_mcp_server(workflow)
    async with connected(server) as client:
        result = await client.call_tool("boom", {"question": "x"}, progress_callback=on_progress)
    assert error_code(result) == "WORKFLOW_FAILED"
    assert "kaput" in str(read_error(result))
    assert any(m.startswith("task_failed:") and "kaput" in m for m in messages)


async def test_middleware_runs_in_order_and_may_short_circuit(registry: RunnerRegistry):
    trail: list[str] = []

    def layer(label: str) -> Any:
        async def middleware(request: ToolCallRequest, call_next: Any) -> dict[str, Any]:
            trail.append(f"{label}>{request.tool_name}")
            result = await call_next(request)
            trail.append(f"<{label}")
            return result

        return middleware

    async def gate(request: ToolCallRequest, call_next: Any) -> dict[str, Any]:
        if request.tool_name == "blocked":
            return {"isError": True, "content": [{"type": "text", "text": "blocked"}]}
        return await call_next(request)

    server = create_mcp_server(
        ask_workflow(), registry=registry, middleware=[layer("outer"), layer("inner"), gate]
    )
    async with connected(server) as client:
        result = await client.call_tool("ask", {"question": "x"})
        blocked = await client.call_tool("blocked", {})
    assert result.structured_content == {"answer": "Q: x"}
    assert blocked.is_error is True
    assert trail == [
        "outer>ask",
        "inner>ask",
        "<inner",
        "<outer",
        "outer>blocked",
        "inner>blocked",
        "<inner",
        "<outer",
    ]


# --- construction ---------------------------------------------------------------------------


def test_construction_errors():
    with pytest.raises(ValueError, match="at least one workflow"):
        create_mcp_server([])
    with pytest.raises(ValueError, match='duplicate workflow name "ask"'):
        create_mcp_server([ask_workflow(), ask_workflow()])
    with pytest.raises(ValueError, match="unknown workflow name"):
        create_mcp_server(ask_workflow(), concurrency=ConcurrencyConfig(per_workflow={"x": 1}))
