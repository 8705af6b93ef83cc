"""Entry point of the release tool, whose code is the ageflow_release package beside this file.

`python scripts/release.py --help` (or `hatch run release --help`) lists the commands. The tests
load this file by its path and use the names below, so they are re-exported here.
"""

from __future__ import annotations

import sys
from pathlib import Path

# scripts/ on sys.path, as `python scripts/release.py` already has it, so loading by path works too.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from ageflow_release.bumping import bump, bumped, widened
from ageflow_release.cli import main
from ageflow_release.errors import ReleaseError
from ageflow_release.graph import range_problems
from ageflow_release.index import SimpleIndex, distribution_version, versions_on_index
from ageflow_release.plan import make_plan, render_plan
from ageflow_release.publishing import TwineUploader, Waiting, publish_all
from ageflow_release.smoke import (
    check_cli,
    clean_environment,
    fresh_venv_location,
    index_install_args,
)
from ageflow_release.workspace import discover_workspace

__all__ = [
    "ReleaseError",
    "SimpleIndex",
    "TwineUploader",
    "Waiting",
    "bump",
    "bumped",
    "check_cli",
    "clean_environment",
    "discover_workspace",
    "distribution_version",
    "fresh_venv_location",
    "index_install_args",
    "main",
    "make_plan",
    "publish_all",
    "range_problems",
    "render_plan",
    "versions_on_index",
    "widened",
]

if __name__ == "__main__":
    sys.exit(main())
