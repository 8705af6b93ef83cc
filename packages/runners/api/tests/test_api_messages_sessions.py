"""Message builder, tool schemas and the in-memory session store."""

from __future__ import annotations

import pytest

from ageflow.runners.api import (
    InMemorySessionStore,
    SessionStore,
    ToolDefinition,
    build_initial_messages,
    tools_to_schemas,
)

USER = {"role": "user", "content": "p"}


def test_build_initial_messages():
    assert build_initial_messages("p", None, None) == [USER]
    assert build_initial_messages("p", "", None) == [USER]
    assert build_initial_messages("p", "sys", None) == [{"role": "system", "content": "sys"}, USER]
    history = [
        {"role": "system", "content": "old schema"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]
    kept = build_initial_messages("p", None, history)
    assert kept == [*history, USER]
    replaced = build_initial_messages("p", "new schema", history)
    assert replaced == [
        {"role": "system", "content": "new schema"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
        USER,
    ]
    assert len(history) == 3


def test_tools_to_schemas():
    reg = {"my_tool": ToolDefinition("d", {"type": "object"}, lambda a: None)}
    assert tools_to_schemas(reg, None) is None
    assert tools_to_schemas(reg, []) == []
    assert tools_to_schemas(reg, ["nope"]) == []
    assert tools_to_schemas(reg, ["my_tool"]) == [
        {
            "type": "function",
            "function": {"name": "my_tool", "description": "d", "parameters": {"type": "object"}},
        }
    ]


@pytest.mark.anyio
async def test_session_store_round_trip_isolation_and_copies():
    store = InMemorySessionStore()
    assert isinstance(store, SessionStore)
    assert await store.get("unknown") is None
    messages = [USER.copy(), {"role": "assistant", "content": "a"}]
    await store.set("h1", messages)
    await store.set("h2", [{"role": "user", "content": "other"}])
    assert await store.get("h1") == [USER, {"role": "assistant", "content": "a"}]
    assert await store.get("h2") == [{"role": "user", "content": "other"}]

    messages.append({"role": "user", "content": "late"})
    messages[0]["content"] = "mutated after set"
    got = await store.get("h1")
    assert got == [USER, {"role": "assistant", "content": "a"}]
    got[0]["content"] = "mutated after get"
    assert (await store.get("h1"))[0] == USER

    await store.delete("h1")
    await store.delete("never-existed")
    assert await store.get("h1") is None
    assert await store.get("h2") is not None
