"""End to end: a two-agent workflow through WorkflowExecutor on ClaudeRunner and the fake CLI."""

from __future__ import annotations

import pytest

from ageflow.core import RunnerRegistry, WorkflowDef
from ageflow.executor import WorkflowExecutor
from ageflow.runners.claude import ClaudeRunner
from ageflow.testing.fake_cli import claude_json, failure
from ageflow.testing.workflows import Draft, Review, Topic, write_review_workflow

pytestmark = pytest.mark.anyio


def workflow() -> WorkflowDef:
    return write_review_workflow("claude", model="sonnet")


async def test_two_agents_run_through_the_claude_cli(fake_cli) -> None:
    fake_cli.route(
        "claude",
        "^WRITE",
        claude_json('{"draft":"otters are great"}', session_id="sess-w", tokens=(10, 5)),
        on="user_prompt",
    )
    fake_cli.route(
        "claude",
        "^REVIEW",
        claude_json('{"verdict":"approved"}', session_id="sess-w", tokens=(20, 3)),
        on="user_prompt",
    )
    registry = RunnerRegistry({"claude": ClaudeRunner()})

    result = await WorkflowExecutor(workflow(), registry=registry).run(Topic(topic="otters"))

    assert result.outputs["write"] == Draft(draft="otters are great")
    assert result.outputs["review"] == Review(verdict="approved")
    write_call, review_call = fake_cli.calls("claude")
    assert write_call.flag_value("--model") == "sonnet"
    assert "--resume" not in write_call.argv
    # The reviewer shares the writer's session and sees its output.
    assert review_call.flag_value("--resume") == "sess-w"
    assert "REVIEW this draft: otters are great" in review_call.prompt
    assert result.metrics.total_tokens_in == 30


async def test_a_failing_cli_is_retried_as_a_subprocess_error(fake_cli) -> None:
    fake_cli.respond(
        "claude",
        failure(1, stderr="transient"),
        claude_json('{"draft":"d"}'),
        claude_json('{"verdict":"ok"}'),
    )
    registry = RunnerRegistry({"claude": ClaudeRunner()})
    result = await WorkflowExecutor(workflow(), registry=registry).run(Topic(topic="x"))
    assert result.outputs["review"] == Review(verdict="ok")
    assert len(fake_cli.calls("claude")) == 3
