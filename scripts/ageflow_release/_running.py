"""Running the tools a release step needs (build, twine, pip), echoed, failing loudly."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import ReleaseError


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    echo: str | None = None,
) -> str:
    """Run a command, echoing it (or ``echo``); raise ReleaseError with its output on failure."""
    printable = echo or " ".join(str(part) for part in command)
    print(f"$ {printable}", flush=True)
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=None if env is None else dict(env),
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = ""
        if capture:
            detail = "\n" + (result.stdout or "")[-4000:] + (result.stderr or "")[-4000:]
        raise ReleaseError(
            f"command failed with exit code {result.returncode}: {printable}{detail}"
        )
    return result.stdout or ""
