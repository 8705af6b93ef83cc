"""The stdio transport: one MCP client talking to this process over stdin and stdout.

The SDK's own stdin reader blocks in a worker thread that cancellation cannot interrupt,
so a server waiting for its client's next message would never stop on SIGTERM. Here
stdin is read without threads: a private non-blocking duplicate of file descriptor 0,
awaited with ``anyio.wait_readable``. Descriptor 0 itself points at the null device while
serving, so child processes of tasks cannot swallow protocol bytes; stdout is guarded by
the SDK (descriptor 1 points at stderr while serving).
"""

from __future__ import annotations

import fcntl
import os
import stat
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any, TextIO, cast

import anyio
import anyio.lowlevel
from mcp.server.stdio import stdio_server

from ageflow.mcp_server.server import McpServer
from ageflow.server.gc_tuning import tune_gc_for_serving

_CHUNK = 65536


class StdinLines:
    """The lines arriving on a descriptor, as the SDK's stdio transport reads them.

    Pipes, sockets and terminals are awaited without blocking; a regular file (``< file``)
    or the null device is read directly, since reading one never waits.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""
        self._eof = False
        mode = os.fstat(fd).st_mode
        # Pipes, sockets and terminals can be awaited; files and the null device cannot
        # (epoll refuses them) and never block, so they are read directly.
        self._pollable = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or os.isatty(fd)

    def __aiter__(self) -> AsyncIterator[str]:
        return self

    async def __anext__(self) -> str:
        while b"\n" not in self._buffer:
            if self._eof:
                if not self._buffer:
                    raise StopAsyncIteration
                rest, self._buffer = self._buffer, b""
                return rest.decode("utf-8", errors="replace")
            await self._fill()
        line, _, self._buffer = self._buffer.partition(b"\n")
        return (line + b"\n").decode("utf-8", errors="replace")

    async def _fill(self) -> None:
        if self._pollable:
            await anyio.wait_readable(self._fd)
        else:
            await anyio.lowlevel.checkpoint()
        try:
            chunk = os.read(self._fd, _CHUNK)
        except BlockingIOError:
            return  # woken without data (another reader, or a spurious wake-up)
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True


@contextmanager
def claimed_stdin() -> Iterator[int]:
    """A private non-blocking duplicate of stdin; fd 0 reads the null device meanwhile.

    Everything is put back on the way out (blocking mode matters: a terminal shares it
    with the shell).
    """
    private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    was_blocking = os.get_blocking(private)
    null = os.open(os.devnull, os.O_RDONLY)
    saved = os.dup(0)
    try:
        os.dup2(null, 0)
        os.set_blocking(private, False)
        yield private
    finally:
        os.set_blocking(private, was_blocking)
        os.dup2(saved, 0)
        for fd in (saved, null, private):
            os.close(fd)


async def serve_stdio(server: McpServer, *, log: TextIO | None = None) -> None:
    """Serve ``server`` over this process's stdin and stdout until stdin closes.

    The whole session runs inside ``server.running()``, so in async mode the job store
    is open and unfinished jobs are recovered before the first request is read.
    Cancelling the caller's scope (a signal handler, a task group) stops it at any time,
    even while stdin is idle. The one-line banner goes to ``log`` (stderr by default).
    Serving stdio makes this process a server, so the garbage collector is tuned for one
    (see ``gc_tuning``).
    """
    out = sys.stderr if log is None else log
    sdk_server = server.server
    tune_gc_for_serving()
    with claimed_stdin() as fd:
        async with server.running():
            print(f"[ageflow mcp] {server.name}@{server.version} listening on stdio", file=out)
            out.flush()
            lines = cast(Any, StdinLines(fd))
            async with stdio_server(stdin=lines) as (read_stream, write_stream):
                await sdk_server.run(
                    read_stream, write_stream, sdk_server.create_initialization_options()
                )
