"""Smoke run of benchmarks/mcp_jobs.py with tiny sizes: it runs and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "mcp_jobs.py"


def test_mcp_jobs_benchmark_prints_its_table() -> None:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--jobs", "3", "--warmup", "1", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert any(line.startswith("| server | sequential median ms |") for line in lines)
    rows = [line.split("|")[1].strip() for line in lines if line.startswith("| ")]
    assert rows[1:] == [
        "floor",
        "ageflow-memory",
        "ageflow-sqlite",
        "ageflow-sqlite-tasks",
        "ageflow-sqlite-ext-tasks",
        "ageflow-postgres",
        "ageflow-postgres-x2",
    ]
    data = [line for line in lines if line.startswith("| ")][1:]
    jobs_per_s = [float(line.split("|")[-2]) for line in data]
    assert all(rate > 0 for rate in jobs_per_s)
