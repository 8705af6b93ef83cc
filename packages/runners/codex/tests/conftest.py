from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from ageflow.testing.fake_cli import FakeCli


class StartedPids:
    """Shims in front of the fake CLIs write their pid to a FIFO, then exec the fake.

    Tests wait on the FIFO (an event, no sleeping) to know the child runs, and which pid
    it has (exec keeps the pid).
    """

    def __init__(self, root: Path, fake: FakeCli, monkeypatch: pytest.MonkeyPatch) -> None:
        root.mkdir()
        self.fifo = root / "pids"
        os.mkfifo(self.fifo)
        self.fd = os.open(self.fifo, os.O_RDWR | os.O_NONBLOCK)
        self._buffer = b""
        for program in ("claude", "codex"):
            shim = root / program
            shim.write_text(
                f'#!/bin/sh\necho $$ > "{self.fifo}"\nexec "{fake.bin_dir / program}" "$@"\n'
            )
            shim.chmod(0o755)
        monkeypatch.setenv("PATH", f"{root}{os.pathsep}{os.environ['PATH']}")

    async def next_pid(self) -> int:
        while b"\n" not in self._buffer:
            await anyio.wait_readable(self.fd)
            self._buffer += os.read(self.fd, 256)
        line, self._buffer = self._buffer.split(b"\n", 1)
        return int(line)


@pytest.fixture
def started(
    tmp_path: Path, fake_cli: FakeCli, monkeypatch: pytest.MonkeyPatch
) -> Iterator[StartedPids]:
    pids = StartedPids(tmp_path / "shims", fake_cli, monkeypatch)
    yield pids
    os.close(pids.fd)


@pytest.fixture
def gone():
    """``gone(pid)``: the process has exited (a zombie counts as exited)."""
    return process_gone


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
