"""Resumable Streamable HTTP streams over real HTTP on 127.0.0.1, driven by raw requests.

A sync call's SSE stream carries ids and a ``retry`` hint; a client that drops it and
reconnects with ``Last-Event-ID`` gets every message it missed and the result. Bad ids are
refused clearly. With SEP-1699 the server itself closes a long call's stream and the SDK's
client resumes it. The workflow waits on events the test sets, so nothing races.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest
from mcp_greeting import Greeting, Person
from test_mcp_http_transport import sdk_client, serving

from ageflow.core import define_function, define_workflow, task
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server import create_mcp_server
from ageflow.mcp_server.event_store import SqliteEventStore

pytestmark = pytest.mark.anyio

VERSION = "2025-11-25"  # resumable streams (priming events) need this protocol or later
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
RETRY_MS = 250


@dataclass
class Gates:
    first: anyio.Event = field(default_factory=anyio.Event)
    second: anyio.Event = field(default_factory=anyio.Event)
    second_started: anyio.Event = field(default_factory=anyio.Event)


def gated_workflow(gates: Gates) -> WorkflowDef:
    async def hello(person: Person) -> Greeting:
        await gates.first.wait()
        return Greeting(greeting=f"Hello, {person.name}!")

    async def louder(greeting: Greeting) -> Greeting:
        gates.second_started.set()
        await gates.second.wait()
        return Greeting(greeting=greeting.greeting.upper())

    return define_workflow(
        name="gated",
        tasks={
            "one": task(define_function(hello, input=Person, output=Greeting)),
            "two": task(
                define_function(louder, input=Greeting, output=Greeting),
                depends_on=["one"],
                input=lambda ctx: ctx["one"].output,
            ),
        },
    )


@dataclass
class SseEvent:
    id: str | None
    retry: int | None
    message: dict[str, Any] | None


async def sse_events(response: httpx2.Response) -> AsyncIterator[SseEvent]:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
            continue
        data = fields.get("data", "")
        retry = fields.get("retry")
        if "id" not in fields and not data:
            fields = {}
            continue  # a comment (keep-alive ping)
        yield SseEvent(
            fields.get("id"), int(retry) if retry else None, json.loads(data) if data else None
        )
        fields = {}


class Session:
    """One raw MCP session over HTTP."""

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url
        self.id = ""

    def headers(self, **extra: str) -> dict[str, str]:
        return {**ACCEPT, "Mcp-Session-Id": self.id, "MCP-Protocol-Version": VERSION, **extra}

    async def open(self) -> Session:
        params = {"protocolVersion": VERSION, "capabilities": {}, "clientInfo": {"name": "raw"}}
        init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}
        response = await self.http.post(self.url, json=init, headers=ACCEPT)
        assert response.status_code == 200, response.text
        self.id = response.headers["mcp-session-id"]
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (
            await self.http.post(self.url, json=note, headers=self.headers())
        ).status_code == 202
        return self

    def call(self, request_id: int, tool: str, args: dict[str, Any]) -> Any:
        params = {"name": tool, "arguments": args, "_meta": {"progressToken": f"p{request_id}"}}
        body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
        return self.http.stream("POST", self.url, json=body, headers=self.headers())

    def resume(self, last_event_id: str) -> Any:
        headers = self.headers(**{"Last-Event-ID": last_event_id})
        headers["Accept"] = "text/event-stream"
        return self.http.stream("GET", self.url, headers=headers)


@asynccontextmanager
async def gated_server(gates: Gates, **options: Any) -> AsyncIterator[Any]:
    server = create_mcp_server(gated_workflow(gates), name="gated")
    async with (
        serving(server=server, sse_retry_ms=RETRY_MS, **options) as served,
        httpx2.AsyncClient(timeout=30) as http,
    ):
        yield served, http


def is_log(event: SseEvent, kind: str, task_name: str | None = None) -> bool:
    message = event.message or {}
    if message.get("method") != "notifications/message":
        return False
    data = message["params"]["data"]
    return bool(data["event"] == kind and (task_name is None or data.get("task") == task_name))


async def test_a_dropped_stream_resumes_with_every_missed_message_and_the_result() -> None:
    gates = Gates()
    async with gated_server(gates) as (served, http):
        session = await Session(http, served.url).open()
        seen: list[SseEvent] = []
        async with session.call(3, "gated", {"name": "Ann"}) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            async for event in sse_events(response):
                seen.append(event)
                if is_log(event, "task:start", "one"):
                    break  # the client drops the stream here
        priming = seen[0]
        assert priming.message is None and priming.id and priming.retry == RETRY_MS
        assert all(event.id for event in seen)

        # While nobody listens, task one finishes and task two starts.
        gates.first.set()
        with anyio.fail_after(20):
            await gates.second_started.wait()

        result: dict[str, Any] | None = None
        with anyio.fail_after(20):
            while result is None:
                last_id = next(event.id for event in reversed(seen) if event.id)
                async with session.resume(last_id) as response:
                    assert response.status_code == 200
                    live = False
                    async for event in sse_events(response):
                        if event.message is None:
                            live = True  # the resumed stream's priming event: the tail follows
                        else:
                            seen.append(event)
                        # Task two finishes once its start arrived and the stream is live.
                        if live and any(is_log(e, "task:start", "two") for e in seen):
                            gates.second.set()
                        if event.message is None:
                            continue
                        if event.message.get("id") == 3:
                            result = event.message
                            break

        messages = [event for event in seen if event.message is not None]
        ids = [event.id for event in messages]
        assert len(set(ids)) == len(ids)  # nothing twice
        assert all(event.id for event in messages)
        assert result["result"]["structuredContent"] == {"greeting": "HELLO, ANN!"}
        progress = [
            e.message["params"]["progress"]
            for e in messages
            if e.message and e.message.get("method") == "notifications/progress"
        ]
        assert progress == list(range(len(progress))) and len(progress) >= 4  # no gap
        logged = [
            (e.message["params"]["data"]["event"], e.message["params"]["data"].get("task"))
            for e in messages
            if e.message and e.message.get("method") == "notifications/message"
        ]
        assert logged == [
            ("task:start", "one"),
            ("task:complete", "one"),
            ("task:start", "two"),
            ("task:complete", "two"),
            ("workflow:complete", None),
        ]


async def test_bad_last_event_ids_get_a_clear_answer_that_leaks_nothing() -> None:
    gates = Gates()
    gates.first.set()
    gates.second.set()
    async with gated_server(gates) as (served, http):
        mine = await Session(http, served.url).open()
        theirs = await Session(http, served.url).open()
        their_ids: list[str] = []
        async with theirs.call(7, "gated", {"name": "Secret"}) as response:
            async for event in sse_events(response):
                if event.id:
                    their_ids.append(event.id)
        assert len(their_ids) > 2

        async def refused(last_event_id: str) -> dict[str, Any]:
            async with mine.resume(last_event_id) as response:
                assert response.status_code == 400
                assert response.headers["content-type"].startswith("application/json")
                body = await response.aread()
            assert b"Secret" not in body and b"HELLO" not in body
            return dict(json.loads(body)["error"])

        for malformed in ("garbage", "12", "1-xyz", "0-0123456789abcdef", "-1-00"):
            assert "malformed Last-Event-ID" in (await refused(malformed))["message"]
        unknown = await refused("999999-0123456789abcdef")
        assert "unknown Last-Event-ID" in unknown["message"]
        # Another session's real id reads exactly like an unknown one.
        for their_id in their_ids:
            assert await refused(their_id) == unknown
        # A forged token on a real sequence number too.
        sequence = their_ids[1].split("-")[0]
        assert await refused(f"{sequence}-ffffffffffffffff") == unknown

        # The owner can still resume with its ids (its stream is complete: nothing missed).
        async with theirs.resume(their_ids[0]) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")


async def test_the_store_stays_within_its_bound_over_http() -> None:
    gates = Gates()
    gates.first.set()
    gates.second.set()
    async with (
        gated_server(gates, event_store_max_events=40) as (served, _),
        sdk_client(served.url) as client,
    ):
        store = served.transport.event_store
        assert isinstance(store, SqliteEventStore)
        for number in range(30):
            result = await client.call_tool("gated", {"name": f"N{number}"})
            assert result.structured_content == {"greeting": f"HELLO, N{number}!"}
            assert await store.count() <= 40
        assert await store.count() == 40  # full, and no further


async def test_sep_1699_the_server_closes_a_long_call_stream_and_the_sdk_client_resumes() -> None:
    gates = Gates()
    async with gated_server(gates, sse_close_seconds=0.2) as (served, _):
        store = served.transport.event_store
        assert store is not None
        results: list[Any] = []
        async with sdk_client(served.url) as client, anyio.create_task_group() as group:

            async def call() -> None:
                results.append(await client.call_tool("gated", {"name": "Long"}))

            group.start_soon(call)
            await wait_until(lambda: store.replays >= 2)  # closed and resumed twice
            gates.first.set()
            with anyio.fail_after(20):
                await gates.second_started.wait()
            await wait_until(lambda: store.replays >= 3)
            gates.second.set()
        assert results[0].is_error is False
        assert results[0].structured_content == {"greeting": "HELLO, LONG!"}


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll a counter of the server's (it has no event to wait on), bounded in time."""
    with anyio.fail_after(20):
        while not condition():  # noqa: ASYNC110
            await anyio.sleep(0.01)
