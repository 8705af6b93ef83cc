"""End to end through the executor: AnthropicRunner over real HTTP on FakeAnthropic, with a
session shared by two tasks, the retry policy acting on a 529, output validation of the
model's JSON, and cost in the task metrics."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from ageflow.core import (
    RetryConfig,
    RunnerRegistry,
    define_agent,
    define_workflow,
    session_token,
    share_session_with,
    task,
)
from ageflow.executor import WorkflowExecutor
from ageflow.runners.anthropic import AnthropicRunner
from ageflow.testing.fake_anthropic import FakeAnthropic

from .conftest import KEY

pytestmark = pytest.mark.anyio


class Topic(BaseModel):
    topic: str


class Outline(BaseModel):
    points: list[str]


class Article(BaseModel):
    title: str
    words: int


def workflow(retry: RetryConfig | None = None, *, shared: bool = False):
    outline = define_agent(
        runner="anthropic",
        input=Topic,
        output=Outline,
        prompt=lambda t: f"Outline an article about {t.topic}",
        model="claude-sonnet-4-6",
        retry=retry,
    )
    write = define_agent(
        runner="anthropic",
        input=Outline,
        output=Article,
        prompt=lambda o: "Write it from: " + "; ".join(o.points),
        model="claude-sonnet-4-6",
        retry=retry,
    )
    token = session_token("article", "anthropic") if shared else None
    return define_workflow(
        name="outline-and-write",
        tasks={
            "outline": task(outline, session=token),
            "write": task(
                write,
                depends_on=["outline"],
                input=lambda ctx: ctx["outline"].output,
                session=share_session_with("outline") if shared else None,
            ),
        },
    )


def executor_for(fake: FakeAnthropic, flow) -> tuple[WorkflowExecutor, AnthropicRunner]:
    runner = AnthropicRunner(api_key=KEY, base_url=fake.base_url)
    return WorkflowExecutor(flow, registry=RunnerRegistry({"anthropic": runner})), runner


async def test_session_shared_by_two_tasks_continues_the_conversation(fake_anthropic):
    fake_anthropic.reply(json.dumps({"points": ["intro", "body"]}), usage=(10, 5))
    fake_anthropic.reply(
        "```json\n" + json.dumps({"title": "Bees", "words": 420}) + "\n```",
        usage={
            "input_tokens": 20,
            "output_tokens": 8,
            "cache_read_input_tokens": 1000,
        },
    )
    executor, runner = executor_for(fake_anthropic, workflow(shared=True))
    async with runner:
        result = await executor.run({"topic": "bees"})
    assert result.outputs["write"] == Article(title="Bees", words=420)
    first, second = fake_anthropic.message_requests
    # The executor's output contract travels as the system field of each request.
    assert "system" in first.body and "system" in second.body
    messages = second.body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"].endswith("Outline an article about bees")
    assert "intro; body" in messages[2]["content"]
    # Cache reads count as prompt tokens, so they reach the totals and the cost estimate.
    assert result.metrics.total_tokens_in == 10 + 20 + 1000
    assert result.metrics.total_tokens_out == 13
    assert result.metrics.total_estimated_cost > 0


async def test_tasks_without_a_shared_session_start_fresh(fake_anthropic):
    fake_anthropic.reply(json.dumps({"points": ["a"]}))
    fake_anthropic.reply(json.dumps({"title": "T", "words": 1}))
    executor, runner = executor_for(fake_anthropic, workflow())
    async with runner:
        await executor.run({"topic": "x"})
    assert len(fake_anthropic.message_requests[1].body["messages"]) == 1


async def test_529_then_success_under_the_retry_policy(fake_anthropic):
    retry = RetryConfig(max=3, on=["provider_unavailable"], backoff="linear")
    fake_anthropic.overloaded()
    fake_anthropic.reply(json.dumps({"points": ["a"]}))
    fake_anthropic.reply(json.dumps({"title": "T", "words": 1}))
    executor, runner = executor_for(fake_anthropic, workflow(retry))
    async with runner:
        result = await executor.run({"topic": "x"})
    assert result.outputs["write"] == Article(title="T", words=1)
    assert len(fake_anthropic.message_requests) == 3  # one 529, then two answers


async def test_529_is_not_retried_without_a_policy_for_it(fake_anthropic):
    fake_anthropic.overloaded()
    executor, runner = executor_for(fake_anthropic, workflow(RetryConfig(max=3, on=["rate_limit"])))
    async with runner:
        with pytest.raises(Exception, match="529") as info:
            await executor.run({"topic": "x"})
    assert "overloaded_error" in str(info.value)
    assert len(fake_anthropic.message_requests) == 1


async def test_401_fails_the_run_with_the_typed_error(fake_anthropic):
    flow = workflow(RetryConfig(max=3, on=["rate_limit", "provider_unavailable"]))
    runner = AnthropicRunner(api_key="sk-wrong", base_url=fake_anthropic.base_url)
    executor = WorkflowExecutor(flow, registry=RunnerRegistry({"anthropic": runner}))
    async with runner:
        with pytest.raises(Exception, match="401") as info:
            await executor.run({"topic": "x"})
    chain = [info.value, info.value.__cause__, getattr(info.value, "cause", None)]
    assert any(getattr(e, "code", None) == "anthropic_auth_failed" for e in chain)
    assert len(fake_anthropic.message_requests) == 1


async def test_malformed_json_output_is_reported_clearly(fake_anthropic):
    fake_anthropic.reply('{"points": ["unterminated"')
    executor, runner = executor_for(fake_anthropic, workflow(RetryConfig(max=1)))
    async with runner:
        with pytest.raises(Exception, match="invalid agent output") as info:
            await executor.run({"topic": "x"})
    assert 'Task "outline"' in str(info.value)
    assert len(fake_anthropic.message_requests) == 1


async def test_output_that_breaks_the_schema_is_retried_when_asked(fake_anthropic):
    retry = RetryConfig(max=2, on=["output_validation_error"], backoff="linear")
    fake_anthropic.reply(json.dumps({"points": "not a list"}))
    fake_anthropic.reply(json.dumps({"points": ["ok"]}))
    fake_anthropic.reply(json.dumps({"title": "T", "words": 3}))
    executor, runner = executor_for(fake_anthropic, workflow(retry))
    async with runner:
        result = await executor.run({"topic": "x"})
    assert result.outputs["outline"] == Outline(points=["ok"])
