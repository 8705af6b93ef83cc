"""SEP-1699 for long sync tool calls: the server closes a call's SSE stream now and then.

A proxy between client and server may cut an HTTP response that stays silent past its idle
limit. During a sync call the server therefore closes the call's SSE stream every
``interval`` seconds (only for a client that can resume: protocol 2025-11-25 or later, and
an event store on the transport); the client reconnects with ``Last-Event-ID`` after the
``retry`` delay it was told in the stream's priming event, gets what it missed from the
event store, and keeps waiting on the new stream. Elsewhere (stdio, older clients) nothing
happens.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext


@asynccontextmanager
async def closing_stream_periodically(
    ctx: ServerRequestContext[Any], interval: float | None
) -> AsyncIterator[None]:
    """Close the request's SSE stream every ``interval`` seconds while the block runs."""
    close = ctx.close_sse_stream
    if close is None or interval is None:
        yield
        return

    async def keep_closing() -> None:
        while True:
            await anyio.sleep(interval)
            await close()

    async with anyio.create_task_group() as group:
        group.start_soon(keep_closing)
        try:
            yield
        finally:
            group.cancel_scope.cancel()
