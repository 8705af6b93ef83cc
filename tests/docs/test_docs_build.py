"""The documentation site builds with `mkdocs build --strict`: a broken link, a page missing
from the nav or a bad anchor fails the build, and so this test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_mkdocs_build_strict(tmp_path):
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    pages = ("index", "quickstart", "concepts", "running", "server", "durability", "benchmarks")
    for page in (*pages, "releasing", "mcp", "cli"):
        built = site / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.is_file(), f"{built} was not built"
    releasing = (site / "releasing" / "index.html").read_text(encoding="utf-8")
    assert "trusted publishing" in releasing
