"""merge_tools: agent tools, per-call inline tools and HITL filtering of one attempt."""

from __future__ import annotations

from pydantic import BaseModel

from ageflow.core import InlineToolDef, RunnerOverride, define_agent
from ageflow.executor.tools import ToolSelection, merge_tools


class Text(BaseModel):
    text: str


def tool(description: str) -> InlineToolDef:
    return InlineToolDef(description=description, parameters=Text, execute=lambda args: description)


def agent(tools=None):
    return define_agent(runner="api", input=Text, output=Text, prompt=lambda i: i.text, tools=tools)


AGENT_X = tool("agent x")
CALL_X = tool("call x")
CALL_Y = tool("call y")
CALL_Z = tool("call z")


def test_no_tools_anywhere_is_unrestricted():
    assert merge_tools(agent(), None, None, None) == ToolSelection(tools=None, inline_tools=None)


def test_inline_map_on_agent_gives_inline_tools_and_names():
    result = merge_tools(agent({"lookup": AGENT_X}), None, None, None)
    assert result.inline_tools == {"lookup": AGENT_X}
    assert result.tools == ["lookup"]


def test_string_list_tools_pass_as_names_only():
    result = merge_tools(agent(["Read", "Write"]), None, None, None)
    assert result.inline_tools is None
    assert result.tools == ["Read", "Write"]


def test_two_inline_tools_are_both_present():
    result = merge_tools(agent({"a": CALL_X, "b": CALL_Y}), None, None, None)
    assert result.inline_tools == {"a": CALL_X, "b": CALL_Y}
    assert result.tools == ["a", "b"]


def test_per_call_tools_are_merged_after_agent_names():
    result = merge_tools(agent(["Read"]), RunnerOverride(tools={"search": CALL_Y}), None, None)
    assert result.tools == ["Read", "search"]
    assert result.inline_tools == {"search": CALL_Y}


def test_per_call_tools_without_agent_tools():
    result = merge_tools(agent(), RunnerOverride(tools={"search": CALL_Y}), None, None)
    assert result.tools == ["search"]
    assert result.inline_tools == {"search": CALL_Y}


def test_per_call_definition_wins_a_name_clash_and_name_is_not_repeated():
    result = merge_tools(agent({"x": AGENT_X}), RunnerOverride(tools={"x": CALL_X}), None, None)
    assert result.inline_tools == {"x": CALL_X}
    assert result.tools == ["x"]


def test_override_without_tools_changes_nothing():
    result = merge_tools(agent(["Read"]), RunnerOverride(session_handle="h"), None, None)
    assert result == ToolSelection(tools=["Read"], inline_tools=None)
    assert merge_tools(agent(), RunnerOverride(tools={}), None, None) == ToolSelection(None, None)


def test_hitl_deny_all_stays_an_empty_list():
    result = merge_tools(agent(["Read"]), None, [], True)
    assert result.tools == []
    assert result.tools is not None
    assert result.inline_tools is None


def test_hitl_deny_all_without_agent_tools_is_still_deny_all():
    result = merge_tools(agent(), None, [], True)
    assert result.tools == []


def test_enforcing_filter_drops_unpermitted_per_call_tools():
    override = RunnerOverride(tools={"tool_x": CALL_X, "tool_y": CALL_Y, "tool_z": CALL_Z})
    result = merge_tools(agent(), override, ["tool_y"], True)
    assert result.tools == ["tool_y"]
    assert result.inline_tools == {"tool_y": CALL_Y}


def test_deny_all_with_per_call_tool():
    result = merge_tools(agent(), RunnerOverride(tools={"tool_x": CALL_X}), [], True)
    assert result.tools == []
    assert result.inline_tools is None


def test_agent_inline_tools_filtered_to_the_allowed_name_in_both_maps():
    result = merge_tools(agent({"safe": CALL_X, "danger": CALL_Y}), None, ["safe"], True)
    assert result.tools == ["safe"]
    assert result.inline_tools == {"safe": CALL_X}


def test_hitl_off_keeps_per_call_tools():
    result = merge_tools(agent(), RunnerOverride(tools={"extra": CALL_X}), None, None)
    assert result.tools == ["extra"]
    assert result.inline_tools == {"extra": CALL_X}


def test_explicitly_not_enforcing_keeps_agent_and_per_call_tools():
    override = RunnerOverride(tools={"extra": CALL_Y})
    result = merge_tools(agent({"own": CALL_X}), override, ["own", "extra"], False)
    assert result.tools == ["own", "extra"]
    assert result.inline_tools == {"own": CALL_X, "extra": CALL_Y}


def test_filter_without_enforcing_flag_is_applied_defensively():
    result = merge_tools(agent(["a", "b"]), None, ["b"], None)
    assert result.tools == ["b"]


def test_enforcing_true_applies_the_filter():
    assert merge_tools(agent(["a", "b"]), None, ["a"], True).tools == ["a"]


def test_enforcing_false_skips_the_filter():
    assert merge_tools(agent(["a", "b"]), None, ["a"], False).tools == ["a", "b"]


def test_enforcing_without_filter_leaves_agent_tools_unchanged():
    assert merge_tools(agent(["a", "b"]), None, None, True).tools == ["a", "b"]


def test_filter_without_candidates_is_used_as_is():
    result = merge_tools(agent(), None, ["only"], True)
    assert result.tools == ["only"]
    assert result.inline_tools is None


def test_filter_order_follows_candidates_not_the_filter():
    assert merge_tools(agent(["a", "b", "c"]), None, ["c", "a"], True).tools == ["a", "c"]


def test_empty_inline_map_on_agent_means_deny_all_and_no_inline_tools():
    result = merge_tools(agent({}), None, None, None)
    assert result.tools == []
    assert result.inline_tools is None


def test_result_lists_are_not_the_callers_objects():
    allowed = ["a"]
    result = merge_tools(agent(), None, allowed, True)
    assert result.tools == allowed
    assert result.tools is not allowed
