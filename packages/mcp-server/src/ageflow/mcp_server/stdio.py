"""The stdio transport: one MCP client talking to this process over stdin and stdout."""

from __future__ import annotations

import sys
from typing import TextIO

from mcp.server.stdio import stdio_server

from ageflow.mcp_server.server import McpServer


async def serve_stdio(server: McpServer, *, log: TextIO | None = None) -> None:
    """Serve ``server`` over this process's stdin and stdout until stdin closes.

    The whole session runs inside ``server.running()``, so in async mode the job store
    is open and unfinished jobs are recovered before the first request is read. stdout
    carries only protocol messages: while serving, the SDK points file descriptor 1 at
    stderr, so stray prints cannot corrupt the stream. The one-line banner goes to
    ``log`` (stderr by default).
    """
    sdk_server = server.server
    out = sys.stderr if log is None else log
    async with server.running():
        print(f"[ageflow mcp] {server.name}@{server.version} listening on stdio", file=out)
        out.flush()
        async with stdio_server() as (read_stream, write_stream):
            await sdk_server.run(
                read_stream, write_stream, sdk_server.create_initialization_options()
            )
