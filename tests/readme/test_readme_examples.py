"""Every ```python block of every package README runs as a script and exits 0."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = sorted([*ROOT.glob("packages/*/README.md"), *ROOT.glob("packages/runners/*/README.md")])
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def examples() -> list[tuple[str, str]]:
    found = []
    for readme in READMES:
        for number, code in enumerate(BLOCK.findall(readme.read_text()), start=1):
            found.append((f"{readme.parent.relative_to(ROOT)}#{number}", code))
    return found


@pytest.mark.parametrize(("where", "code"), examples(), ids=[w for w, _ in examples()])
def test_readme_example_runs(where: str, code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, f"{where} failed:\n{done.stdout}\n{done.stderr}"


def test_every_package_readme_has_an_example() -> None:
    with_examples = {where.split("#")[0] for where, _ in examples()}
    packages = {str(r.parent.relative_to(ROOT)) for r in READMES}
    assert packages <= with_examples, (
        f"READMEs without a python example: {packages - with_examples}"
    )
