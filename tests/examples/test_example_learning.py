"""examples/learning: a skill is learned for the upstream agent and used in its prompt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio

from ageflow.learning import SkillStatus
from ageflow.learning_sqlite import LearningDatabase

ROOT = Path(__file__).resolve().parents[2]
LEARN = ROOT / "examples" / "learning" / "learn.py"


def test_learning_example_learns_and_uses_a_skill(tmp_path: Path) -> None:
    db = tmp_path / "learning.sqlite"
    done = subprocess.run(
        [sys.executable, str(LEARN), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    before = lines[1:3]
    assert all("failed: the reply does not quote the order id" in line for line in before)
    assert "2. reflection blamed ['lookup']; drafted 'keep-order-id' (candidate)" in lines
    trial = lines[lines.index("3. trial runs with the candidate skill") + 1 :][:3]
    assert [line.split("-> ")[1] for line in trial] == [
        "ok: Order #3307 has shipped.",
        "ok: Order #4471 has shipped.",
        "ok: Order #5123 has shipped.",
    ]
    assert "4. evaluation of 'keep-order-id': delta +0.33, improved 100%" in lines
    assert "5. promotion: promote 'keep-order-id'" in lines
    assert "   Is #6000 on its way? -> ok: Order #6000 has shipped." in lines
    assert "   ## Skill: keep-order-id" in lines

    async def stored() -> None:
        async with LearningDatabase(db) as opened:
            (skill,) = await opened.skills.list_skills()
            assert (skill.agent, skill.status, skill.run_count) == (
                "lookup",
                SkillStatus.ACTIVE,
                4,
            )
            traces = await opened.traces.traces()
            assert [t.success for t in reversed(traces)] == [False, False, True, True, True, True]

    anyio.run(stored)
