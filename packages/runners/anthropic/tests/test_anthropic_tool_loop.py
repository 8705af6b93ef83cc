"""The tool loop over real HTTP: inline tools, instance tools and MCP tools (the test kit's
mock MCP server as a real subprocess), allowlists, errors the model sees, round limits."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from ageflow.core.runner import InlineToolDef, RunnerSpawnArgs
from ageflow.runners.anthropic import (
    AnthropicRunner,
    MaxToolRoundsError,
    McpPoolCollisionError,
    ToolDefinition,
    ToolNotFoundError,
    tools_to_anthropic_schemas,
)
from ageflow.testing.fake_anthropic import FakeAnthropic, tool_use
from ageflow.testing.mock_mcp_config import MockToolSpec

from .conftest import KEY

pytestmark = pytest.mark.anyio


class AddArgs(BaseModel):
    a: int
    b: int


def add_tool(calls: list[AddArgs]) -> InlineToolDef:
    def add(args: AddArgs) -> int:
        calls.append(args)
        return args.a + args.b

    return InlineToolDef(description="Add two integers", parameters=AddArgs, execute=add)


def runner_for(fake: FakeAnthropic, **kwargs: object) -> AnthropicRunner:
    return AnthropicRunner(api_key=KEY, base_url=fake.base_url, model="m", **kwargs)  # type: ignore[arg-type]


def last_tool_results(fake: FakeAnthropic, index: int) -> list[dict[str, object]]:
    message = fake.message_requests[index].body["messages"][-1]
    assert message["role"] == "user"
    return message["content"]


async def test_several_turns_with_inline_and_mcp_tools(fake_anthropic, mcp_config_factory):
    calls: list[AddArgs] = []
    fake_anthropic.use_tools(
        tool_use("tu_1", "add", {"a": "2", "b": 40}), text="Let me add.", usage=(10, 2)
    )
    fake_anthropic.use_tools(tool_use("tu_2", "mcp__mock__echo", {"text": "hi"}), usage=(20, 3))
    fake_anthropic.use_tools(
        tool_use("tu_3", "add", {"a": 1, "b": 1}),
        tool_use("tu_4", "mcp__mock__echo", {"text": "again"}),
        usage=(30, 4),
    )
    fake_anthropic.reply('{"total": 42}', usage=(40, 5))
    async with runner_for(fake_anthropic) as runner:
        result = await runner.spawn(
            RunnerSpawnArgs(
                prompt="compute",
                tools=["add"],
                inline_tools={"add": add_tool(calls)},
                mcp_servers=[mcp_config_factory()],
            )
        )
    assert result.stdout == '{"total": 42}'
    assert (result.tokens_in, result.tokens_out) == (100, 14)
    assert [(c.name, c.result) for c in result.tool_calls or []] == [
        ("add", 42),
        ("mcp__mock__echo", {"content": [{"type": "text", "text": "hi"}], "isError": False}),
        ("add", 2),
        ("mcp__mock__echo", {"content": [{"type": "text", "text": "again"}], "isError": False}),
    ]
    assert calls == [AddArgs(a=2, b=40), AddArgs(a=1, b=1)]  # "2" coerced by the model class
    requests = fake_anthropic.message_requests
    assert len(requests) == 4
    tools = requests[0].body["tools"]
    assert [t["name"] for t in tools] == ["add", "mcp__mock__echo"]
    assert tools[0]["input_schema"]["type"] == "object"
    assert set(tools[0]["input_schema"]["properties"]) == {"a", "b"}
    assert last_tool_results(fake_anthropic, 1) == [
        {"type": "tool_result", "tool_use_id": "tu_1", "content": "42"}
    ]
    echo = last_tool_results(fake_anthropic, 2)[0]
    assert echo["tool_use_id"] == "tu_2" and '"text":"hi"' in str(echo["content"])
    # Both results of one round go back in one user message, in the model's order.
    assert [r["tool_use_id"] for r in last_tool_results(fake_anthropic, 3)] == ["tu_3", "tu_4"]
    # The assistant's tool_use turn is replayed whole, text block included.
    assistant = requests[1].body["messages"][1]
    assert assistant["role"] == "assistant"
    assert [b["type"] for b in assistant["content"]] == ["text", "tool_use"]


async def test_tool_errors_reach_the_model_marked_as_errors(fake_anthropic):
    def kaboom(_: object) -> None:
        raise RuntimeError("kaboom")

    tools = {
        "boom": ToolDefinition("explodes", {}, kaboom),
        "nothing": ToolDefinition("returns None", {}, lambda _: None),
    }
    fake_anthropic.use_tools(
        tool_use("t1", "boom", {}),
        tool_use("t2", "add", {"a": "x", "b": 1}),
        tool_use("t3", "nothing", {}),
    )
    fake_anthropic.reply("recovered")
    async with runner_for(fake_anthropic, tools=tools) as runner:
        result = await runner.spawn(RunnerSpawnArgs(prompt="p", inline_tools={"add": add_tool([])}))
    assert result.stdout == "recovered"
    boom, bad_args, nothing = last_tool_results(fake_anthropic, 1)
    assert boom == {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": "error: kaboom",
        "is_error": True,
    }
    assert bad_args["is_error"] is True
    assert "Inline tool argument validation failed" in str(bad_args["content"])
    assert nothing == {"type": "tool_result", "tool_use_id": "t3", "content": ""}
    # Without an allowlist or MCP tools nothing is advertised, but tools still execute.
    assert "tools" not in fake_anthropic.message_requests[0].body


async def test_unknown_or_filtered_tool_aborts_the_turn(fake_anthropic):
    executed: list[str] = []
    tools = {n: ToolDefinition(n, {}, lambda _, n=n: executed.append(n)) for n in "abc"}
    fake_anthropic.use_tools(tool_use("t1", "c", {}))
    async with runner_for(fake_anthropic, tools=tools) as runner:
        with pytest.raises(ToolNotFoundError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p", tools=["a", "b"]))
    assert info.value.code == "tool_not_found" and info.value.tool_name == "c"
    assert executed == []
    assert [t["name"] for t in fake_anthropic.message_requests[0].body["tools"]] == ["a", "b"]


async def test_deny_all_drops_mcp_tools_too(fake_anthropic, mcp_config_factory):
    fake_anthropic.use_tools(tool_use("t1", "mcp__mock__echo", {"text": "x"}))
    async with runner_for(fake_anthropic) as runner:
        with pytest.raises(ToolNotFoundError):
            await runner.spawn(
                RunnerSpawnArgs(prompt="p", tools=[], mcp_servers=[mcp_config_factory()])
            )
    assert "tools" not in fake_anthropic.message_requests[0].body


async def test_mcp_allowlist_hides_other_tools(fake_anthropic, mcp_config_factory):
    config = mcp_config_factory(
        tools=[MockToolSpec("allowed_tool"), MockToolSpec("exec_anywhere")],
    )
    config = config.model_copy(update={"tools": ["allowed_tool"]})
    fake_anthropic.use_tools(tool_use("t1", "mcp__mock__exec_anywhere", {"cmd": "rm -rf /"}))
    async with runner_for(fake_anthropic) as runner:
        with pytest.raises(ToolNotFoundError):
            await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[config]))
    names = [t["name"] for t in fake_anthropic.message_requests[0].body["tools"]]
    assert names == ["mcp__mock__allowed_tool"]


async def test_round_limit(fake_anthropic):
    tools = {"ping": ToolDefinition("ping", {}, lambda _: "pong")}
    for i in range(3):
        fake_anthropic.use_tools(tool_use(f"t{i}", "ping", {}))
    async with runner_for(fake_anthropic, tools=tools, max_tool_rounds=2) as runner:
        with pytest.raises(MaxToolRoundsError) as info:
            await runner.spawn(RunnerSpawnArgs(prompt="p"))
    assert info.value.code == "tool_loop_exceeded"
    assert len(fake_anthropic.message_requests) == 2


async def test_tool_use_stop_without_blocks_ends_the_turn(fake_anthropic):
    fake_anthropic.respond([{"type": "text", "text": "done"}], stop_reason="tool_use")
    async with runner_for(fake_anthropic) as runner:
        assert (await runner.spawn(RunnerSpawnArgs(prompt="p"))).stdout == "done"


async def test_pooled_mcp_server_is_reused_and_collisions_refused(
    fake_anthropic, mcp_config_factory
):
    pooled = mcp_config_factory(reuse_per_runner=True)
    fake_anthropic.use_tools(tool_use("t1", "mcp__mock__echo", {"text": "1"}))
    fake_anthropic.reply("one")
    fake_anthropic.use_tools(tool_use("t2", "mcp__mock__echo", {"text": "2"}))
    fake_anthropic.reply("two")
    async with runner_for(fake_anthropic) as runner:
        await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[pooled]))
        first = runner._mcp._pool["mock"]
        await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[pooled]))
        assert runner._mcp._pool["mock"] is first and first.alive
        other = pooled.model_copy(update={"args": [*(pooled.args or []), "--x"]})
        with pytest.raises(McpPoolCollisionError):
            await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[other]))
    assert not first.alive  # shutdown stopped the pooled server


def test_schemas_keep_none_and_lists_apart():
    registry = {"echo": ToolDefinition("Echo", {}, lambda _: None)}
    assert tools_to_anthropic_schemas(registry, None) is None
    assert tools_to_anthropic_schemas(registry, []) == []
    assert tools_to_anthropic_schemas(registry, ["unknown"]) == []
    assert tools_to_anthropic_schemas(registry, ["echo", "echo", "x"]) == [
        {"name": "echo", "description": "Echo", "input_schema": {"type": "object"}}
    ]
