"""The SQLite SSE event store: ids, replay, bounds in rows and age, and where it lives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from mcp.server.streamable_http import EventMessage
from mcp_greeting import greeting_workflow
from mcp_types import JSONRPCMessage, jsonrpc_message_adapter

from ageflow.mcp_server import HttpOptions, HttpTransport, create_mcp_server
from ageflow.mcp_server.event_store import PRUNE_EVERY, SqliteEventStore, events_path_for
from ageflow.mcp_server.http import HttpConfigError
from ageflow.mcp_server.http_resume import event_store_for

pytestmark = pytest.mark.anyio


def note(n: int) -> JSONRPCMessage:
    return jsonrpc_message_adapter.validate_python(
        {
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": "t", "progress": n},
        }
    )


def response(request_id: int) -> JSONRPCMessage:
    return jsonrpc_message_adapter.validate_python(
        {"jsonrpc": "2.0", "id": request_id, "result": {"content": []}}
    )


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_table_stays_within_its_bound_over_1000_calls(tmp_path: Path) -> None:
    # Each call as the transport stores it: a priming event, three notifications, a response.
    async with SqliteEventStore(tmp_path / "events.sqlite", max_events=300) as store:
        session = store.for_session("s1")
        largest = 0
        for call in range(1000):
            stream = str(call)
            await session.store_event(stream, None)
            for n in range(3):
                await session.store_event(stream, note(n))
            await session.store_event(stream, response(call))
            largest = max(largest, await store.count())
        assert largest == 300 and await store.count() == 300
    # The bound holds in the file too (nothing left unpruned behind the connection).
    with sqlite3.connect(tmp_path / "events.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM sse_events").fetchone() == (300,)


async def test_replay_sends_the_stream_after_the_id_and_only_that_stream() -> None:
    async with SqliteEventStore() as store:
        session = store.for_session("s1")
        priming = await session.store_event("a", None)
        first = await session.store_event("a", note(0))
        await session.store_event("b", note(99))  # another stream of the session
        second = await session.store_event("a", note(1))
        sent: list[EventMessage] = []

        async def collect(event: EventMessage) -> None:
            sent.append(event)

        assert await session.replay_events_after(priming, collect) == "a"
        assert [event.event_id for event in sent] == [first, second]
        assert sent[1].message.model_dump(by_alias=True, exclude_unset=True)["params"] == {
            "progressToken": "t",
            "progress": 1,
        }
        other = store.for_session("s2")
        assert await other.replay_events_after(priming, collect) is None
        assert await store.check("s2", priming) == "unknown"
        assert await store.check("s1", priming) == "ok"
        assert await store.check("s1", "nonsense") == "malformed"


async def test_old_events_expire_and_a_finished_session_leaves_nothing() -> None:
    clock = Clock()
    async with SqliteEventStore(max_age_seconds=60, clock=clock) as store:
        session = store.for_session("s1")
        old = await session.store_event("a", note(0))
        clock.now += 61
        assert await store.check("s1", old) == "unknown"  # expired, even before pruning
        for n in range(PRUNE_EVERY):
            await session.store_event("a", note(n))
        assert await store.count() == PRUNE_EVERY  # the expired row was pruned
        await store.forget("s1")
        assert await store.count() == 0


def test_the_event_file_sits_beside_the_job_file(tmp_path: Path) -> None:
    assert events_path_for(tmp_path / "jobs.sqlite") == f"{tmp_path / 'jobs.sqlite'}-events"
    assert events_path_for(":memory:") == ":memory:"
    assert events_path_for(None) == ":memory:"
    job_file = tmp_path / "jobs.sqlite"
    served = create_mcp_server(greeting_workflow(), async_mode=True, job_db_path=job_file)
    assert event_store_for(served, HttpOptions(port=0)).path == f"{job_file}-events"
    sync_only = create_mcp_server(greeting_workflow())
    assert event_store_for(sync_only, HttpOptions(port=0)).path == ":memory:"
    chosen = HttpOptions(port=0, event_store_path=str(tmp_path / "x.sqlite"))
    assert event_store_for(sync_only, chosen).path == str(tmp_path / "x.sqlite")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"sse_retry_ms": -1}, "sse_retry_ms must not be negative"),
        ({"event_store_max_events": 0}, "event store bounds"),
        ({"event_store_max_age_seconds": 0}, "event store bounds"),
        ({"sse_close_seconds": 0}, "sse_close_seconds must be positive"),
    ],
)
def test_bad_resumption_options_are_refused(options: dict[str, float], message: str) -> None:
    with pytest.raises(HttpConfigError, match=message):
        HttpTransport(create_mcp_server(greeting_workflow()), HttpOptions(port=0, **options))
