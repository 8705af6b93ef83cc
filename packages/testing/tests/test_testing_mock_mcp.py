"""The mock MCP server: as a stdio subprocess driven by the SDK's real client, and in-process."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.types import (
    CONNECTION_CLOSED,
    REQUEST_TIMEOUT,
    CallToolRequest,
    CallToolRequestParams,
    CallToolResult,
    TextContent,
)

from ageflow.testing.mock_mcp_config import decode_config, encode_config, opts_from_wire
from ageflow.testing.mock_mcp_server import (
    MODULE,
    MockMcpServerOpts,
    MockMcpStartError,
    MockMcpTimeoutError,
    MockToolSpec,
    mock_mcp_subprocess_command,
    spawn_mock_mcp_server,
)

ECHO = MockToolSpec(
    "echo",
    description="Echo the text back",
    input_schema={"properties": {"text": {"type": "string"}}, "required": ["text"]},
)
FAIL = MockToolSpec("fail")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def leaves(exc: BaseException) -> list[BaseException]:
    """The SDK client raises through task groups; look at the errors inside."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]


def mcp_error_codes(exc: BaseException) -> list[int]:
    return [leaf.code for leaf in leaves(exc) if isinstance(leaf, MCPError)]


def stdio_client_for(opts: MockMcpServerOpts, errlog, mode: str = "legacy") -> Client:
    cmd = mock_mcp_subprocess_command(opts)
    params = StdioServerParameters(command=cmd.command, args=cmd.args)
    return Client(stdio_client(params, errlog=errlog), mode=mode)


def text_of(result: CallToolResult) -> str:
    [block] = result.content
    assert isinstance(block, TextContent)
    return block.text


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "0"},
    },
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
CALL = {
    "jsonrpc": "2.0",
    "id": 3,
    "method": "tools/call",
    "params": {"name": "echo", "arguments": {"text": "hi"}},
}


async def converse(
    args: list[str], messages: list[dict[str, Any]], *, await_answers: bool = True
) -> tuple[int, list[dict[str, Any]], bytes]:
    """Speak raw JSON-RPC: send each message, wait for the answer to each request, stop at EOF.

    Used where the SDK client hides what a test must see: the exit code and which
    requests got an answer before the process died.
    """
    answers: list[dict[str, Any]] = []
    async with await anyio.open_process(
        [sys.executable, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdin and process.stdout and process.stderr
        stdout = BufferedByteReceiveStream(process.stdout)
        try:
            for message in messages:
                await process.stdin.send(json.dumps(message).encode() + b"\n")
                if await_answers and "id" in message:
                    answers.append(json.loads(await stdout.receive_until(b"\n", 1 << 20)))
        except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError):
            pass  # the server is gone; what it answered so far is the result
        await process.stdin.aclose()
        with anyio.move_on_after(5):  # bound only against a regression that would hang
            async for line in stdout_lines(stdout):
                answers.append(json.loads(line))
        stderr = b"".join([chunk async for chunk in process.stderr])
        code = await process.wait()
    return code, answers, stderr


async def stdout_lines(stdout: BufferedByteReceiveStream):
    while True:
        try:
            yield await stdout.receive_until(b"\n", 1 << 20)
        except (anyio.EndOfStream, anyio.IncompleteRead):
            return


# --- subprocess mode ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_subprocess_lists_echoes_and_reports_tool_errors(tmp_path) -> None:
    opts = MockMcpServerOpts(tools=[ECHO, FAIL], is_error_on="fail")
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with stdio_client_for(opts, errlog) as client:
            info = client.server_info
            assert info is not None
            assert (info.name, info.version) == ("mock-mcp", "0.0.1")
            assert client.server_capabilities.tools is not None

            listed = await client.list_tools()
            assert [t.model_dump(by_alias=True, exclude_none=True) for t in listed.tools] == [
                {
                    "name": "echo",
                    "description": "Echo the text back",
                    "inputSchema": {
                        "type": "object",
                        "properties": {"text": {"type": "string"}},
                        "required": ["text"],
                    },
                },
                {"name": "fail", "description": "", "inputSchema": {"type": "object"}},
            ]

            hi = await client.call_tool("echo", {"text": "hi"})
            assert (text_of(hi), hi.is_error) == ("hi", False)
            # Anything but a string "text" is echoed as compact JSON, non-ASCII kept.
            assert text_of(await client.call_tool("echo", {"text": 5, "b": "ü"})) == (
                '{"text":5,"b":"ü"}'
            )
            assert text_of(await client.call_tool("echo", None)) == "{}"

            failed = await client.call_tool("fail", {"text": "x"})
            assert (text_of(failed), failed.is_error) == ("error: tool fail failed", True)


@pytest.mark.anyio
async def test_subprocess_serves_a_client_in_auto_mode(tmp_path) -> None:
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with stdio_client_for(MockMcpServerOpts(tools=[ECHO]), errlog, mode="auto") as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["echo"]
            assert text_of(await client.call_tool("echo", {"text": "modern"})) == "modern"


@pytest.mark.anyio
async def test_subprocess_crash_on_initialize_exits_before_speaking_mcp(tmp_path) -> None:
    opts = MockMcpServerOpts(tools=[ECHO], crash_on="initialize")

    code, answers, stderr = await converse(mock_mcp_subprocess_command(opts).args, [INITIALIZE])
    assert (code, answers) == (1, [])
    assert stderr.endswith(b"mock-mcp: crashing on initialize\n")

    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as errlog, pytest.raises(Exception) as info:
        async with stdio_client_for(opts, errlog):
            pass
    assert mcp_error_codes(info.value) == [CONNECTION_CLOSED]
    assert "mock-mcp: crashing on initialize" in stderr_path.read_text()


@pytest.mark.anyio
@pytest.mark.parametrize(("phase", "answered"), [("tools/list", [1]), ("call", [1, 2])])
async def test_subprocess_crash_on_a_request_exits_1(phase, answered) -> None:
    opts = MockMcpServerOpts(tools=[ECHO], crash_on=phase)

    code, answers, stderr = await converse(
        mock_mcp_subprocess_command(opts).args, [INITIALIZE, INITIALIZED, LIST, CALL]
    )

    assert code == 1
    assert [answer["id"] for answer in answers] == answered
    assert all("result" in answer for answer in answers)
    assert stderr.endswith(f"mock-mcp: crashing on {phase}\n".encode())


@pytest.mark.anyio
async def test_subprocess_crash_on_call_fails_the_sdk_call(tmp_path) -> None:
    opts = MockMcpServerOpts(tools=[ECHO], crash_on="call")
    stderr_path = tmp_path / "stderr.txt"

    with stderr_path.open("w") as errlog, pytest.raises(Exception) as info:
        async with stdio_client_for(opts, errlog) as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["echo"]
            await client.call_tool("echo", {"text": "boom"})

    assert mcp_error_codes(info.value) == [CONNECTION_CLOSED]
    assert "mock-mcp: crashing on call" in stderr_path.read_text()


@pytest.mark.anyio
async def test_subprocess_hang_on_call_times_out_on_the_client(tmp_path) -> None:
    opts = MockMcpServerOpts(tools=[ECHO], hang_on="call")
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with stdio_client_for(opts, errlog) as client:
            assert [t.name for t in (await client.list_tools()).tools] == ["echo"]
            with pytest.raises(MCPError) as info:
                await client.call_tool("echo", {"text": "x"}, read_timeout_seconds=0.3)
            assert info.value.code == REQUEST_TIMEOUT


@pytest.mark.anyio
async def test_subprocess_hang_on_tools_list_times_out_on_the_client(tmp_path) -> None:
    opts = MockMcpServerOpts(tools=[ECHO], hang_on="tools/list")
    with (tmp_path / "stderr.txt").open("w") as errlog:
        async with stdio_client_for(opts, errlog) as client:
            with pytest.raises(TimeoutError), anyio.fail_after(0.3):
                await client.list_tools()
            # Only that request hangs; the connection still serves calls. (Sent raw:
            # Client.call_tool would first list tools to learn the output schema.)
            alive = await client.session.send_request(
                CallToolRequest(params=CallToolRequestParams(name="echo", arguments={"text": "a"})),
                CallToolResult,
            )
            assert text_of(alive) == "a"


@pytest.mark.anyio
async def test_subprocess_hang_on_initialize_never_answers(tmp_path) -> None:
    opts = MockMcpServerOpts(tools=[ECHO], hang_on="initialize")

    # It reads requests until stdin closes and answers none of them.
    code, answers, stderr = await converse(
        mock_mcp_subprocess_command(opts).args, [INITIALIZE], await_answers=False
    )
    assert (code, answers, stderr) == (0, [], b"")

    with (tmp_path / "stderr.txt").open("w") as errlog, pytest.raises(TimeoutError):
        with anyio.fail_after(0.5):
            async with stdio_client_for(opts, errlog):
                pass


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "missing --config"),
        (["--config"], "--config needs a value"),
        (["--config", ""], "--config is empty"),
        (["--config", "not base64!"], "--config is not base64 of a JSON object"),
        (
            ["--config=" + base64.b64encode(b'{"tools":[],"crashOn":"boot"}').decode()],
            "config.crashOn must be one of",
        ),
    ],
)
async def test_subprocess_rejects_a_missing_or_bad_config(args, message) -> None:
    code, answers, stderr = await converse(["-m", MODULE, *args], [INITIALIZE])

    assert (code, answers) == (1, [])
    assert stderr.decode().startswith(f"mock-mcp-server-script error: {message}")


def test_subprocess_command_carries_the_options() -> None:
    opts = MockMcpServerOpts(tools=[ECHO, FAIL], crash_on="call", hang_on="tools/list")

    cmd = spawn_mock_mcp_server.as_subprocess_command(opts)

    assert cmd == mock_mcp_subprocess_command(opts)
    assert cmd.command == sys.executable
    assert cmd.args[:3] == ["-m", "ageflow.testing.mock_mcp_server", "--config"]
    wire = json.loads(base64.b64decode(cmd.args[3]))
    assert wire == {
        "tools": [
            {
                "name": "echo",
                "description": "Echo the text back",
                "inputSchema": {
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                },
            },
            {"name": "fail"},
        ],
        "crashOn": "call",
        "hangOn": "tools/list",
    }
    assert decode_config(cmd.args[3]) == MockMcpServerOpts(
        tools=(ECHO, FAIL), crash_on="call", hang_on="tools/list"
    )


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        ([], "config must be a JSON object"),
        ({"tools": {}}, "config.tools must be a list"),
        ({"tools": [{"description": "x"}]}, r"config.tools\[0\] must be an object"),
        ({"tools": [{"name": "a", "inputSchema": []}]}, r"inputSchema must be an object"),
        ({"tools": [], "hangOn": "later"}, "config.hangOn must be one of"),
        ({"tools": [], "isErrorOn": 3}, "config.isErrorOn must be a string"),
    ],
)
def test_config_validation(wire, message) -> None:
    with pytest.raises(ValueError, match=message):
        opts_from_wire(wire)


def test_config_roundtrip_keeps_non_ascii() -> None:
    opts = MockMcpServerOpts(tools=(MockToolSpec("grüß", description="ü"),), is_error_on="grüß")
    assert decode_config(encode_config(opts)) == opts


# --- in-process mode ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_in_process_lists_echoes_and_reports_tool_errors() -> None:
    opts = MockMcpServerOpts(tools=[ECHO, FAIL], is_error_on="fail")
    async with await spawn_mock_mcp_server(opts) as server:
        assert await server.list_tools() == [
            {
                "name": "echo",
                "description": "Echo the text back",
                "inputSchema": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                },
            },
            {"name": "fail", "description": "", "inputSchema": {"type": "object"}},
        ]
        # A successful result has no isError key, so it compares equal to the bare content.
        assert await server.call_tool("echo", {"text": "hi"}) == {
            "content": [{"type": "text", "text": "hi"}]
        }
        assert await server.call_tool("echo", {"n": [1, 2]}) == {
            "content": [{"type": "text", "text": '{"n":[1,2]}'}]
        }
        assert await server.call_tool("fail") == {
            "content": [{"type": "text", "text": "error: tool fail failed"}],
            "isError": True,
        }
    assert server.stopped


@pytest.mark.anyio
async def test_in_process_crash_on_initialize_raises_at_once() -> None:
    with pytest.raises(
        MockMcpStartError, match=r"^mcp_server_start_failed: mock crash on initialize$"
    ):
        await spawn_mock_mcp_server(MockMcpServerOpts(tools=[ECHO], crash_on="initialize"))


@pytest.mark.anyio
async def test_in_process_crash_on_tools_list_is_a_jsonrpc_error() -> None:
    opts = MockMcpServerOpts(tools=[ECHO], crash_on="tools/list")
    async with await spawn_mock_mcp_server(opts) as server:
        with pytest.raises(MCPError, match="mock crash on tools/list"):
            await server.list_tools()
        assert await server.call_tool("echo", {"text": "still up"}) == {
            "content": [{"type": "text", "text": "still up"}]
        }


@pytest.mark.anyio
async def test_in_process_crash_on_call_is_a_jsonrpc_error() -> None:
    opts = MockMcpServerOpts(tools=[ECHO], crash_on="call")
    async with await spawn_mock_mcp_server(opts) as server:
        assert [tool["name"] for tool in await server.list_tools()] == ["echo"]
        with pytest.raises(MCPError, match="mock crash on call"):
            await server.call_tool("echo", {"text": "x"})


@pytest.mark.anyio
async def test_in_process_hang_on_call_times_out() -> None:
    opts = MockMcpServerOpts(tools=[ECHO], hang_on="call")
    async with await spawn_mock_mcp_server(opts) as server:
        with pytest.raises(MockMcpTimeoutError, match="timeout"):
            await server.call_tool("echo", {"text": "x"}, timeout_ms=100)
        # Without a timeout the same call would wait forever; the client's own bound works too.
        with pytest.raises(TimeoutError), anyio.fail_after(0.1):
            await server.call_tool("echo", {"text": "x"})


@pytest.mark.anyio
async def test_in_process_hang_on_tools_list() -> None:
    opts = MockMcpServerOpts(tools=[ECHO], hang_on="tools/list")
    async with await spawn_mock_mcp_server(opts) as server:
        with pytest.raises(TimeoutError), anyio.fail_after(0.1):
            await server.list_tools()


@pytest.mark.anyio
async def test_in_process_hang_on_initialize_never_returns() -> None:
    with pytest.raises(TimeoutError), anyio.fail_after(0.2):
        await spawn_mock_mcp_server(MockMcpServerOpts(tools=[ECHO], hang_on="initialize"))


@pytest.mark.anyio
async def test_in_process_stop_is_idempotent_and_final() -> None:
    server = await spawn_mock_mcp_server(MockMcpServerOpts(tools=[ECHO]))
    await server.stop()
    await server.stop()

    assert server.stopped
    with pytest.raises(Exception):  # noqa: B017 - whatever the SDK raises on a closed client
        await server.call_tool("echo", {"text": "x"})


@pytest.mark.anyio
async def test_fixture_spawns_servers_that_work(mock_mcp_server) -> None:
    first = await mock_mcp_server(MockMcpServerOpts(tools=[ECHO]))
    second = await mock_mcp_server(MockMcpServerOpts(tools=[FAIL], is_error_on="fail"))

    assert (await first.call_tool("echo", {"text": "1"}))["content"][0]["text"] == "1"
    assert (await second.call_tool("fail"))["isError"] is True
    assert not first.stopped  # the fixture stops them after the test


def test_subprocess_module_does_not_import_the_sdk_up_front() -> None:
    """The early exits of the subprocess must not pay seconds for importing the SDK."""
    probe = (
        "import sys\n"
        "import ageflow.testing\n"
        "before = set(sys.modules)\n"
        "import ageflow.testing.mock_mcp_server, ageflow.testing.fake_cli\n"
        "print(sorted(m for m in set(sys.modules) - before if m.split('.')[0] == 'mcp'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, check=True)
    assert done.stdout.strip() == b"[]"
