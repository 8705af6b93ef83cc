"""Stopping long-running commands cleanly on SIGTERM or SIGINT (Ctrl-C)."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc


async def until_signal(work: Callable[[], Awaitable[None]]) -> bool:
    """Run ``work`` until it returns or SIGTERM/SIGINT arrives, which cancels it.

    Returns True when a signal stopped it. The handlers are in place before ``work``
    starts, so a signal never kills the process uncleanly.
    """
    interrupted = False

    async def stop_on_signal(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        nonlocal interrupted
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                interrupted = True
                group.cancel_scope.cancel()
                return

    async with anyio.create_task_group() as group:
        await group.start(stop_on_signal)
        await work()
        group.cancel_scope.cancel()
    return interrupted
