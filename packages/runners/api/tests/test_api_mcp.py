"""MCP tools: the stdio client against the test kit's mock server (real subprocesses),
the adapter's allowlist and refine rules, and pooling inside ApiRunner."""

from __future__ import annotations

import importlib.metadata
import logging
import os
from typing import Any

import anyio
import pytest
from pydantic import BaseModel, field_validator

from ageflow.core.errors import (
    McpServerStartFailedError,
    McpTimeoutError,
    McpToolArgInvalidError,
    McpToolCallFailedError,
)
from ageflow.core.mcp import McpServerConfig, McpToolDescriptor
from ageflow.core.runner import RunnerSpawnArgs
from ageflow.runners.api import (
    RUNNER_NAME,
    RUNNER_VERSION,
    ApiRunner,
    McpPoolCollisionError,
    mcp_tools_to_registry,
    start_mcp_client,
)

pytestmark = pytest.mark.anyio

INFO = {"name": RUNNER_NAME, "version": RUNNER_VERSION}


class CapturingLogger(logging.Logger):
    def __init__(self) -> None:
        super().__init__("capture")
        self.lines: list[str] = []

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.lines.append(str(msg))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class FakeClient:
    """An McpClient double: lists given tools, records calls and stops."""

    def __init__(self, config: McpServerConfig, tools: list[str] | None = None) -> None:
        self.config = config
        self.alive = True
        self.tools = tools or ["echo"]
        self.calls: list[tuple[str, Any]] = []
        self.stops = 0

    async def list_tools(self) -> list[McpToolDescriptor]:
        return [McpToolDescriptor(name=t, description=f"{t} tool") for t in self.tools]

    async def call_tool(self, name: str, args: Any) -> Any:
        self.calls.append((name, args))
        return {"content": [{"type": "text", "text": f"{name} ok"}], "isError": False}

    async def stop(self) -> None:
        self.stops += 1
        self.alive = False


def test_runner_version_is_the_package_version():
    assert importlib.metadata.version("ageflow-runner-api") == RUNNER_VERSION


async def test_client_lists_and_calls_then_stops(mcp_config_factory):
    config = mcp_config_factory(env={"MY_VAR": "${env:__NONEXISTENT_VAR__}"})
    client = await start_mcp_client(config, client_info=INFO)
    try:
        assert [t.name for t in await client.list_tools()] == ["echo"]
        result = await client.call_tool("echo", {"text": "hi"})
        assert result["content"] == [{"type": "text", "text": "hi"}]
    finally:
        await client.stop()
    assert not client.alive
    assert not pid_alive(client.pid)


async def test_missing_binary_fails_to_start():
    config = McpServerConfig(name="ghost", command="/no/such/binary")
    with pytest.raises(McpServerStartFailedError) as info:
        await start_mcp_client(config, client_info=INFO)
    assert info.value.code == "mcp_server_start_failed"
    assert info.value.server_name == "ghost"


async def test_crash_on_initialize_is_logged_and_fails_start(mcp_config_factory):
    logger = CapturingLogger()
    config = mcp_config_factory(name="crashing", crash_on="initialize")
    with pytest.raises(McpServerStartFailedError):
        await start_mcp_client(config, client_info=INFO, logger=logger)
    assert any("[mcp:crashing]" in line for line in logger.lines)
    assert any("crashing on initialize" in line for line in logger.lines)
    with pytest.raises(McpServerStartFailedError):  # no logger: still the start error
        await start_mcp_client(config, client_info=INFO)


async def test_call_timeout_kills_the_server(mcp_config_factory):
    config = mcp_config_factory(hang_on="call", mcp_call_timeout_ms=100)
    client = await start_mcp_client(config, client_info=INFO)
    try:
        with pytest.raises(McpTimeoutError) as info:
            await client.call_tool("echo", {"text": "x"})
        assert info.value.timeout_ms == 100
        assert not client.alive
        with anyio.fail_after(1):
            while pid_alive(client.pid):  # noqa: ASYNC110 - polling another process
                await anyio.sleep(0.02)
    finally:
        await client.stop()


async def test_fast_calls_leave_the_server_alive(mcp_config_factory):
    config = mcp_config_factory(mcp_call_timeout_ms=2000)
    client = await start_mcp_client(config, client_info=INFO)
    try:
        for i in range(3):
            await client.call_tool("echo", {"text": str(i)})
        assert client.alive and pid_alive(client.pid)
    finally:
        await client.stop()


async def test_is_error_result_raises(mcp_config_factory):
    client = await start_mcp_client(mcp_config_factory(is_error_on="echo"), client_info=INFO)
    try:
        with pytest.raises(McpToolCallFailedError) as info:
            await client.call_tool("echo", {"text": "x"})
        assert info.value.code == "mcp_tool_call_failed"
    finally:
        await client.stop()


# -- adapter ------------------------------------------------------------------------------


async def test_adapter_namespaces_and_filters():
    config = McpServerConfig(name="fs", command="x")
    client = FakeClient(config, ["read_file", "delete_file"])
    assert list(await mcp_tools_to_registry([client])) == [
        "mcp__fs__read_file",
        "mcp__fs__delete_file",
    ]
    limited = FakeClient(config.model_copy(update={"tools": ["read_file"]}), client.tools)
    registry = await mcp_tools_to_registry([limited])
    assert list(registry) == ["mcp__fs__read_file"]
    assert registry["mcp__fs__read_file"].parameters == {"type": "object"}
    assert registry["mcp__fs__read_file"].description == "read_file tool"
    assert await mcp_tools_to_registry([FakeClient(config.model_copy(update={"tools": []}))]) == {}


class NotEtc(BaseModel):
    path: str

    @field_validator("path")
    @classmethod
    def _not_etc(cls, value: str) -> str:
        if value.startswith("/etc"):
            raise ValueError("no /etc")
        return value


async def test_refine_rejects_and_gates_the_call():
    config = McpServerConfig(name="fs", command="x", refine={"read_file": NotEtc})
    client = FakeClient(config, ["read_file"])
    tool = (await mcp_tools_to_registry([client]))["mcp__fs__read_file"]
    with pytest.raises(McpToolArgInvalidError, match="no /etc") as info:
        await tool.execute({"path": "/etc/passwd"})
    assert info.value.code == "mcp_tool_arg_invalid"
    assert client.calls == []
    args = {"path": "ok.txt", "extra": 1}
    await tool.execute(args)
    assert client.calls == [("read_file", args)]  # the original arguments are forwarded


@pytest.mark.parametrize(
    ("refine", "kind"),
    [({"type": "object"}, "object"), (None, "null"), ("str", "string"), (42, "number")],
)
async def test_refine_that_is_not_a_schema(refine, kind):
    config = McpServerConfig(name="fs", command="x", refine={"read_file": refine})
    client = FakeClient(config, ["read_file"])
    tool = (await mcp_tools_to_registry([client]))["mcp__fs__read_file"]
    with pytest.raises(McpToolArgInvalidError, match=f"not a pydantic schema — got {kind}"):
        await tool.execute({"path": "a"})
    assert client.calls == []


# -- runner -------------------------------------------------------------------------------


async def test_runner_calls_a_real_mcp_tool(fake_openai, make_tool_call, mcp_config_factory):
    fake_openai.call_tools(make_tool_call("c1", "mcp__mock__echo", {"text": "hello"}))
    fake_openai.reply("done with echo")
    runner = ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m")
    try:
        result = await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[mcp_config_factory()]))
    finally:
        await runner.shutdown()
    assert result.stdout == "done with echo"
    assert [c.name for c in result.tool_calls] == ["mcp__mock__echo"]
    assert result.tool_calls[0].result["content"] == [{"type": "text", "text": "hello"}]
    advertised = [t["function"]["name"] for t in fake_openai.chat_requests[0].body["tools"]]
    assert advertised == ["mcp__mock__echo"]
    tool_message = fake_openai.chat_requests[1].body["messages"][-1]
    assert '"text":"hello"' in tool_message["content"]


async def test_runner_start_failure_is_logged(fake_openai, mcp_config_factory):
    logger = CapturingLogger()
    runner = ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m", logger=logger)
    config = mcp_config_factory(name="crashing", crash_on="initialize")
    with pytest.raises(McpServerStartFailedError):
        await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[config]))
    assert any("[mcp:crashing]" in line for line in logger.lines)
    assert fake_openai.chat_requests == []
    await runner.shutdown()


def fake_starter(started: list[FakeClient], fail: set[str] | None = None):
    async def start(config: McpServerConfig) -> FakeClient:
        if fail and config.name in fail:
            raise McpServerStartFailedError(config.name, "boom")
        client = FakeClient(config)
        started.append(client)
        return client

    return start


async def test_pool_reuses_identical_configs_and_rejects_collisions(fake_openai):
    started: list[FakeClient] = []
    runner = ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", mcp_starter=fake_starter(started)
    )
    shared = McpServerConfig(name="shared", command="/bin/a", reuse_per_runner=True)
    for _ in range(2):
        fake_openai.reply("ok")
        await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[shared]))
    assert len(started) == 1 and started[0].stops == 0

    other = shared.model_copy(update={"command": "/bin/b"})
    with pytest.raises(McpPoolCollisionError, match="shared") as info:
        await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[other]))
    assert info.value.code == "mcp_pool_collision"
    stricter = shared.model_copy(update={"mcp_call_timeout_ms": 5})
    with pytest.raises(McpPoolCollisionError):
        await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[stricter]))

    await runner.shutdown()
    await runner.shutdown()  # idempotent
    assert started[0].stops == 1


async def test_dead_pooled_server_is_replaced(fake_openai):
    started: list[FakeClient] = []
    runner = ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", mcp_starter=fake_starter(started)
    )
    shared = McpServerConfig(name="shared", command="/bin/a", reuse_per_runner=True)
    fake_openai.reply("ok")
    await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[shared]))
    started[0].alive = False  # e.g. killed after a call timeout
    fake_openai.reply("ok")
    await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=[shared]))
    assert len(started) == 2 and started[0].stops == 1
    await runner.shutdown()


async def test_partial_start_failure_stops_the_started_ones(fake_openai):
    started: list[FakeClient] = []
    runner = ApiRunner(
        base_url=fake_openai.base_url,
        api_key="k",
        model="m",
        mcp_starter=fake_starter(started, fail={"server_b"}),
    )
    servers = [
        McpServerConfig(name="server_a", command="a"),
        McpServerConfig(name="server_b", command="b"),
    ]
    with pytest.raises(McpServerStartFailedError):
        await runner.spawn(RunnerSpawnArgs(prompt="p", mcp_servers=servers))
    assert [c.config.name for c in started] == ["server_a"]
    assert started[0].stops == 1


async def test_per_spawn_servers_stop_after_the_turn_and_mcp_is_additive(
    fake_openai, make_tool_call
):
    started: list[FakeClient] = []
    runner = ApiRunner(
        base_url=fake_openai.base_url, api_key="k", model="m", mcp_starter=fake_starter(started)
    )
    fake_openai.call_tools(make_tool_call("c1", "mcp__srv__echo", {"text": "x"}))
    fake_openai.reply("ok")
    await runner.spawn(
        RunnerSpawnArgs(
            prompt="p", tools=["other"], mcp_servers=[McpServerConfig(name="srv", command="c")]
        )
    )
    assert started[0].calls == [("echo", {"text": "x"})]
    assert started[0].stops == 1
    advertised = [t["function"]["name"] for t in fake_openai.chat_requests[0].body["tools"]]
    assert advertised == ["mcp__srv__echo"]

    # Deny-all covers MCP tools as well.
    fake_openai.reply("nothing")
    await runner.spawn(
        RunnerSpawnArgs(
            prompt="p", tools=[], mcp_servers=[McpServerConfig(name="srv", command="c")]
        )
    )
    assert "tools" not in fake_openai.chat_requests[-1].body
    await runner.shutdown()


async def test_server_crashing_on_tools_list_fails_the_turn_and_is_stopped(
    fake_openai, mcp_config_factory
):
    from ageflow.core.errors import McpServerCrashedError

    clients: list[Any] = []

    async def start(config: McpServerConfig):
        client = await start_mcp_client(config, client_info=INFO)
        clients.append(client)
        return client

    runner = ApiRunner(base_url=fake_openai.base_url, api_key="k", model="m", mcp_starter=start)
    with pytest.raises(McpServerCrashedError):
        await runner.spawn(
            RunnerSpawnArgs(prompt="p", mcp_servers=[mcp_config_factory(crash_on="tools/list")])
        )
    assert fake_openai.chat_requests == []
    assert not clients[0].alive and not pid_alive(clients[0].pid)
    await runner.shutdown()
