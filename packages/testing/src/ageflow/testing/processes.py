"""Watching child processes from tests: which pid a fake CLI got, and whether it is gone."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import anyio

from ageflow.testing.fake_cli import FakeCli


def process_gone(pid: int) -> bool:
    """No such process, or only a zombie waiting to be reaped."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


class StartedPids:
    """Shims in front of the fake CLIs write their pid to a FIFO, then exec the fake.

    Tests wait on the FIFO (an event, no sleeping) to know the child runs and which pid it
    has (exec keeps the pid). Put ``directory`` first on PATH (the fixture does).
    """

    def __init__(
        self, directory: Path, fake: FakeCli, programs: Iterable[str] = ("claude", "codex")
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.fifo = directory / "pids"
        os.mkfifo(self.fifo)
        self.fd = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)
        self._buffer = b""
        for program in programs:
            shim = directory / program
            shim.write_text(
                f'#!/bin/sh\necho $$ > "{self.fifo}"\nexec "{fake.bin_dir / program}" "$@"\n'
            )
            shim.chmod(0o755)

    async def next_pid(self) -> int:
        """The pid of the next fake CLI process that starts."""
        while b"\n" not in self._buffer:
            await anyio.wait_readable(self.fd)
            self._buffer += os.read(self.fd, 256)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return int(line)

    def close(self) -> None:
        os.close(self.fd)
