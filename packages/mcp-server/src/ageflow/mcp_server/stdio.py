"""The stdio transport: one MCP client talking to this process over stdin and stdout.

The SDK's own stdin reader blocks in a worker thread that cancellation cannot interrupt,
so a server waiting for its client's next message would never stop on SIGTERM, and its
stdout writer takes two thread round trips per message. Here both ends use private
non-blocking duplicates of descriptors 0 and 1, awaited with ``anyio.wait_readable`` and
``wait_writable``: no threads. Meanwhile descriptor 0 points at the null device and 1 at
stderr, so task code and child processes can neither swallow protocol input nor corrupt
protocol output.
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


class StdoutMessages:
    """Protocol messages written straight to a non-blocking descriptor, awaited when full.

    The SDK's own writer wraps stdout in a thread-backed file: two thread round trips
    (write, flush) per message. Writing here costs one system call on the event loop.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd

    async def write(self, text: str) -> None:
        pending = memoryview(text.encode("utf-8"))
        while pending:
            try:
                written = os.write(self._fd, pending)
            except BlockingIOError:  # the pipe is full: the client reads slower than we write
                await anyio.wait_writable(self._fd)
                continue
            pending = pending[written:]

    async def flush(self) -> None:
        await anyio.lowlevel.checkpoint()  # every write went to the descriptor already


@contextmanager
def claimed_descriptor(fd: int, diversion: int) -> Iterator[int]:
    """A private non-blocking duplicate of ``fd``, which points at ``diversion`` meanwhile.

    Everything is put back on the way out (blocking mode matters: a terminal shares it
    with the shell).
    """
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    was_blocking = os.get_blocking(private)
    saved = os.dup(fd)
    try:
        os.dup2(diversion, fd)
        os.set_blocking(private, False)
        yield private
    finally:
        os.set_blocking(private, was_blocking)
        os.dup2(saved, fd)
        for duplicate in (saved, private):
            os.close(duplicate)


@contextmanager
def claimed_stdio() -> Iterator[tuple[int, int]]:
    """Private descriptors for the protocol: (stdin, stdout).

    Meanwhile fd 0 reads the null device and fd 1 writes to stderr, so neither task code
    nor child processes can swallow protocol input or corrupt protocol output.
    """
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_RDONLY)
    stderr = os.dup(2)
    try:
        with claimed_descriptor(0, null) as stdin, claimed_descriptor(1, stderr) as stdout:
            yield stdin, stdout
    finally:
        os.close(null)
        os.close(stderr)


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
    with claimed_stdio() as (stdin, stdout):
        async with server.running():
            print(f"[ageflow mcp] {server.name}@{server.version} listening on stdio", file=out)
            out.flush()
            lines = cast(Any, StdinLines(stdin))
            messages = cast(Any, StdoutMessages(stdout))
            async with stdio_server(stdin=lines, stdout=messages) as (read_stream, write_stream):
                await sdk_server.run(
                    read_stream, write_stream, sdk_server.create_initialization_options()
                )
