"""Inline tools: schema generation, pydantic validation and coercion, merge precedence,
and inline tools inside a real spawn."""

from __future__ import annotations

import datetime

import pytest
from pydantic import BaseModel

from ageflow.core.runner import InlineToolDef, RunnerSpawnArgs
from ageflow.runners.api import (
    ApiRunner,
    ToolDefinition,
    inline_tool_def_to_tool_definition,
    inline_tools_to_registry,
    merge_inline_tools,
)

pytestmark = pytest.mark.anyio


class Named(BaseModel):
    name: str


class Num(BaseModel):
    x: int


class When(BaseModel):
    day: datetime.date


class Msg(BaseModel):
    msg: str


def inline(description: str, params, fn) -> InlineToolDef:
    return InlineToolDef(description=description, parameters=params, execute=fn)


async def test_definition_schema_and_validated_execution():
    received: list[object] = []

    async def double(args: Num) -> int:
        received.append(args)
        return args.x * 2

    definition = inline_tool_def_to_tool_definition(inline("Doubles", Num, double))
    assert definition.description == "Doubles"
    assert definition.parameters["type"] == "object"
    assert definition.parameters["properties"]["x"]["type"] == "integer"
    assert await definition.execute({"x": 5}) == 10
    assert received == [Num(x=5)]

    named = inline_tool_def_to_tool_definition(inline("", Named, lambda a: a.name))
    assert named.parameters["properties"]["name"]["type"] == "string"
    assert await named.execute({"name": "sync result"}) == "sync result"


async def test_invalid_arguments_raise_and_coercion_applies():
    definition = inline_tool_def_to_tool_definition(inline("", Num, lambda a: a.x))
    with pytest.raises(ValueError, match="Inline tool argument validation failed"):
        await definition.execute({"x": "not-a-number"})

    days: list[object] = []
    when = inline_tool_def_to_tool_definition(inline("", When, lambda a: days.append(a.day)))
    await when.execute({"day": "2024-05-01"})
    assert days == [datetime.date(2024, 5, 1)]


def test_merge_precedence_and_no_mutation():
    instance = {
        "inst": ToolDefinition("instance", {}, lambda a: "i"),
        "shared_tool": ToolDefinition("instance shared", {}, lambda a: "i"),
    }
    before = dict(instance)
    agent = {
        "agent_only": inline("agent", Named, lambda a: "a"),
        "shared_tool": inline("agent shared", Named, lambda a: "a"),
    }
    per_call = {"shared_tool": inline("per-call shared", Named, lambda a: "p")}

    assert merge_inline_tools(instance, None, None).keys() == {"inst", "shared_tool"}
    merged_agent = merge_inline_tools(instance, agent, None)
    assert merged_agent["shared_tool"].description == "agent shared"
    assert "agent_only" in merged_agent
    merged_all = merge_inline_tools(instance, agent, per_call)
    assert merged_all["shared_tool"].description == "per-call shared"
    assert set(merged_all) == {"inst", "shared_tool", "agent_only"}
    assert instance == before


def test_inline_tools_to_registry_converts_every_entry():
    reg = inline_tools_to_registry(
        {"foo": inline("Foo", Named, lambda a: 1), "bar": inline("Bar", Named, lambda a: 2)}
    )
    assert sorted(reg) == ["bar", "foo"]
    assert reg["foo"].description == "Foo" and reg["bar"].description == "Bar"


async def test_spawn_runs_inline_tool_and_beats_instance_tool(fake_openai, make_tool_call):
    received: list[object] = []
    instance_calls: list[object] = []

    async def echo(args: Msg) -> str:
        received.append(args.model_dump())
        return f"echo:{args.msg}"

    fake_openai.call_tools(make_tool_call("c1", "echo_tool", {"msg": "hello"}))
    fake_openai.reply("final answer")
    instance = {"echo_tool": ToolDefinition("instance", {}, instance_calls.append)}
    async with ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", tools=instance
    ) as runner:
        result = await runner.spawn(
            RunnerSpawnArgs(
                prompt="p",
                tools=["echo_tool"],
                inline_tools={"echo_tool": inline("Echo", Msg, echo)},
            )
        )
    assert result.stdout == "final answer"
    assert received == [{"msg": "hello"}]
    assert instance_calls == []
    assert len(fake_openai.chat_requests) == 2
    advertised = fake_openai.chat_requests[0].body["tools"][0]["function"]
    assert advertised["description"] == "Echo"
    assert advertised["parameters"]["properties"]["msg"]["type"] == "string"


async def test_invalid_inline_argument_goes_back_to_the_model(fake_openai, make_tool_call):
    fake_openai.call_tools(make_tool_call("c1", "double", {"x": "nope"}))
    fake_openai.reply("sorry, fixed")
    async with ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m") as runner:
        result = await runner.spawn(
            RunnerSpawnArgs(prompt="p", inline_tools={"double": inline("", Num, lambda a: a.x * 2)})
        )
    assert result.stdout == "sorry, fixed"
    tool_message = fake_openai.chat_requests[1].body["messages"][-1]
    assert tool_message["role"] == "tool"
    assert tool_message["content"].startswith("error: Inline tool argument validation failed")
    assert len(fake_openai.chat_requests) == 2
