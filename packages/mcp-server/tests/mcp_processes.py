"""Server processes for the tests: start one, wait for its banner (not a test module)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

HERE = Path(__file__).parent
START_TIMEOUT = 30  # seconds for a process to import everything on a busy 2-core machine
HTTP_BANNER = re.compile(r"HTTP transport listening on (http://\S+/mcp)")


def child_env() -> dict[str, str]:
    """This environment, with the tests folder importable (the shared workflows)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    return env


def python_child(script: str, *args: str) -> list[str]:
    return [sys.executable, str(HERE / script), *args]


@asynccontextmanager
async def http_process(command: Sequence[str]) -> AsyncIterator[str]:
    """An HTTP server process; yields its URL (from the banner); killed on the way out."""
    process = await anyio.open_process(list(command), env=child_env())
    try:
        assert process.stderr is not None
        stderr = b""
        with anyio.fail_after(START_TIMEOUT):
            while (match := HTTP_BANNER.search(stderr.decode(errors="replace"))) is None:
                stderr += await process.stderr.receive()
        yield match.group(1)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await process.aclose()
