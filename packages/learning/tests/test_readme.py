"""The README's example runs and prints what it says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def run_example(number: int) -> list[str]:
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[number]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.splitlines()


def test_readme_example_runs() -> None:
    assert run_example(0) == ["1", "Cite a source for every figure.", "0.65"]


def test_readme_learning_example_learns_and_promotes_a_skill() -> None:
    assert run_example(1) == [
        "failed failed",
        "['research']",
        "ok ok ok",
        "['promote']",
        "Cite the source of every fact.",
    ]
