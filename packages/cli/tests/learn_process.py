"""Helpers for the tests that run ``ageflow learn`` and ``ageflow feedback`` as real
processes on real learning store files (seeded and read back with ageflow.learning_sqlite).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import anyio

from ageflow.learning import ExecutionTrace, SkillRecord
from ageflow.learning_sqlite import LearningDatabase

AGEFLOW = str(Path(sys.executable).parent / "ageflow")
T = TypeVar("T")


def ageflow(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("AGEFLOW_DEBUG", None)
    return subprocess.run(
        [AGEFLOW, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def on_store(path: Path, action: Callable[[LearningDatabase], Awaitable[T]]) -> T:
    async def main() -> T:
        async with LearningDatabase(path) as db:
            return await action(db)

    return anyio.run(main)


def seed(path: Path, *skills: SkillRecord, traces: tuple[ExecutionTrace, ...] = ()) -> None:
    async def save(db: LearningDatabase) -> None:
        for skill in skills:
            await db.skills.save(skill)
        for trace in traces:
            await db.traces.save_trace(trace)

    on_store(path, save)


def stored_skills(path: Path) -> list[SkillRecord]:
    async def read(db: LearningDatabase) -> list[SkillRecord]:
        return list(await db.skills.list_skills())

    return on_store(path, read)


def stored_trace(path: Path, trace_id: str) -> ExecutionTrace | None:
    async def read(db: LearningDatabase) -> ExecutionTrace | None:
        return await db.traces.get_trace(trace_id)

    return on_store(path, read)


def assert_one_line_failure(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ageflow: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
