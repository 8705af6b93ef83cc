"""A mock MCP server for tests: in-process, or as a stdio subprocess.

In-process::

    async with await spawn_mock_mcp_server(MockMcpServerOpts(tools=[MockToolSpec("echo")])) as srv:
        assert await srv.call_tool("echo", {"text": "hi"}) == {
            "content": [{"type": "text", "text": "hi"}]
        }

As a subprocess (what a runner under test launches)::

    cmd = mock_mcp_subprocess_command(opts)
    # -> python -m ageflow.testing.mock_mcp_server --config <base64 JSON>

The MCP SDK takes seconds to import, so it is imported only where it is needed: the
subprocess's early exits (bad config, crash or hang on ``initialize``) never load it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from ageflow.testing.mock_mcp_config import (
    McpPhase,
    MockMcpServerOpts,
    MockToolSpec,
    SubprocessCommand,
    decode_config,
    encode_config,
)

if TYPE_CHECKING:
    from mcp import Client

__all__ = [
    "McpPhase",
    "MockMcpServerHandle",
    "MockMcpServerOpts",
    "MockMcpStartError",
    "MockMcpTimeoutError",
    "MockToolSpec",
    "SubprocessCommand",
    "main",
    "mock_mcp_subprocess_command",
    "spawn_mock_mcp_server",
]

MODULE = "ageflow.testing.mock_mcp_server"


class MockMcpStartError(RuntimeError):
    """The in-process mock was told to crash on ``initialize``."""

    code = "mcp_server_start_failed"


class MockMcpTimeoutError(TimeoutError):
    """A ``call_tool(..., timeout_ms=...)`` got no answer in time."""

    code = "timeout"


def mock_mcp_subprocess_command(opts: MockMcpServerOpts) -> SubprocessCommand:
    """The command that serves ``opts`` over stdio, run with this interpreter."""
    return SubprocessCommand(sys.executable, ["-m", MODULE, "--config", encode_config(opts)])


def _result_to_wire(result: Any) -> dict[str, Any]:
    """A ``CallToolResult`` as a plain dict; ``isError`` only when true, so tests can compare."""
    wire: dict[str, Any] = {
        "content": [
            block.model_dump(by_alias=True, exclude_none=True, mode="json")
            for block in result.content
        ]
    }
    if result.structured_content is not None:
        wire["structuredContent"] = result.structured_content
    if result.is_error:
        wire["isError"] = True
    return wire


class MockMcpServerHandle:
    """A connected client of an in-process mock server.

    The server runs in a task group owned by this handle, so ``stop()`` (or leaving
    ``async with``) must happen in the task that called ``spawn_mock_mcp_server``;
    pytest fixtures and tests of the anyio plugin share one task, so that holds there.
    """

    def __init__(self, client: Client, stack: AsyncExitStack) -> None:
        self._client = client
        self._stack = stack
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def list_tools(self) -> list[dict[str, Any]]:
        """The advertised tools in wire form: ``{name, description, inputSchema}``."""
        result = await self._client.list_tools()
        return [
            tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in result.tools
        ]

    async def call_tool(
        self, name: str, args: dict[str, Any] | None = None, timeout_ms: int | None = None
    ) -> dict[str, Any]:
        """Call a tool; raises ``MockMcpTimeoutError`` when ``timeout_ms`` runs out first."""
        from mcp import MCPError
        from mcp.types import (
            REQUEST_TIMEOUT,
            CallToolRequest,
            CallToolRequestParams,
            CallToolResult,
        )

        request = CallToolRequest(params=CallToolRequestParams(name=name, arguments=args))
        timeout = None if timeout_ms is None else timeout_ms / 1000
        try:
            # Sent as a bare request: the SDK's Client.call_tool first runs tools/list to
            # learn output schemas, which would tie every call to the tools/list behaviour.
            result = await self._client.session.send_request(
                request, CallToolResult, request_read_timeout_seconds=timeout
            )
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise MockMcpTimeoutError("timeout: MCP tool call timed out") from exc
            raise
        return _result_to_wire(result)

    async def stop(self) -> None:
        """Disconnect and stop the server; calling it again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        await self._stack.aclose()

    async def __aenter__(self) -> MockMcpServerHandle:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def _raise_crash(phase: McpPhase) -> NoReturn:
    from mcp import MCPError
    from mcp.types import INTERNAL_ERROR

    # An MCPError becomes the JSON-RPC error answer as is; any other exception would
    # too, but with a logged traceback that only adds noise to test output.
    raise MCPError(code=INTERNAL_ERROR, message=f"mock crash on {phase}")


class _MockMcpSpawner:
    """``spawn_mock_mcp_server``: awaitable with the original's ``as_subprocess_command``."""

    async def __call__(self, opts: MockMcpServerOpts) -> MockMcpServerHandle:
        """Start an in-process mock server and connect an SDK client to it.

        Raises ``MockMcpStartError`` at once for ``crash_on="initialize"``; never returns for
        ``hang_on="initialize"`` (bound it with a timeout).
        """
        if opts.crash_on == "initialize":
            raise MockMcpStartError("mcp_server_start_failed: mock crash on initialize")
        from mcp import Client

        from ageflow.testing.mock_mcp_app import build_mock_mcp_server

        server = build_mock_mcp_server(opts, _raise_crash)
        # The handshake mode drives the JSON-RPC stream loop like a stdio client does;
        # no response cache, so each list_tools reaches the server.
        client = Client(server, mode="legacy", cache=None)
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(client)
            return MockMcpServerHandle(client, stack.pop_all())

    @staticmethod
    def as_subprocess_command(opts: MockMcpServerOpts) -> SubprocessCommand:
        return mock_mcp_subprocess_command(opts)


spawn_mock_mcp_server = _MockMcpSpawner()


# --- subprocess entry point -------------------------------------------------------------


def _config_arg(argv: Sequence[str]) -> str:
    for index, arg in enumerate(argv):
        if arg == "--config":
            if index + 1 >= len(argv):
                raise ValueError("--config needs a value")
            return argv[index + 1]
        if arg.startswith("--config="):
            return arg.removeprefix("--config=")
    raise ValueError("missing --config <base64 JSON>")


def _die(message: str) -> NoReturn:
    """End the process the abrupt way a crashing server does: no cleanup, exit code 1."""
    import os

    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    os._exit(1)


def _crash_process(phase: McpPhase) -> NoReturn:
    _die(f"mock-mcp: crashing on {phase}")


def _drain_stdin() -> None:
    """Read and drop every request until the client closes stdin: a server that never answers."""
    while sys.stdin.buffer.read(65536):
        pass


async def _serve_stdio(opts: MockMcpServerOpts) -> None:
    from mcp.server.stdio import stdio_server

    from ageflow.testing.mock_mcp_app import build_mock_mcp_server

    server = build_mock_mcp_server(opts, _crash_process)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the mock over stdio until stdin closes; the exit code is the process's."""
    args = sys.argv[1:] if argv is None else argv
    try:
        opts = decode_config(_config_arg(args))
    except ValueError as exc:
        sys.stderr.write(f"mock-mcp-server-script error: {exc}\n")
        return 1
    if opts.crash_on == "initialize":
        # Before speaking MCP at all: stderr-capturing tests look for this exact line.
        sys.stderr.write("mock-mcp: crashing on initialize\n")
        return 1
    if opts.hang_on == "initialize":
        _drain_stdin()
        return 0
    import anyio

    anyio.run(_serve_stdio, opts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
