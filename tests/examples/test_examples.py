"""The runnable examples run, offline, and say what they claim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_durable_restart_example_recovers_after_sigkill() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "durable_restart.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "recovered" in out and "state awaiting-checkpoint" in out
    assert "approved; state done; output: an idea -> draft -> edit -> publish" in out
    steps = [line.split()[0] for line in out.split("both processes:")[1].splitlines() if line]
    assert steps == ["draft", "edit", "publish"]  # each ran exactly once
    pids = {line.split("pid ")[1] for line in out.split("both processes:")[1].splitlines() if line}
    assert len(pids) == 2  # the first two in the killed process, the last in the new one
