"""The Streamable HTTP transport over real HTTP on 127.0.0.1.

Each test serves in its own task group on an OS-assigned port and talks to it with the
SDK's Streamable HTTP client or with raw HTTP requests for the status-code rules.
"""

from __future__ import annotations

import functools
import io
import json
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp.types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_greeting import Greeting, Person, greeting_workflow

from ageflow.core import define_function, define_workflow, task
from ageflow.mcp_server import McpServer, create_mcp_server
from ageflow.mcp_server.http import (
    AuditEvent,
    HttpConfigError,
    HttpOptions,
    HttpTransport,
    RateLimit,
    serve_http,
)

pytestmark = pytest.mark.anyio

SSE_ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    transport: HttpTransport
    url: str
    log: io.StringIO
    audit: list[AuditEvent] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.url.rsplit("/", 1)[0]


@asynccontextmanager
async def serving(
    *,
    server: McpServer | None = None,
    clock: Callable[[], float] | None = None,
    **options: Any,
) -> AsyncIterator[Served]:
    """A transport listening on a free port; stopped (and checked stopped) on the way out."""
    audit: list[AuditEvent] = []
    options.setdefault("audit_log", audit.append)
    log = io.StringIO()
    mcp_server = server or create_mcp_server(greeting_workflow(), name="http-test")
    extra = {} if clock is None else {"clock": clock}
    transport = HttpTransport(mcp_server, HttpOptions(port=0, **options), log=log, **extra)
    async with anyio.create_task_group() as tg:
        host, port = await tg.start(transport.serve)
        assert host == options.get("host", "127.0.0.1")
        path = options.get("path", "/mcp")
        yield Served(transport, f"http://127.0.0.1:{port}{path}", log, audit)
        tg.cancel_scope.cancel()
    assert transport.session_count == 0


@asynccontextmanager
async def raw_client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(timeout=10) as client:
        yield client


def sdk_client(
    url: str, *, headers: dict[str, str] | None = None, mode: str = "legacy", **extra: Any
) -> Client:
    http_client = create_mcp_http_client(headers=headers)
    transport = streamable_http_client(url, http_client=http_client)
    return Client(transport, mode=mode, **extra)  # type: ignore[arg-type]


async def initialize(client: httpx2.AsyncClient, url: str, **headers: str) -> httpx2.Response:
    return await client.post(url, json=INITIALIZE, headers={**SSE_ACCEPT, **headers})


def sse_messages(response: httpx2.Response) -> list[dict[str, Any]]:
    return [
        json.loads(line[len("data:") :])
        for line in response.text.splitlines()
        if line.startswith("data:") and line[len("data:") :].strip()
    ]


# -- serving with the SDK client ---------------------------------------------------------


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sdk_client_lists_and_calls_tools_without_auth_on_loopback(mode: str) -> None:
    async with serving() as served:
        port = served.url.split(":")[2].split("/")[0]
        assert int(port) > 0
        log = served.log.getvalue()
        assert (
            f"[ageflow mcp] http-test@0.1.0 HTTP transport listening on http://127.0.0.1:{port}/mcp"
            in log
        )
        assert "no authentication" in log
        async with sdk_client(served.url, mode=mode) as client:
            if mode == "legacy":
                assert served.transport.session_count == 1
            else:  # auto finds protocol 2026-07-28: one self-contained POST per request
                assert client.protocol_version == "2026-07-28"
                assert served.transport.session_count == 0
            assert [tool.name for tool in (await client.list_tools()).tools] == ["greet"]
            result = await client.call_tool("greet", {"name": "Ann"})
            assert not result.is_error
            assert result.structured_content == {"greeting": "HELLO, ANN!"}
            failed = await client.call_tool("greet", {"name": 7})
            assert failed.is_error
        # Leaving the client sends DELETE, which frees the session at once.
        assert served.transport.session_count == 0


async def test_elicitation_and_progress_travel_over_the_session() -> None:
    server = create_mcp_server(greeting_workflow(checkpoint=True), name="ask", hitl="elicit")
    asked: list[str] = []
    phases: list[str] = []

    async def elicitation(context: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approved": True})

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        phases.append(str(message).split(":")[0])

    async with (
        serving(server=server) as served,
        sdk_client(served.url, elicitation_callback=elicitation) as client,
    ):
        result = await client.call_tool("greet", {"name": "Eve"}, progress_callback=on_progress)
        assert not result.is_error, result
        assert result.structured_content == {"greeting": "HELLO, EVE!"}
        # The client's answer came back as a POST of a JSON-RPC response: no method.
        assert any(event.method is None for event in served.audit)
    assert asked == ["[shout] Shout it?"]
    assert {"task_started", "awaiting_approval", "awaiting_elicitation"} <= set(phases)


async def test_sessions_share_one_server_and_its_jobs() -> None:
    server = create_mcp_server(
        greeting_workflow(checkpoint=True), name="jobs", async_mode=True, job_db_path=":memory:"
    )
    async with (
        serving(server=server) as served,
        sdk_client(served.url) as first,
        sdk_client(served.url) as second,
    ):
        assert served.transport.session_count == 2
        started = await first.call_tool("start_greet", {"name": "Bo"})
        assert not started.is_error, started
        job_id = started.structured_content["jobId"]
        # The job started by one client is visible to and resumable by another.
        with anyio.fail_after(10):
            while True:
                status = await second.call_tool("get_workflow_status", {"jobId": job_id})
                if status.structured_content["state"] == "awaiting-checkpoint":
                    break
                await anyio.sleep(0.02)
        resumed = await second.call_tool("resume_workflow", {"jobId": job_id, "approved": True})
        assert resumed.structured_content == {"resumed": True}
        with anyio.fail_after(10):
            while True:
                result = await first.call_tool("get_workflow_result", {"jobId": job_id})
                if result.structured_content.get("state") == "done":
                    break
                await anyio.sleep(0.02)
        assert result.structured_content["output"] == {"greeting": "HELLO, BO!"}


async def test_cancelling_closes_sessions_and_leaves_server_running_block() -> None:
    server = create_mcp_server(
        greeting_workflow(), name="stop", async_mode=True, job_db_path=":memory:"
    )
    transport = HttpTransport(server, HttpOptions(port=0), log=io.StringIO())
    async with anyio.create_task_group() as tg:
        _, port = await tg.start(transport.serve)
        assert server.runner is not None  # serve runs inside server.running()
        async with raw_client() as client:
            response = await initialize(client, f"http://127.0.0.1:{port}/mcp")
            assert response.status_code == 200
            assert transport.session_count == 1
        tg.cancel_scope.cancel()
    assert transport.session_count == 0
    assert server.runner is None
    with pytest.raises(httpx2.ConnectError):
        async with raw_client() as client:
            await client.get(f"http://127.0.0.1:{port}/mcp")


async def test_cancelling_mid_call_stops_promptly() -> None:
    started = anyio.Event()

    async def wait_forever(person: Person) -> Greeting:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    slow = define_function(wait_forever, input=Person, output=Greeting)
    server = create_mcp_server(define_workflow(name="slow", tasks={"slow": task(slow)}))
    transport = HttpTransport(server, HttpOptions(port=0), log=io.StringIO())
    outcome: list[BaseException | None] = []

    async def call_slow(url: str) -> None:
        try:
            async with sdk_client(url) as client:
                await client.call_tool("slow", {"name": "Zed"})
            outcome.append(None)
        except Exception as exc:
            outcome.append(exc)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as clients:
            async with anyio.create_task_group() as tg:
                _, port = await tg.start(transport.serve)
                clients.start_soon(call_slow, f"http://127.0.0.1:{port}/mcp")
                await started.wait()
                assert transport.session_count == 1
                tg.cancel_scope.cancel()
            assert transport.session_count == 0
    # The client learns that its call cannot finish instead of waiting forever.
    assert len(outcome) == 1 and outcome[0] is not None


async def test_serve_http_reports_real_port_and_flushes_banner() -> None:
    log = io.StringIO()
    server = create_mcp_server(greeting_workflow(), name="banner", version="2.0.0")
    async with anyio.create_task_group() as tg:
        host, port = await tg.start(
            functools.partial(serve_http, log=log), server, HttpOptions(port=0, path="/rpc")
        )
        assert (host, port > 0) == ("127.0.0.1", True)
        lines = log.getvalue().splitlines()
        assert lines[0] == (
            f"[ageflow mcp] banner@2.0.0 HTTP transport listening on http://127.0.0.1:{port}/rpc"
        )
        async with sdk_client(f"http://127.0.0.1:{port}/rpc") as client:
            assert (await client.call_tool("greet", {"name": "X"})).structured_content == {
                "greeting": "HELLO, X!"
            }
        tg.cancel_scope.cancel()


async def test_a_transport_serves_once() -> None:
    server = create_mcp_server(greeting_workflow(), name="once")
    transport = HttpTransport(server, HttpOptions(port=0), log=io.StringIO())
    async with anyio.create_task_group() as tg:
        await tg.start(transport.serve)
        tg.cancel_scope.cancel()
    with pytest.raises(RuntimeError, match="already started"):
        await transport.serve()


async def test_localhost_host_name() -> None:
    log = io.StringIO()
    server = create_mcp_server(greeting_workflow(), name="named")
    async with anyio.create_task_group() as tg:
        host, port = await tg.start(
            functools.partial(serve_http, log=log), server, HttpOptions(port=0, host="localhost")
        )
        assert host == "localhost"
        url = f"http://localhost:{port}/mcp"
        assert f"listening on {url}" in log.getvalue()
        async with sdk_client(url) as client:
            assert (await client.call_tool("greet", {"name": "Lo"})).structured_content == {
                "greeting": "HELLO, LO!"
            }
        tg.cancel_scope.cancel()


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback here")
async def test_ipv6_loopback_url_is_bracketed() -> None:
    log = io.StringIO()
    server = create_mcp_server(greeting_workflow(), name="six")
    async with anyio.create_task_group() as tg:
        _, port = await tg.start(
            functools.partial(serve_http, log=log), server, HttpOptions(port=0, host="::1")
        )
        url = f"http://[::1]:{port}/mcp"
        assert f"listening on {url}" in log.getvalue()
        async with sdk_client(url) as client:
            assert (await client.call_tool("greet", {"name": "Vi"})).structured_content == {
                "greeting": "HELLO, VI!"
            }
        tg.cancel_scope.cancel()


async def test_bind_error_propagates_as_oserror_before_the_job_store_opens(
    tmp_path: Path,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        jobs_file = tmp_path / "jobs" / "jobs.sqlite"
        server = create_mcp_server(
            greeting_workflow(), name="busy", async_mode=True, job_db_path=jobs_file
        )
        log = io.StringIO()
        with pytest.raises(OSError):
            await serve_http(server, HttpOptions(port=port), log=log)
        assert not jobs_file.parent.exists()
        assert log.getvalue() == ""


# -- construction rules ------------------------------------------------------------------


async def test_non_loopback_host_without_bearer_is_refused_before_binding() -> None:
    log = io.StringIO()
    server = create_mcp_server(greeting_workflow(), name="remote")
    with pytest.raises(HttpConfigError, match=r"(?i)non-loopback.*bearer"):
        await serve_http(server, HttpOptions(port=0, host="0.0.0.0"), log=log)
    assert log.getvalue() == ""
    with pytest.raises(HttpConfigError, match="non-loopback"):
        HttpTransport(server, HttpOptions(port=0, host="192.168.7.7"))
    HttpTransport(server, HttpOptions(port=0, host="0.0.0.0", auth_bearer="t"))
    for loopback in ("127.0.0.1", "::1", "localhost"):
        HttpTransport(server, HttpOptions(port=0, host=loopback))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (HttpOptions(port=0, max_body_bytes=0), "max_body_bytes"),
        (HttpOptions(port=0, max_sessions=0), "max_sessions"),
        (HttpOptions(port=0, rate_limit=RateLimit(0, 5)), "window_seconds"),
        (HttpOptions(port=0, rate_limit=RateLimit(1.0, 0)), "max_requests"),
        (HttpOptions(port=0, session_idle_seconds=0), "session_idle_seconds"),
        (HttpOptions(port=0, auth_bearer=""), "auth_bearer"),
        (HttpOptions(port=70000), "port"),
        (HttpOptions(port=0, path="mcp"), "path"),
    ],
)
def test_invalid_options_are_refused(options: HttpOptions, message: str) -> None:
    server = create_mcp_server(greeting_workflow(), name="bad")
    with pytest.raises(HttpConfigError, match=message) as raised:
        HttpTransport(server, options)
    assert "\n" not in str(raised.value)


def test_cors_any_origin_prints_a_warning() -> None:
    server = create_mcp_server(greeting_workflow(), name="cors")
    log = io.StringIO()
    HttpTransport(server, HttpOptions(port=0, cors_origins="*"), log=log)
    assert "[ageflow mcp] warning: CORS allows any origin (*)" in log.getvalue()
    quiet = io.StringIO()
    HttpTransport(server, HttpOptions(port=0, cors_origins="https://a.example"), log=quiet)
    assert quiet.getvalue() == ""


# -- bearer auth ---------------------------------------------------------------------------


async def test_bearer_auth() -> None:
    async with serving(auth_bearer="s3cret") as served, raw_client() as client:
        assert "no authentication" not in served.log.getvalue()
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret"}):
            response = await initialize(client, served.url, **headers)
            assert response.status_code == 401, headers
            assert response.json() == {"error": "Unauthorized"}
            assert response.headers["www-authenticate"] == 'Bearer realm="ageflow-mcp"'
        denied = served.audit[-1]
        assert denied.auth_denied and not denied.rate_limited
        assert denied.method is None and denied.tool_name is None
        # GET and DELETE need the token as well.
        assert (await client.get(served.url)).status_code == 401
        assert (await client.delete(served.url)).status_code == 401
        ok = await initialize(client, served.url, Authorization="bEaReR   s3cret")
        assert ok.status_code == 200
        assert served.transport.session_count == 1

        async with sdk_client(served.url, headers={"Authorization": "Bearer s3cret"}) as sdk:
            assert [tool.name for tool in (await sdk.list_tools()).tools] == ["greet"]
        with pytest.raises(Exception):  # noqa: B017 - the SDK surfaces the 401 its own way
            async with sdk_client(served.url, headers={"Authorization": "Bearer nope"}) as sdk:
                await sdk.list_tools()
        # The raw session opened above is still there; close it explicitly.
        session_id = ok.headers["mcp-session-id"]
        closed = await client.delete(
            served.url, headers={"Mcp-Session-Id": session_id, "Authorization": "Bearer s3cret"}
        )
        assert closed.status_code == 200


# -- Host and Origin (DNS rebinding) -------------------------------------------------------


async def test_host_header_must_name_this_server() -> None:
    async with (
        serving(allowed_hosts=["mcp.example.com"]) as served,
        raw_client() as client,
    ):
        evil = await initialize(client, served.url, Host="evil.example")
        assert evil.status_code == 421
        assert served.transport.session_count == 0
        # Rebinding is refused before anything else, preflights included.
        preflight = await client.options(served.url, headers={"Host": "evil.example:80"})
        assert preflight.status_code == 421
        for host in ("localhost:1234", "[::1]:80", "mcp.example.com:8443"):
            response = await initialize(client, served.url, Host=host)
            assert response.status_code == 200, host
        assert served.transport.session_count == 3
        await close_all(client, served)


async def close_all(client: httpx2.AsyncClient, served: Served) -> None:
    """DELETE every open session through HTTP (the test knows the table's ids)."""
    for session_id in list(served.transport._sessions):
        response = await client.delete(served.url, headers={"Mcp-Session-Id": session_id})
        assert response.status_code == 200
    assert served.transport.session_count == 0


async def test_origin_header_must_be_loopback_unless_cors_allows_it() -> None:
    async with serving() as served, raw_client() as client:
        evil = await initialize(client, served.url, Origin="http://evil.example")
        assert evil.status_code == 403
        assert served.transport.session_count == 0
        local = await initialize(client, served.url, Origin="http://localhost:5173")
        assert local.status_code == 200
        # No CORS configured: a loopback origin is let in but gets no CORS headers.
        assert "access-control-allow-origin" not in local.headers
        await close_all(client, served)
    async with serving(cors_origins="https://app.example") as served, raw_client() as client:
        allowed = await initialize(client, served.url, Origin="https://app.example")
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        # D33: a browser may read the session id header.
        assert allowed.headers["access-control-expose-headers"] == "Mcp-Session-Id"
        assert allowed.headers["mcp-session-id"]
        other = await initialize(client, served.url, Origin="https://other.example")
        assert other.status_code == 403
        await close_all(client, served)


# -- CORS ----------------------------------------------------------------------------------


async def test_cors_preflight_single_origin() -> None:
    async with serving(cors_origins="https://app.example") as served, raw_client() as client:
        allowed = await client.options(served.url, headers={"Origin": "https://app.example"})
        assert allowed.status_code == 204 and allowed.content == b""
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert "Mcp-Session-Id" in allowed.headers["access-control-allow-headers"]
        assert allowed.headers["access-control-expose-headers"] == "Mcp-Session-Id"
        assert allowed.headers["access-control-max-age"] == "86400"
        assert allowed.headers["vary"] == "Origin"
        refused = await client.options(served.url, headers={"Origin": "https://evil.example"})
        assert refused.status_code == 204
        assert not any(name.startswith("access-control-") for name in refused.headers)
        # Preflight needs no auth and works on any path.
        elsewhere = await client.options(
            served.base + "/other", headers={"Origin": "https://app.example"}
        )
        assert elsewhere.status_code == 204
        assert elsewhere.headers["access-control-allow-origin"] == "https://app.example"


async def test_cors_list_and_any_origin() -> None:
    listed = ["https://a.example", "https://b.example"]
    async with serving(cors_origins=listed) as served, raw_client() as client:
        response = await client.options(served.url, headers={"Origin": "https://b.example"})
        assert response.headers["access-control-allow-origin"] == "https://b.example"
        response = await client.options(served.url, headers={"Origin": "https://c.example"})
        assert "access-control-allow-origin" not in response.headers
    async with serving(cors_origins="*") as served, raw_client() as client:
        assert "CORS allows any origin" in served.log.getvalue()
        response = await client.options(served.url, headers={"Origin": "https://c.example"})
        assert response.headers["access-control-allow-origin"] == "*"
        assert "vary" not in response.headers
        # Error answers carry the CORS headers too, so a browser can read them.
        missing = await client.get(served.url, headers={"Origin": "https://c.example"})
        assert missing.status_code == 400
        assert missing.headers["access-control-allow-origin"] == "*"


# -- rate limit ----------------------------------------------------------------------------


async def test_rate_limit_per_ip_then_new_window() -> None:
    clock = FakeClock()
    async with (
        serving(rate_limit=RateLimit(10.0, 2), clock=clock) as served,
        raw_client() as client,
    ):
        statuses = [
            (await client.post(served.url, json=LIST_TOOLS, headers=SSE_ACCEPT)).status_code
            for _ in range(3)
        ]
        assert statuses == [400, 400, 429]
        limited = served.audit[-1]
        assert limited.rate_limited and not limited.auth_denied
        assert limited.remote_ip == "127.0.0.1"
        # The header is ignored without trust_proxy: still the same client.
        spoofed = await client.post(
            served.url, json=LIST_TOOLS, headers={**SSE_ACCEPT, "X-Forwarded-For": "9.9.9.9"}
        )
        assert spoofed.status_code == 429
        assert spoofed.json() == {"error": "Too Many Requests"}
        # Only POSTs count.
        assert (await client.get(served.url)).status_code == 400
        clock.now += 10.0
        assert (await initialize(client, served.url)).status_code == 200
        assert served.transport.rate_limiter_size == 1
        await close_all(client, served)


async def test_rate_limit_uses_first_forwarded_hop_behind_trusted_proxy() -> None:
    clock = FakeClock()
    async with (
        serving(rate_limit=RateLimit(10.0, 1), clock=clock, trust_proxy=True) as served,
        raw_client() as client,
    ):

        async def post(forwarded: str) -> int:
            headers = {**SSE_ACCEPT, "X-Forwarded-For": forwarded}
            response = await client.post(served.url, json=LIST_TOOLS, headers=headers)
            return response.status_code

        assert await post("1.2.3.4, 10.0.0.1") == 400
        assert await post("1.2.3.4, 10.0.0.2") == 429
        assert await post("5.6.7.8") == 400
        assert [event.remote_ip for event in served.audit] == ["1.2.3.4", "1.2.3.4", "5.6.7.8"]
        assert served.transport.rate_limiter_size == 2


async def test_unauthenticated_requests_never_reach_the_rate_limiter() -> None:
    clock = FakeClock()
    async with (
        serving(rate_limit=RateLimit(10.0, 1), clock=clock, auth_bearer="t") as served,
        raw_client() as client,
    ):
        for _ in range(3):
            assert (await initialize(client, served.url)).status_code == 401
        assert served.transport.rate_limiter_size == 0
        response = await initialize(client, served.url, Authorization="Bearer t")
        assert response.status_code == 200
        await client.delete(
            served.url,
            headers={
                "Mcp-Session-Id": response.headers["mcp-session-id"],
                "Authorization": "Bearer t",
            },
        )


# -- body size, path, sessions ---------------------------------------------------------------


async def test_body_limit() -> None:
    async with serving(max_body_bytes=100) as served, raw_client() as client:
        big = await client.post(served.url, content=b"x" * 101, headers=SSE_ACCEPT)
        assert big.status_code == 413
        assert big.json() == {"error": "Payload Too Large"}

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"y" * 20

        # Without a Content-Length the body is counted as it arrives.
        streamed = await client.post(served.url, content=chunks(), headers=SSE_ACCEPT)
        assert streamed.status_code == 413
        assert served.audit == []  # refused bodies are not audited
        assert served.transport.session_count == 0
    async with serving() as served, raw_client() as client:
        just_over = await client.post(served.url, content=b" " * 1_048_577, headers=SSE_ACCEPT)
        assert just_over.status_code == 413
        normal = await initialize(client, served.url)
        assert normal.status_code == 200
        await close_all(client, served)


async def test_only_the_configured_path_is_served() -> None:
    async with serving() as served, raw_client() as client:
        other = await client.post(served.base + "/other", json=INITIALIZE, headers=SSE_ACCEPT)
        assert other.status_code == 404
        assert other.text == "Not Found"
        with_query = await client.post(served.url + "?x=1", json=INITIALIZE, headers=SSE_ACCEPT)
        assert with_query.status_code == 200
        await close_all(client, served)


async def test_session_routing_errors() -> None:
    async with serving() as served, raw_client() as client:
        unknown = {"Mcp-Session-Id": "no-such-session"}
        for method in ("GET", "POST", "DELETE"):
            response = await client.request(
                method, served.url, json=LIST_TOOLS, headers={**SSE_ACCEPT, **unknown}
            )
            assert response.status_code == 404, method
            assert response.json() == {"error": "Session not found"}
        for method in ("GET", "DELETE"):
            response = await client.request(method, served.url)
            assert response.status_code == 400, method
            assert response.json() == {"error": "Missing Mcp-Session-Id header"}
        put = await client.put(served.url, json=LIST_TOOLS)
        assert put.status_code == 405


async def test_only_initialize_opens_a_session() -> None:
    async with serving(max_sessions=1) as served, raw_client() as client:
        for body in (
            LIST_TOOLS,
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            [INITIALIZE],
            {"jsonrpc": "2.0", "method": "initialize", "params": INITIALIZE["params"]},
        ):
            response = await client.post(served.url, json=body, headers=SSE_ACCEPT)
            assert response.status_code == 400, body
            assert "mcp-session-id" not in response.headers
            error = response.json()
            assert error["jsonrpc"] == "2.0" and error["error"]["code"] == -32600
        assert response.json()["id"] is None
        listed = await client.post(served.url, json=LIST_TOOLS, headers=SSE_ACCEPT)
        assert listed.json()["id"] == 2
        garbage = await client.post(served.url, content=b"{not json", headers=SSE_ACCEPT)
        assert garbage.status_code == 400
        # D34: none of that allocated anything, so the one slot is still free.
        assert served.transport.session_count == 0
        # An initialize the SDK transport refuses (no SSE in Accept) keeps nothing either.
        refused = await client.post(
            served.url,
            json=INITIALIZE,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        assert refused.status_code == 406
        assert served.transport.session_count == 0
        opened = await initialize(client, served.url)
        assert opened.status_code == 200
        assert sse_messages(opened)[0]["result"]["serverInfo"]["name"] == "http-test"
        assert served.transport.session_count == 1
        await close_all(client, served)


async def test_max_sessions() -> None:
    async with serving(max_sessions=2) as served, raw_client() as client:
        assert (await initialize(client, served.url)).status_code == 200
        assert (await initialize(client, served.url)).status_code == 200
        served.audit.clear()
        third = await initialize(client, served.url)
        assert third.status_code == 429
        assert third.json() == {"error": "Too Many Sessions"}
        # One event for the POST and one for the refused session, both for initialize.
        assert [(e.method, e.rate_limited, e.auth_denied) for e in served.audit] == [
            ("initialize", False, False),
            ("initialize", False, False),
        ]
        assert served.transport.session_count == 2
        await close_all(client, served)
        assert (await initialize(client, served.url)).status_code == 200
        await close_all(client, served)


async def test_idle_session_expires_and_frees_its_slot() -> None:
    async with serving(max_sessions=1, session_idle_seconds=0.3) as served, raw_client() as client:
        first = await initialize(client, served.url)
        session_id = first.headers["mcp-session-id"]
        assert (await initialize(client, served.url)).status_code == 429
        with anyio.fail_after(5):
            while True:
                if served.transport.session_count == 0:
                    break
                await anyio.sleep(0.02)
        gone = await client.post(
            served.url, json=LIST_TOOLS, headers={**SSE_ACCEPT, "Mcp-Session-Id": session_id}
        )
        assert gone.status_code == 404
        assert (await initialize(client, served.url)).status_code == 200
        await close_all(client, served)


async def test_each_request_restarts_the_idle_countdown() -> None:
    async with serving(session_idle_seconds=0.4) as served, raw_client() as client:
        opened = await initialize(client, served.url)
        session = {**SSE_ACCEPT, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline:
            listed = await client.post(served.url, json=LIST_TOOLS, headers=session)
            assert listed.status_code == 200
            await anyio.sleep(0.1)
        assert served.transport.session_count == 1
        await close_all(client, served)


async def test_open_get_stream_keeps_the_session_alive() -> None:
    async with serving(session_idle_seconds=0.3) as served, sdk_client(served.url) as client:
        # The SDK client holds a GET stream open for server messages: not idle.
        await anyio.sleep(0.9)
        assert served.transport.session_count == 1
        assert (await client.call_tool("greet", {"name": "Al"})).structured_content == {
            "greeting": "HELLO, AL!"
        }


async def test_delete_closes_the_session() -> None:
    async with serving() as served, raw_client() as client:
        opened = await initialize(client, served.url)
        session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        accepted = await client.post(
            served.url, json=initialized, headers={**SSE_ACCEPT, **session}
        )
        assert accepted.status_code == 202
        listed = await client.post(served.url, json=LIST_TOOLS, headers={**SSE_ACCEPT, **session})
        assert [t["name"] for t in sse_messages(listed)[0]["result"]["tools"]] == ["greet"]
        closed = await client.delete(served.url, headers=session)
        assert closed.status_code == 200
        assert served.transport.session_count == 0
        after = await client.post(served.url, json=LIST_TOOLS, headers={**SSE_ACCEPT, **session})
        assert after.status_code == 404


async def test_audit_events_for_tool_calls() -> None:
    async with serving() as served, sdk_client(served.url) as client:
        before = time.time()
        await client.call_tool("greet", {"name": "Al"})
        calls = [event for event in served.audit if event.method == "tools/call"]
        assert len(calls) == 1
        event = calls[0]
        assert event.tool_name == "greet"
        assert not event.auth_denied and not event.rate_limited
        assert event.remote_ip == "127.0.0.1"
        assert before - 1 <= event.ts <= time.time()
        assert served.audit[0].method == "initialize" and served.audit[0].tool_name is None


async def test_failing_audit_callback_does_not_fail_requests() -> None:
    def broken(event: AuditEvent) -> None:
        raise RuntimeError("sink down")

    async with serving(audit_log=broken) as served, sdk_client(served.url) as client:
        result = await client.call_tool("greet", {"name": "Al"})
        assert not result.is_error
        assert "audit log callback failed" in served.log.getvalue()


async def test_wildcard_bind_warns_about_allowed_hosts(tmp_path: Path) -> None:
    async with serving(host="0.0.0.0", auth_bearer="t") as served, raw_client() as client:
        assert "no allowed_hosts given" in served.log.getvalue()
        port = served.url.split(":")[2].split("/")[0]
        response = await initialize(client, served.url, Authorization="Bearer t")
        assert response.status_code == 200  # Host 127.0.0.1 is loopback
        outside = await initialize(
            client, served.url, Authorization="Bearer t", Host=f"0.0.0.0:{port}"
        )
        assert outside.status_code == 421
        await client.delete(
            served.url,
            headers={
                "Mcp-Session-Id": response.headers["mcp-session-id"],
                "Authorization": "Bearer t",
            },
        )
