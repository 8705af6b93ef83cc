"""End to end: a two-agent workflow through WorkflowExecutor on CodexRunner and the fake CLI."""

from __future__ import annotations

import pytest

from ageflow.core import RunnerRegistry, WorkflowDef
from ageflow.executor import WorkflowExecutor
from ageflow.runners.codex import CodexRunner
from ageflow.testing.fake_cli import codex_exec, failure
from ageflow.testing.workflows import Draft, Review, Topic, write_review_workflow

pytestmark = pytest.mark.anyio


def workflow() -> WorkflowDef:
    return write_review_workflow("codex", model="gpt-5")


async def test_two_agents_run_through_the_codex_cli(fake_cli) -> None:
    fake_cli.route(
        "codex",
        "^WRITE",
        codex_exec('{"draft":"otters are great"}', thread_id="th-w", tokens=(10, 5)),
        on="user_prompt",
    )
    fake_cli.route(
        "codex",
        "^REVIEW",
        codex_exec('{"verdict":"approved"}', thread_id="th-w", tokens=(20, 3)),
        on="user_prompt",
    )
    registry = RunnerRegistry({"codex": CodexRunner()})

    result = await WorkflowExecutor(workflow(), registry=registry).run(Topic(topic="otters"))

    assert result.outputs["write"] == Draft(draft="otters are great")
    assert result.outputs["review"] == Review(verdict="approved")
    write_call, review_call = fake_cli.calls("codex")
    assert write_call.flag_value("--model") == "gpt-5"
    assert "resume" not in write_call.argv
    # The reviewer shares the writer's session and sees its output.
    assert review_call.flag_value("resume") == "th-w"
    assert "REVIEW this draft: otters are great" in review_call.prompt
    assert result.metrics.total_tokens_in == 30


async def test_a_failing_cli_is_retried_as_a_subprocess_error(fake_cli) -> None:
    fake_cli.respond(
        "codex",
        failure(1, stderr="transient"),
        codex_exec('{"draft":"d"}'),
        codex_exec('{"verdict":"ok"}'),
    )
    registry = RunnerRegistry({"codex": CodexRunner()})
    result = await WorkflowExecutor(workflow(), registry=registry).run(Topic(topic="x"))
    assert result.outputs["review"] == Review(verdict="ok")
    assert len(fake_cli.calls("codex")) == 3
