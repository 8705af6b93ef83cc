"""examples/claude, examples/codex, examples/api: each runs end to end against a fake.

The CLI examples run their real runner against the test kit's fake ``claude``/``codex``
executables on PATH; the API example talks real HTTP to a small fake OpenAI-compatible
server on 127.0.0.1. Each example registers its runner on the default registry when it
is imported, so every test loads the module afresh (after setting the environment it
reads) and puts the default registry back afterwards.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from ageflow.core import NodeMaxRetriesError
from ageflow.core.registry import default_registry, get_runner
from ageflow.executor import WorkflowExecutor
from ageflow.mcp_server.tool_definition import build_tool_definition
from ageflow.runners.api import ApiRunner
from ageflow.runners.claude import ClaudeRunner
from ageflow.runners.codex import CodexRunner
from ageflow.testing.fake_cli import claude_json

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
_loads = itertools.count()


@pytest.fixture(autouse=True)
def restore_default_registry() -> Iterator[None]:
    before = dict(default_registry.runners)
    yield
    for name in list(default_registry):
        default_registry.unregister(name)
    for name, runner in before.items():
        default_registry.register(name, runner)


def load_example(kind: str) -> ModuleType:
    """Import examples/<kind>/workflow.py afresh under a module name of its own.

    The module is deliberately not put in ``sys.modules``: a loader that skips that step
    must still get fully defined pydantic models (nested ones included).
    """
    name = f"example_{kind}_workflow_{next(_loads)}"
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / kind / "workflow.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert name not in sys.modules
    return module


# --- claude ------------------------------------------------------------------------------


async def test_claude_example_triages_an_issue_through_the_cli(fake_cli, monkeypatch) -> None:
    monkeypatch.delenv("AGEFLOW_CLAUDE_MODEL", raising=False)
    example = load_example("claude")
    assert isinstance(get_runner("claude"), ClaudeRunner)
    fake_cli.respond_claude(
        '{"kind": "bug", "severity": 1, "summary": "Saving a file deletes it."}',
        tokens=(120, 30),
    )

    result = await WorkflowExecutor(example.workflow).run(
        {"title": "Save deletes my file", "body": "Clicking save removes the file from disk."}
    )

    assert result.outputs["route"] == example.Routing(
        team="engineering",
        labels=["bug", "severity-1"],
        page_on_call=True,
        summary="Saving a file deletes it.",
    )
    (call,) = fake_cli.calls("claude")
    assert "Title: Save deletes my file" in call.prompt
    assert "Clicking save removes the file from disk." in call.prompt
    assert call.flag_value("--tools") == ""  # tools=[]: no tool at all
    assert "--model" not in call.argv
    assert result.metrics.total_tokens_in == 120


async def test_claude_example_retries_an_answer_that_does_not_fit(fake_cli, monkeypatch) -> None:
    monkeypatch.setenv("AGEFLOW_CLAUDE_MODEL", "sonnet")
    example = load_example("claude")
    fake_cli.respond(
        "claude",
        claude_json('{"kind": "bug", "severity": 9, "summary": "Out of range."}'),
        claude_json('{"kind": "feature", "severity": 3, "summary": "Add dark mode."}'),
    )

    result = await WorkflowExecutor(example.workflow).run({"title": "Dark mode please"})

    routing = result.outputs["route"]
    assert (routing.team, routing.labels, routing.page_on_call) == (
        "product",
        ["feature", "severity-3"],
        False,
    )
    calls = fake_cli.calls("claude")
    assert len(calls) == 2
    assert all(call.flag_value("--model") == "sonnet" for call in calls)


# --- codex -------------------------------------------------------------------------------

DIFF = """--- a/app.py
+++ b/app.py
@@ -1,2 +1,2 @@
-def total(xs): return sum(xs) + 1
+def total(xs): return sum(xs)
"""


async def test_codex_example_writes_a_commit_message_through_the_cli(fake_cli) -> None:
    example = load_example("codex")
    assert isinstance(get_runner("codex"), CodexRunner)
    fake_cli.respond_codex(
        json.dumps(
            {
                "type": "fix",
                "subject": "stop adding one to every total.",
                "body": "Totals were off by one since the first release.",
            }
        ),
        tokens=(200, 40),
    )

    result = await WorkflowExecutor(example.workflow).run({"diff": DIFF, "scope": "billing"})

    message = result.outputs["format"]
    assert message.subject_line == "fix(billing): stop adding one to every total"
    assert message.message == (
        "fix(billing): stop adding one to every total\n\n"
        "Totals were off by one since the first release.\n"
    )
    (call,) = fake_cli.calls("codex")
    assert call.flag_value("--sandbox") == "read-only"
    assert "--skip-git-repo-check" in call.argv
    assert "-def total(xs): return sum(xs) + 1" in call.prompt
    assert "Use the scope 'billing'." in call.prompt


async def test_codex_example_refuses_a_subject_over_72_characters(fake_cli) -> None:
    example = load_example("codex")
    too_long = {"type": "feat", "subject": "x" * 73, "body": ""}
    fake_cli.respond_codex(json.dumps(too_long))

    with pytest.raises(NodeMaxRetriesError) as caught:
        await WorkflowExecutor(example.workflow).run({"diff": DIFF})

    assert caught.value.task_name == "draft"
    assert len(fake_cli.calls("codex")) == 2  # the answer was retried once, then refused


# --- api ---------------------------------------------------------------------------------


async def test_api_example_extracts_action_items_over_http(fake_openai, monkeypatch) -> None:
    monkeypatch.setenv("AGEFLOW_API_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("AGEFLOW_API_MODEL", "local-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    example = load_example("api")
    assert get_runner("api") is example.runner
    fake_openai.reply(
        json.dumps(
            {
                "items": [
                    {"owner": "Ana", "task": "Send the budget draft", "due": "Friday"},
                    {"owner": "unassigned", "task": "Book a room for the offsite"},
                ]
            }
        ),
        usage=(50, 12),
    )
    notes = "Ana will send the budget draft by Friday. Someone should book a room."

    try:
        result = await WorkflowExecutor(example.workflow).run({"notes": notes})
    finally:
        await example.runner.shutdown()

    assert result.outputs["extract"] == example.ActionItems(
        items=[
            example.ActionItem(owner="Ana", task="Send the budget draft", due="Friday"),
            example.ActionItem(owner="unassigned", task="Book a room for the offsite", due=None),
        ]
    )
    (request,) = fake_openai.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.header_values("authorization") == ["Bearer sk-test"]
    assert request.body["model"] == "local-model"
    assert notes in request.body["messages"][-1]["content"]
    assert result.metrics.total_tokens_in == 50


async def test_api_example_retries_an_invalid_answer(fake_openai, monkeypatch) -> None:
    monkeypatch.setenv("AGEFLOW_API_BASE_URL", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    example = load_example("api")
    fake_openai.reply("Sure! Here are the items: none.")
    fake_openai.reply('{"items": []}')

    try:
        result = await WorkflowExecutor(example.workflow).run({"notes": "We chatted."})
    finally:
        await example.runner.shutdown()

    assert result.outputs["extract"] == example.ActionItems(items=[])
    assert len(fake_openai.chat_requests) == 2


def test_api_example_defaults_to_openai(monkeypatch) -> None:
    for name in ("AGEFLOW_API_BASE_URL", "AGEFLOW_API_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    example = load_example("api")
    runner = get_runner("api")
    assert isinstance(runner, ApiRunner)
    assert (runner.base_url, runner.model) == ("https://api.openai.com/v1", "gpt-4o-mini")
    assert example.runner is runner


# --- all three ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "tool", "input_fields", "output_fields"),
    [
        ("claude", "triage_issue", ["title", "body"], ["team", "labels", "page_on_call"]),
        ("codex", "commit_message", ["diff", "scope"], ["message", "subject_line"]),
        ("api", "action_items", ["notes"], ["items"]),
    ],
)
def test_each_runner_example_is_one_mcp_tool(kind, tool, input_fields, output_fields) -> None:
    definition = build_tool_definition(load_example(kind).workflow, async_mode=True)
    assert definition.name == tool
    assert list(definition.input_schema["properties"]) == input_fields
    assert set(output_fields) <= set(definition.output_schema["properties"])
