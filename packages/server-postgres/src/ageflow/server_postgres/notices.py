"""Run-request notices over LISTEN/NOTIFY, on a connection of their own.

A posted request is NOTIFYed on the schema's channel when its transaction commits; each
server LISTENs on one dedicated connection (a pooled one would be handed to other work).
When that connection drops (a database restart, a network cut), the listener reconnects
with backoff and then yields ``"*"``: notices sent while it was away are gone, so the
runner looks for requests once instead.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import asyncpg
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

logger = logging.getLogger("ageflow.server_postgres")

_RETRY_FIRST_S = 0.05
_RETRY_MAX_S = 2.0
EVERY_RUN = "*"


@asynccontextmanager
async def listen_for_requests(
    dsn: str, channel: str, describe: str
) -> AsyncIterator[MemoryObjectReceiveStream[str]]:
    """Yield a stream of run ids NOTIFYed on ``channel`` (``"*"`` after a reconnect)."""
    # Unbounded: a burst of notices must not block asyncpg's callback; the consumer
    # drains all requests per wake-up, so the stream's length stays small.
    send, receive = anyio.create_memory_object_stream[str](math.inf)
    async with anyio.create_task_group() as group:
        group.start_soon(_keep_listening, dsn, channel, describe, send)
        try:
            yield receive
        finally:
            group.cancel_scope.cancel()
            receive.close()


async def _keep_listening(
    dsn: str, channel: str, describe: str, send: MemoryObjectSendStream[str]
) -> None:
    delay = _RETRY_FIRST_S
    first = True
    with send:
        while True:
            try:
                conn = await asyncpg.connect(dsn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("ageflow: cannot listen for run requests on %s: %s", describe, exc)
                await anyio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)
                continue
            delay = _RETRY_FIRST_S
            try:
                await _listen_until_lost(conn, channel, send, announce=not first)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("ageflow: run-request listener on %s lost: %s", describe, exc)
            finally:
                conn.terminate()  # never waits on a server that may be gone
            first = False


async def _listen_until_lost(
    conn: asyncpg.Connection, channel: str, send: MemoryObjectSendStream[str], *, announce: bool
) -> None:
    lost = anyio.Event()

    def on_notice(_conn: Any, _pid: int, _channel: str, payload: object) -> None:
        send.send_nowait(str(payload))

    conn.add_termination_listener(lambda _conn: lost.set())
    await conn.add_listener(channel, on_notice)
    if announce:
        send.send_nowait(EVERY_RUN)  # what was sent while we were away is gone
    await lost.wait()
