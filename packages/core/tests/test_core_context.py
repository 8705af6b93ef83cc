"""CtxEntry and TaskContext: what input callbacks, skip_if and until predicates read."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from ageflow.core import LOOP_FEEDBACK_KEY, CtxEntry, TaskContext


def test_ctx_entry_attribute_access() -> None:
    entry = CtxEntry(output={"label": "bug"}, source="agent", tokens_in=12, tokens_out=34)
    assert entry.output == {"label": "bug"}
    assert entry.source == "agent"
    assert (entry.tokens_in, entry.tokens_out) == (12, 34)


def test_ctx_entry_item_access_with_the_original_keys() -> None:
    entry = CtxEntry(output=[1, 2], source="function", tokens_in=5, tokens_out=7)
    assert entry["output"] == [1, 2]
    assert entry["_source"] == "function"
    assert entry["source"] == "function"
    assert entry["_tokensIn"] == 5
    assert entry["_tokensOut"] == 7


def test_ctx_entry_token_counts_default_to_zero() -> None:
    entry = CtxEntry(output=None, source="skipped")
    assert (entry["_tokensIn"], entry["_tokensOut"]) == (0, 0)
    assert entry["output"] is None


@pytest.mark.parametrize("key", ["tokens_in", "_output", "label", ""])
def test_ctx_entry_unknown_key_raises_key_error(key: str) -> None:
    with pytest.raises(KeyError):
        CtxEntry(output={"label": "x"}, source="agent")[key]


def test_ctx_entry_is_frozen() -> None:
    entry = CtxEntry(output=1, source="agent")
    with pytest.raises(AttributeError):
        entry.output = 2  # type: ignore[misc]


def test_task_context_reads_entries_by_name() -> None:
    entries = {"a": CtxEntry(output="A", source="agent")}
    ctx = TaskContext(entries)
    assert isinstance(ctx, Mapping)
    assert ctx["a"].output == "A"
    assert ctx["a"]["output"] == "A"
    assert "a" in ctx
    assert "b" not in ctx
    assert ctx.get("b") is None
    assert list(ctx) == ["a"]
    assert len(ctx) == 1


def test_task_context_is_a_live_view() -> None:
    entries: dict[str, CtxEntry] = {}
    ctx = TaskContext(entries)
    assert len(ctx) == 0
    entries["late"] = CtxEntry(output=42, source="function")
    assert ctx["late"].output == 42
    assert list(ctx) == ["late"]
    assert ctx.outputs() == {"late": 42}


def test_task_context_is_read_only() -> None:
    ctx = TaskContext({"a": CtxEntry(output=1, source="agent")})
    with pytest.raises(TypeError):
        ctx["b"] = CtxEntry(output=2, source="agent")  # type: ignore[index]
    with pytest.raises(TypeError):
        del ctx["a"]  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        ctx.extra = 1  # type: ignore[attr-defined]


def test_task_context_input_and_feedback() -> None:
    ctx = TaskContext({}, input={"ticket": 7}, feedback={"score": 0.4})
    assert ctx.input == {"ticket": 7}
    assert ctx.feedback == {"score": 0.4}


def test_task_context_input_and_feedback_default_to_none() -> None:
    ctx = TaskContext({})
    assert ctx.input is None
    assert ctx.feedback is None


def test_missing_task_error_lists_the_finished_tasks() -> None:
    ctx = TaskContext(
        {"fetch": CtxEntry(output=1, source="agent"), "clean": CtxEntry(output=2, source="loop")}
    )
    with pytest.raises(KeyError) as info:
        ctx["summarise"]
    message = str(info.value)
    assert "'summarise'" in message
    assert "finished: clean, fetch" in message


def test_missing_task_error_when_nothing_finished_yet() -> None:
    with pytest.raises(KeyError, match="none yet"):
        TaskContext({})["first"]


def test_outputs_maps_each_finished_task_to_its_output_in_order() -> None:
    ctx = TaskContext(
        {
            "b": CtxEntry(output={"x": 1}, source="agent"),
            "a": CtxEntry(output=None, source="skipped"),
        }
    )
    outputs = ctx.outputs()
    assert outputs == {"b": {"x": 1}, "a": None}
    assert list(outputs) == ["b", "a"]
    outputs["c"] = 3  # a copy: changing it leaves the context alone
    assert "c" not in ctx


def test_repr_shows_entries_and_input() -> None:
    text = repr(TaskContext({"a": CtxEntry(output=1, source="agent")}, input="in"))
    assert text.startswith("TaskContext(")
    assert "'a'" in text
    assert "input='in'" in text


def test_loop_feedback_key_is_the_original() -> None:
    assert LOOP_FEEDBACK_KEY == "__loop_feedback__"
