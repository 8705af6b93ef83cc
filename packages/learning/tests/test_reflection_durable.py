"""Reflection on the server runner over SQLite survives a SIGKILL in a real process: on
recovery it resumes from its journal, and its finished agent call is not made again."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from ageflow.learning import SkillRecord, SkillStatus

CHILD = Path(__file__).with_name("reflection_child.py")

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def llm_calls(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (folder / "calls.log").read_text().splitlines()]


async def test_reflection_killed_mid_way_resumes_without_repeating_finished_calls(
    tmp_path: Path,
) -> None:
    process = await anyio.open_process([sys.executable, str(CHILD), str(tmp_path), "start"])
    try:
        assert process.stdout is not None
        seen = b""
        with anyio.fail_after(60):
            while b"HOLDING draft" not in seen:
                seen += await process.stdout.receive()
    finally:
        process.kill()  # SIGKILL: no cleanup, no lease release
        await process.wait()
    assert process.returncode == -signal.SIGKILL
    before = llm_calls(tmp_path)
    assert [call["task"] for call in before] == ["credit", "draft"]

    done = await anyio.run_process(
        [sys.executable, str(CHILD), str(tmp_path), "recover"], check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert "RECOVERED 1" in lines
    (final,) = [json.loads(line[len("FINAL ") :]) for line in lines if line.startswith("FINAL ")]
    assert final["state"] == "done", final

    after = llm_calls(tmp_path)
    # The credit call finished before the kill: restored from the journal, not repeated.
    # Only the drafting call, in flight at the kill, runs again, in the new process.
    assert [call["task"] for call in after] == ["credit", "draft", "draft"]
    assert after[2]["pid"] != after[0]["pid"]
    skills = [
        SkillRecord.model_validate_json(line[len("SKILL ") :])
        for line in lines
        if line.startswith("SKILL ")
    ]
    (skill,) = skills
    assert (skill.agent, skill.content, skill.status) == (
        "research",
        "Cite sources.",
        SkillStatus.CANDIDATE,
    )
    assert final["result"]["outputs"]["save"]["skill_ids"] == [skill.id]
