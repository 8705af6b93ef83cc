"""Every package README's ```python blocks run, read as one file in order.

A README whose blocks define ``test_*`` functions (pytest-style examples) is run with
pytest, so those examples execute too; otherwise the blocks run as a script. Either way
the file must exit 0.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
READMES = [
    ROOT / "README.md",
    *sorted([*ROOT.glob("packages/*/README.md"), *ROOT.glob("packages/runners/*/README.md")]),
]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def example_of(readme: Path) -> str:
    return "\n\n".join(BLOCK.findall(readme.read_text()))


@pytest.mark.parametrize("readme", READMES, ids=[str(r.relative_to(ROOT)) for r in READMES])
def test_readme_examples_run(readme: Path, tmp_path: Path) -> None:
    code = example_of(readme)
    assert code, f"{readme.relative_to(ROOT)} shows no python example"
    script = tmp_path / "test_readme_example.py"
    script.write_text(code)
    if re.search(r"^(async )?def test_", code, re.MULTILINE):
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(script)]
    else:
        command = [sys.executable, str(script)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    where = readme.relative_to(ROOT)
    assert done.returncode == 0, f"{where} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
