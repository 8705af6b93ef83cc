"""A stdio MCP server process for the stdio transport tests (not a test module).

Usage: python mcp_stdio_child.py DB PIDFILE

Serves two function-task workflows in async mode on the SQLite job file DB: ``greet``
(no checkpoint) and ``review`` (its second task waits at a checkpoint). The process
writes its pid to PIDFILE before serving so a test can SIGKILL it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from mcp_greeting import greeting_workflow

from ageflow.mcp_server import create_mcp_server
from ageflow.mcp_server.stdio import serve_stdio


async def main(db: str) -> None:
    server = create_mcp_server(
        [
            greeting_workflow("greet", checkpoint=False, stray_print=True),
            greeting_workflow("review", checkpoint=True, stray_print=True),
        ],
        name="stdio-test",
        async_mode=True,
        job_db_path=db,
    )
    await serve_stdio(server)


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(str(os.getpid()))
    anyio.run(main, sys.argv[1])
