"""The tool-calling loop through ApiRunner over real HTTP: execution, errors, round limit,
allowlists and what is advertised to the model."""

from __future__ import annotations

import json

import pytest

from ageflow.core.runner import RunnerSpawnArgs
from ageflow.runners.api import ApiRunner, MaxToolRoundsError, ToolDefinition, ToolNotFoundError

pytestmark = pytest.mark.anyio

OBJ = {"type": "object", "properties": {"s": {"type": "string"}}}


def registry(calls: list[tuple[str, object]]) -> dict[str, ToolDefinition]:
    def make(name: str) -> ToolDefinition:
        def run(args: object) -> str:
            calls.append((name, args))
            return f"{name}-ran"

        return ToolDefinition(f"tool {name}", OBJ, run)

    return {n: make(n) for n in ("a", "b", "c")}


async def test_one_tool_round_then_answer(fake_openai, make_tool_call):
    async def echo(args):
        return f"echoed:{args['s']}"

    fake_openai.call_tools(make_tool_call("c1", "echo", {"s": "hi"}), usage=(6, 2))
    fake_openai.reply("done", usage=(7, 5))
    tools = {"echo": ToolDefinition("Echo", OBJ, echo)}
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m", tools=tools) as r:
        result = await r.spawn(RunnerSpawnArgs(prompt="p", tools=["echo"]))
    assert result.stdout == "done"
    assert (result.tokens_in, result.tokens_out) == (13, 7)
    assert [(c.name, c.args, c.result) for c in result.tool_calls] == [
        ("echo", {"s": "hi"}, "echoed:hi")
    ]
    assert result.tool_calls[0].duration_ms >= 0
    first, second = fake_openai.chat_requests
    assert first.body["tools"] == [
        {"type": "function", "function": {"name": "echo", "description": "Echo", "parameters": OBJ}}
    ]
    tail = second.body["messages"][-2:]
    assert tail[0]["role"] == "assistant" and tail[0]["content"] == ""
    assert tail[0]["tool_calls"][0]["id"] == "c1"
    assert tail[1] == {"role": "tool", "tool_call_id": "c1", "content": "echoed:hi"}


async def test_failing_tool_becomes_an_error_result_and_loop_continues(fake_openai, make_tool_call):
    def boom(args):
        raise RuntimeError("kaboom")

    fake_openai.call_tools(make_tool_call("c1", "boom", {}))
    fake_openai.reply("recovered")
    tools = {"boom": ToolDefinition("", OBJ, boom)}
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m", tools=tools) as r:
        result = await r.spawn(RunnerSpawnArgs(prompt="p"))
    assert result.stdout == "recovered"
    assert result.tool_calls[0].result == "error: kaboom"
    assert fake_openai.chat_requests[1].body["messages"][-1]["content"] == "error: kaboom"


async def test_unknown_tool_aborts_the_turn(fake_openai, make_tool_call):
    calls: list[tuple[str, object]] = []
    fake_openai.call_tools(make_tool_call("c1", "a", {}), make_tool_call("c2", "nope", {}))
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", tools=registry(calls)
    ) as r:
        with pytest.raises(ToolNotFoundError) as info:
            await r.spawn(RunnerSpawnArgs(prompt="p"))
    assert info.value.tool_name == "nope" and info.value.code == "tool_not_found"
    assert calls == [("a", {})]  # the earlier call of the round already ran
    assert len(fake_openai.chat_requests) == 1


async def test_allowlist_filters_the_registry(fake_openai, make_tool_call):
    calls: list[tuple[str, object]] = []
    fake_openai.call_tools(make_tool_call("c1", "c", {}))
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", tools=registry(calls)
    ) as r:
        with pytest.raises(ToolNotFoundError):
            await r.spawn(RunnerSpawnArgs(prompt="p", tools=["a", "b"]))
    assert calls == []
    advertised = [t["function"]["name"] for t in fake_openai.chat_requests[0].body["tools"]]
    assert advertised == ["a", "b"]


async def test_allowlist_runs_the_allowed_tool(fake_openai, make_tool_call):
    calls: list[tuple[str, object]] = []
    fake_openai.call_tools(make_tool_call("c1", "a", {}))
    fake_openai.reply("done")
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", tools=registry(calls)
    ) as r:
        result = await r.spawn(RunnerSpawnArgs(prompt="p", tools=["a", "unknown", "a"]))
    assert result.stdout == "done"
    assert [c.name for c in result.tool_calls] == ["a"]
    advertised = [t["function"]["name"] for t in fake_openai.chat_requests[0].body["tools"]]
    assert advertised == ["a"]  # unknown names skipped, duplicates advertised once


async def test_deny_all_sends_no_tools_and_refuses_every_call(fake_openai, make_tool_call):
    calls: list[tuple[str, object]] = []
    fake_openai.call_tools(make_tool_call("c1", "a", {}))
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", tools=registry(calls)
    ) as r:
        with pytest.raises(ToolNotFoundError):
            await r.spawn(RunnerSpawnArgs(prompt="p", tools=[]))
    assert "tools" not in fake_openai.chat_requests[0].body
    assert calls == []


async def test_no_allowlist_means_not_advertised_but_executable(fake_openai, make_tool_call):
    calls: list[tuple[str, object]] = []
    fake_openai.call_tools(make_tool_call("c1", "b", {"s": "x"}))
    fake_openai.reply("ok")
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", tools=registry(calls)
    ) as r:
        await r.spawn(RunnerSpawnArgs(prompt="p"))
    assert "tools" not in fake_openai.chat_requests[0].body
    assert calls == [("b", {"s": "x"})]


async def test_round_limit(fake_openai, make_tool_call):
    calls: list[tuple[str, object]] = []
    for i in range(5):
        fake_openai.call_tools(make_tool_call(f"c{i}", "a", {}))
    async with ApiRunner(
        base_url=fake_openai.base_url,
        api_key="k",
        model="m",
        tools=registry(calls),
        max_tool_rounds=2,
    ) as r:
        with pytest.raises(MaxToolRoundsError, match="Tool loop exceeded max rounds: 2") as info:
            await r.spawn(RunnerSpawnArgs(prompt="p", session_handle="s"))
        assert await r.session_store.get("s") is None
    assert info.value.code == "tool_loop_exceeded"
    assert len(fake_openai.chat_requests) == 2
    assert len(calls) == 2


async def test_argument_decoding_and_result_serialisation(fake_openai, make_tool_call):
    seen: list[object] = []

    def record(args):
        seen.append(args)
        return None if len(seen) == 1 else {"n": 1, "ü": [True]}

    fake_openai.call_tools(make_tool_call("c1", "t", ""), make_tool_call("c2", "t", "{not json"))
    fake_openai.reply("done")
    tools = {"t": ToolDefinition("", OBJ, record)}
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m", tools=tools) as r:
        await r.spawn(RunnerSpawnArgs(prompt="p"))
    assert seen == [{}, {"__raw": "{not json"}]
    tool_messages = [
        m for m in fake_openai.chat_requests[1].body["messages"] if m["role"] == "tool"
    ]
    assert tool_messages[0]["content"] == ""  # a None result still sends content
    assert tool_messages[1]["content"] == json.dumps(
        {"n": 1, "ü": [True]}, separators=(",", ":"), ensure_ascii=False
    )


async def test_caller_messages_are_not_mutated():
    # The loop copies its input; a resumed history must not grow behind the caller's back.
    import httpx

    from ageflow.runners.api import run_tool_loop

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": "x"}}]})

    messages = [{"role": "user", "content": "p"}]
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        result = await run_tool_loop(
            client=client,
            base_url="https://x.test/v1",
            api_key="k",
            headers={},
            model="m",
            messages=messages,
            tools=None,
            registry={},
            max_rounds=1,
            request_timeout_s=5,
        )
    assert messages == [{"role": "user", "content": "p"}]
    assert len(result.messages) == 2
