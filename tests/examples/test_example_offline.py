"""examples/offline: the release-note workflow runs end to end and is one MCP tool."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import anyio
import pytest

from ageflow.executor import (
    HitlRejectedError,
    StepRecord,
    WorkflowAbortedError,
    WorkflowExecutor,
)
from ageflow.mcp_server import ErrorCode, McpServerError
from ageflow.mcp_server.tool_definition import build_tool_definition, validate_tool_input

pytestmark = pytest.mark.anyio

WORKFLOW_FILE = Path(__file__).resolve().parents[2] / "examples" / "offline" / "workflow.py"

LONG_TEXT = (
    "We  really just rewrote the scheduler, so runs start faster.\n"
    "Basically every task now starts as soon as its own dependencies finish. "
    "Loops emit events for each iteration. Checkpoints survive restarts, which is quite nice."
)


def load_example() -> ModuleType:
    name = "example_offline_workflow"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, WORKFLOW_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


example = load_example()


async def run_collecting(input, *, approve=True, journal=None, on_step_complete=None):
    """Run the workflow; return (events, result or the raised error)."""
    events = []
    outcome = None
    try:
        async with WorkflowExecutor(example.workflow).stream(
            input,
            on_checkpoint=lambda event: approve,
            journal=journal,
            on_step_complete=on_step_complete,
        ) as stream:
            async for event in stream:
                events.append(event)
        outcome = stream.result
    except Exception as exc:
        outcome = exc
    return events, outcome


def of_type(events, kind):
    return [e for e in events if e.type == kind]


async def test_an_approved_note_is_tightened_to_the_limit_and_published() -> None:
    events, result = await run_collecting(
        {"title": "  Scheduler   2.0 ", "text": LONG_TEXT, "max_words": 20}
    )

    note = result.outputs["publish"]
    assert note == example.ReleaseNote(
        title="Scheduler 2.0",
        summary="We rewrote the scheduler, so runs start faster. "
        "Every task now starts as soon as its own dependencies finish.",
        words=19,
        edits=["removed filler words", "dropped trailing sentences"],
    )
    # Two passes of the loop: one per edit, then the stop condition held.
    iterations = of_type(events, "loop:iteration")
    assert [(e.task_name, e.iteration, e.max) for e in iterations] == [
        ("tighten", 0, 3),
        ("tighten", 1, 3),
    ]
    shortened = [e.step_key for e in of_type(events, "task:complete") if "shorten" in e.step_key]
    assert shortened == ["tighten[0]/shorten", "tighten[1]/shorten"]
    # The approval is asked after render finished and before publish starts.
    order = [(e.type, getattr(e, "task_name", "")) for e in events]
    checkpoint = order.index(("checkpoint", "publish"))
    assert order.index(("task:complete", "render")) < checkpoint
    assert checkpoint < order.index(("task:start", "publish"))
    (asked,) = of_type(events, "checkpoint")
    assert asked.message == "Publish this note?"


async def test_the_same_input_gives_the_same_note() -> None:
    request = {"title": "Scheduler 2.0", "text": LONG_TEXT, "max_words": 20}
    _, first = await run_collecting(request)
    _, second = await run_collecting(request)
    assert first.outputs["publish"] == second.outputs["publish"]


async def test_a_single_long_sentence_takes_every_edit_and_ends_at_the_limit() -> None:
    text = "This release is really " + " ".join(f"word{i}," for i in range(40)) + " and more."
    events, result = await run_collecting({"title": "Long", "text": text, "max_words": 8})

    note = result.outputs["publish"]
    assert note.words == 8
    assert note.summary == "This release is word0, word1, word2, word3, word4…"
    assert note.edits == ["removed filler words", "cut to the word limit"]
    assert len(of_type(events, "loop:iteration")) == 2


async def test_every_edit_in_turn_when_each_is_needed() -> None:
    text = "It is very good and fast and small. Then " + "x " * 30 + "end."
    events, result = await run_collecting({"title": "T", "text": text, "max_words": 5})

    assert result.outputs["publish"].edits == [
        "removed filler words",
        "dropped trailing sentences",
        "cut to the word limit",
    ]
    assert result.outputs["publish"].summary == "It is good and fast…"
    assert len(of_type(events, "loop:iteration")) == 3


async def test_a_note_within_the_limit_needs_one_pass_and_no_edit() -> None:
    events, result = await run_collecting({"title": "Fix", "text": "Fixed a crash on exit"})

    note = result.outputs["publish"]
    assert note == example.ReleaseNote(
        title="Fix", summary="Fixed a crash on exit.", words=5, edits=[]
    )
    assert len(of_type(events, "loop:iteration")) == 1


async def test_a_rejected_note_is_not_published() -> None:
    events, outcome = await run_collecting({"title": "T", "text": "Some text."}, approve=False)

    assert isinstance(outcome, HitlRejectedError)
    assert outcome.code == "hitl_rejected"
    assert "publish" in str(outcome)
    completed = [e.task_name for e in of_type(events, "task:complete")]
    assert "render" in completed and "publish" not in completed
    (failed,) = of_type(events, "task:error")
    assert failed.task_name == "publish"


async def test_a_later_run_resumes_from_the_journal_without_redoing_steps() -> None:
    """What a server restart relies on: finished steps come back from the journal."""
    saved: dict[str, StepRecord] = {}

    async def commit(step: StepRecord) -> None:
        saved[step.step_key] = step

    request = {"title": "Scheduler 2.0", "text": LONG_TEXT, "max_words": 20}
    _, rejected = await run_collecting(request, approve=False, on_step_complete=commit)
    assert isinstance(rejected, HitlRejectedError)
    assert set(saved) == {"normalise", "tighten[0]/shorten", "tighten[1]/shorten", "render"}

    events, result = await run_collecting(request, journal=saved)

    restored = [e.step_key for e in of_type(events, "task:restored")]
    assert restored == ["normalise", "tighten[0]/shorten", "tighten[1]/shorten", "render"]
    assert [e.task_name for e in of_type(events, "task:start") if e.task_name != "tighten"] == [
        "publish"
    ]
    assert result.outputs["publish"].words == 19


async def test_render_waits_the_delay_and_can_be_cancelled_while_it_does() -> None:
    executor = WorkflowExecutor(example.workflow)
    request = {"title": "T", "text": "Some text.", "delay_seconds": 30}
    seen = []
    with anyio.fail_after(10), pytest.raises(WorkflowAbortedError):
        async with executor.stream(request, on_checkpoint=lambda e: True) as stream:
            async for event in stream:
                seen.append((event.type, getattr(event, "task_name", "")))
                if seen[-1] == ("task:start", "render"):
                    stream.cancel()
    # Cancelled while render slept: it never completed and nothing asked for approval.
    assert ("task:complete", "render") not in seen
    assert ("checkpoint", "publish") not in seen


def test_the_workflow_is_one_mcp_tool_with_the_documented_schemas() -> None:
    for async_mode in (False, True):
        tool = build_tool_definition(example.workflow, async_mode=async_mode)
        assert tool.name == "release_note"
        assert tool.input_task.path == ("normalise",)
        assert tool.output_task.path == ("publish",)
        assert not tool.input.wrapped and not tool.output.wrapped

    schema = tool.input_schema
    assert list(schema["properties"]) == ["title", "text", "max_words", "delay_seconds"]
    assert schema["required"] == ["title", "text"]
    delay = schema["properties"]["delay_seconds"]
    assert (delay["type"], delay["default"], delay["minimum"], delay["maximum"]) == (
        "number",
        0,
        0,
        30,
    )
    assert schema["properties"]["max_words"]["default"] == 25
    assert tool.output_schema["required"] == ["title", "summary", "words", "edits"]


@pytest.mark.parametrize(
    "arguments",
    [
        {"title": "T", "text": "x", "delay_seconds": 31},
        {"title": "T", "text": "x", "delay_seconds": -1},
        {"title": "T", "text": "   "},
        {"title": "T"},
    ],
)
def test_the_tool_refuses_bad_arguments(arguments) -> None:
    tool = build_tool_definition(example.workflow)
    with pytest.raises(McpServerError) as caught:
        validate_tool_input(tool, arguments)
    assert caught.value.code == ErrorCode.INPUT_VALIDATION_FAILED


def readme_blocks(language: str) -> list[str]:
    text = (WORKFLOW_FILE.parent / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


async def test_the_readme_example_input_gives_the_documented_output() -> None:
    documented_input, documented_output = (json.loads(b) for b in readme_blocks("json"))
    _, result = await run_collecting(documented_input)
    assert result.outputs["publish"].model_dump() == documented_output


def test_the_readme_python_snippet_runs_from_the_repository_root() -> None:
    (snippet,) = readme_blocks("python")
    done = subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=WORKFLOW_FILE.parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "summary='Fixed a crash on exit.' words=5" in done.stdout
