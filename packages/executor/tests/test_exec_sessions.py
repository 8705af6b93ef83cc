"""SessionManager: canonical tokens, handle storage, and resume support."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from ageflow.core import (
    AgentTask,
    SessionCycleError,
    UnresolvedSessionRefError,
    define_agent,
    define_function,
    loop,
    session_token,
    share_session_with,
    task,
)
from ageflow.executor.sessions import SessionManager


class Text(BaseModel):
    text: str


agent = define_agent(runner="claude", input=Text, output=Text, prompt=lambda i: i.text)
fn = define_function(lambda v: v, input=Text, output=Text)


def test_tasks_without_sessions_have_no_token_or_handle():
    manager = SessionManager({"a": task(agent), "f": task(fn)})
    assert manager.canonical_token("a") is None
    assert manager.get_handle("a") is None
    assert manager.canonical_token("f") is None
    assert manager.canonical_token("missing") is None
    assert manager.get_handle("missing") is None


def test_token_resolves_to_its_name_and_share_to_the_target_token():
    token = session_token("conv", "claude")
    manager = SessionManager(
        {"a": task(agent, session=token), "b": task(agent, session=share_session_with("a"))}
    )
    assert manager.canonical_token("a") == "conv"
    assert manager.canonical_token("b") == "conv"
    assert manager.session_token("b") == token


def test_transitive_share_chain_resolves_to_the_root_token():
    manager = SessionManager(
        {
            "c": task(agent, session=share_session_with("b")),
            "b": task(agent, session=share_session_with("a")),
            "a": task(agent, session=session_token("root", "claude")),
        }
    )
    assert [manager.canonical_token(n) for n in ("a", "b", "c")] == ["root", "root", "root"]


def test_share_cycle_raises_with_a_path():
    tasks = {
        "a": AgentTask(agent=agent, session=share_session_with("b")),
        "b": AgentTask(agent=agent, session=share_session_with("a")),
    }
    with pytest.raises(SessionCycleError) as info:
        SessionManager(tasks)
    assert len(info.value.cycle) >= 2
    assert info.value.cycle[0] == info.value.cycle[-1]


def test_share_to_a_task_without_session_raises_naming_both():
    tasks = {"A": task(agent), "B": task(agent, session=share_session_with("A"))}
    with pytest.raises(UnresolvedSessionRefError) as info:
        SessionManager(tasks)
    assert info.value.task_name == "B"
    assert info.value.target_task == "A"


@pytest.mark.parametrize(
    "target",
    [
        task(fn),
        loop(tasks={"x": task(agent)}, max=1, until=lambda ctx: True),
    ],
    ids=["function", "loop"],
)
def test_share_to_a_function_or_loop_raises(target):
    tasks = {"A": target, "B": AgentTask(agent=agent, session=share_session_with("A"))}
    with pytest.raises(UnresolvedSessionRefError):
        SessionManager(tasks)


def test_share_to_a_missing_task_raises():
    with pytest.raises(UnresolvedSessionRefError) as info:
        SessionManager({"B": AgentTask(agent=agent, session=share_session_with("nope"))})
    assert info.value.target_task == "nope"


def test_handle_round_trip_and_sharing():
    token = session_token("conv", "claude")
    manager = SessionManager(
        {
            "a": task(agent, session=token),
            "b": task(agent, session=share_session_with("a")),
            "c": task(agent, session=session_token("other", "claude")),
            "d": task(agent, session=session_token("conv", "claude")),  # same name = same session
        }
    )
    manager.set_handle("a", "h-1")
    assert manager.get_handle("a") == "h-1"
    assert manager.get_handle("b") == "h-1"
    assert manager.get_handle("d") == "h-1"
    assert manager.get_handle("c") is None
    manager.set_handle("b", "h-2")
    assert manager.get_handle("a") == "h-2"
    manager.set_handle("c", "h-c")
    assert manager.get_handle("c") == "h-c"
    assert manager.get_handle("a") == "h-2"


def test_set_handle_is_ignored_for_tasks_without_session():
    manager = SessionManager({"a": task(agent)})
    manager.set_handle("a", "h")
    assert manager.get_handle("a") is None
    assert manager.handles() == {}


def test_empty_handles_are_ignored():
    manager = SessionManager({"a": task(agent, session=session_token("s", "claude"))})
    manager.set_handle("a", "first")
    manager.set_handle("a", "")
    assert manager.get_handle("a") == "first"
    manager.set_handle_by_token("s", "")
    assert manager.get_handle_by_token("s") == "first"


def test_handle_by_token_works_without_tasks():
    manager = SessionManager({})
    assert manager.get_handle_by_token("t") is None
    manager.set_handle_by_token("t", "h")
    assert manager.get_handle_by_token("t") == "h"


def test_handle_by_token_is_seen_by_tasks_on_that_token():
    manager = SessionManager({"a": task(agent, session=session_token("s", "claude"))})
    manager.set_handle_by_token("s", "via-token")
    assert manager.get_handle("a") == "via-token"


def test_handles_snapshot_is_a_copy_and_restores_into_a_new_manager():
    tasks = {
        "a": task(agent, session=session_token("s1", "claude")),
        "b": task(agent, session=session_token("s2", "claude")),
    }
    first = SessionManager(tasks)
    first.set_handle("a", "h1")
    first.set_handle("b", "h2")
    snapshot = first.handles()
    assert snapshot == {"s1": "h1", "s2": "h2"}
    snapshot["s1"] = "tampered"
    assert first.get_handle("a") == "h1"

    second = SessionManager(tasks)
    second.restore_handles({"s1": "h1", "s2": "", "unrelated": "x"})
    assert second.get_handle("a") == "h1"
    assert second.get_handle("b") is None  # empty handles are not restored
    assert second.get_handle_by_token("unrelated") == "x"


def test_restore_merges_with_existing_handles():
    manager = SessionManager({"a": task(agent, session=session_token("s1", "claude"))})
    manager.set_handle_by_token("keep", "k")
    manager.restore_handles({"s1": "h1"})
    assert manager.handles() == {"keep": "k", "s1": "h1"}
