"""How the MCP server tests talk to a server through the SDK's client (not a test module)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp import Client

from ageflow.mcp_server import McpServer
from ageflow.mcp_server.error_results import read_error


@asynccontextmanager
async def connected(server: McpServer) -> AsyncIterator[Any]:
    """The server running, with an in-process SDK client connected to it."""
    async with server.running(), Client(server.server, mode="legacy") as client:
        yield client


async def call(client: Any, name: str, args: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """A tool call's (isError, structured content), or for an error (True, the error)."""
    result = await client.call_tool(name, args)
    if result.is_error:
        error = read_error(result)
        assert error is not None, result
        return True, dict(error)
    return False, result.structured_content


async def wait_for_state(client: Any, job_id: str, state: str) -> dict[str, Any]:
    """Poll the job's status as a remote client must, bounded in time."""
    with anyio.fail_after(20):
        while True:
            failed, status = await call(client, "get_workflow_status", {"jobId": job_id})
            assert not failed, status
            if status["state"] == state:
                return status
            await anyio.sleep(0.05)
