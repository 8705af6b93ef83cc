"""An HTTP MCP server process for the HTTP transport tests (not a test module).

Usage: python mcp_http_child.py DB PIDFILE

Serves two function-task workflows in async mode on the SQLite job file DB over
Streamable HTTP on 127.0.0.1 with an OS-assigned port: ``greet`` (no checkpoint) and
``review`` (its second task waits at a checkpoint). The banner on stderr names the URL.
The process writes its pid to PIDFILE before serving so a test can SIGKILL it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from mcp_greeting import greeting_workflow

from ageflow.mcp_server import create_mcp_server
from ageflow.mcp_server.http import HttpOptions, serve_http


async def main(db: str) -> None:
    server = create_mcp_server(
        [
            greeting_workflow("greet", checkpoint=False),
            greeting_workflow("review", checkpoint=True),
        ],
        name="http-child",
        async_mode=True,
        job_db_path=db,
    )
    await serve_http(server, HttpOptions(port=0))


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(str(os.getpid()))
    anyio.run(main, sys.argv[1])
