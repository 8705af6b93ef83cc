"""End to end: a two-agent workflow through the executor on ApiRunner over real HTTP,
and the executor's retry policy acting on the runner's 429 / 5xx classification."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import BaseModel

from ageflow.core import RetryConfig, RunnerRegistry, define_agent, define_workflow, task
from ageflow.executor import WorkflowExecutor
from ageflow.runners.api import ApiRunner

pytestmark = pytest.mark.anyio


class Topic(BaseModel):
    topic: str


class Outline(BaseModel):
    points: list[str]


class Article(BaseModel):
    title: str
    words: int


def workflow(retry: RetryConfig | None = None):
    outline = define_agent(
        runner="api",
        input=Topic,
        output=Outline,
        prompt=lambda t: f"Outline an article about {t.topic}",
        retry=retry,
    )
    write = define_agent(
        runner="api",
        input=Outline,
        output=Article,
        prompt=lambda o: "Write an article from: " + "; ".join(o.points),
        model="writer-model",
        retry=retry,
    )
    return define_workflow(
        name="outline-and-write",
        tasks={
            "outline": task(outline),
            "write": task(write, depends_on=["outline"], input=lambda ctx: ctx["outline"].output),
        },
    )


async def test_two_agent_workflow_runs_on_the_api_runner(fake_openai):
    fake_openai.reply(json.dumps({"points": ["intro", "body"]}), usage=(10, 5))
    fake_openai.reply("```json\n" + json.dumps({"title": "Bees", "words": 420}) + "\n```")
    runner = ApiRunner(base_url=fake_openai.base_url, api_key="sk-e2e", model="default-model")
    executor = WorkflowExecutor(workflow(), registry=RunnerRegistry({"api": runner}))
    try:
        result = await executor.run({"topic": "bees"})
    finally:
        await runner.shutdown()

    assert result.outputs["outline"] == Outline(points=["intro", "body"])
    assert result.outputs["write"] == Article(title="Bees", words=420)
    first, second = fake_openai.chat_requests
    assert first.body["model"] == "default-model"
    assert second.body["model"] == "writer-model"
    assert first.body["messages"][-1]["content"].endswith("Outline an article about bees")
    assert "intro; body" in second.body["messages"][-1]["content"]
    # The executor's output contract travels as the system prompt.
    assert first.body["messages"][0]["role"] == "system"
    assert all(r.header_values("authorization") == ["Bearer sk-e2e"] for r in (first, second))
    assert result.metrics.total_tokens_in >= 10


async def test_executor_retries_429_after_retry_after_and_5xx(fake_openai):
    retry = RetryConfig(max=3, on=["rate_limit", "provider_unavailable"], backoff="linear")
    fake_openai.error(429, "slow down", headers={"Retry-After": "1"})
    fake_openai.reply(json.dumps({"points": ["a"]}))
    fake_openai.error(503, "overloaded")
    fake_openai.reply(json.dumps({"title": "T", "words": 1}))
    runner = ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m")
    executor = WorkflowExecutor(workflow(retry), registry=RunnerRegistry({"api": runner}))
    started = time.monotonic()
    try:
        result = await executor.run({"topic": "x"})
    finally:
        await runner.shutdown()
    elapsed = time.monotonic() - started
    assert result.outputs["write"] == Article(title="T", words=1)
    assert len(fake_openai.chat_requests) == 4
    # Linear backoff waits 0 ms after the first failure, so the wait is the Retry-After.
    assert elapsed >= 0.95


async def test_4xx_is_not_retried_by_the_executor(fake_openai):
    retry = RetryConfig(max=3, on=["rate_limit", "provider_unavailable"], backoff="linear")
    fake_openai.error(400, "bad request")
    runner = ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m")
    executor = WorkflowExecutor(workflow(retry), registry=RunnerRegistry({"api": runner}))
    try:
        with pytest.raises(Exception, match="400"):
            await executor.run({"topic": "x"})
    finally:
        await runner.shutdown()
    assert len(fake_openai.chat_requests) == 1
