"""The README's example runs and prints what it says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_readme_example_runs() -> None:
    code = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.splitlines() == ["1", "Cite a source for every figure.", "0.65"]
