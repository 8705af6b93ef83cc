"""Building: a wheel and an sdist per package, in publish order, checked by twine."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from packaging.utils import NormalizedName

from ._running import run
from .errors import ReleaseError
from .index import distribution_version
from .workspace import Package, Workspace


def artifact_dir(dist_dir: Path, package: Package) -> Path:
    return dist_dir / package.name


def built_files(dist_dir: Path, package: Package) -> list[Path]:
    """The wheel and sdist of the package's current version; ReleaseError if either is missing."""
    directory = artifact_dir(dist_dir, package)
    files = []
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            parsed = distribution_version(path.name)
            if parsed == (package.name, package.version):
                files.append(path)
    has_wheel = any(p.name.endswith(".whl") for p in files)
    has_sdist = any(not p.name.endswith(".whl") for p in files)
    if not (has_wheel and has_sdist):
        raise ReleaseError(
            f"no wheel and sdist of {package.display_name} {package.version} in {directory}: "
            "run `release.py build` first"
        )
    return files


def build_command() -> list[str]:
    command = [sys.executable, "-m", "build"]
    if shutil.which("uv") is not None:
        # Creating the isolated build environments with uv is several times faster than pip.
        command += ["--installer", "uv"]
    return command


def build_all(workspace: Workspace, dist_dir: Path) -> dict[NormalizedName, list[Path]]:
    if dist_dir.resolve().is_relative_to(workspace.root / "packages"):
        raise ReleaseError(f"the dist directory must not be inside packages/: {dist_dir}")
    artifacts = {}
    for package in workspace.publish_order():
        out = artifact_dir(dist_dir, package)
        shutil.rmtree(out, ignore_errors=True)
        # Default mode: the sdist first, then the wheel built from it, which proves that the
        # sdist holds everything the wheel needs.
        run([*build_command(), "--outdir", out, package.directory])
        artifacts[package.name] = built_files(dist_dir, package)
    files = [path for paths in artifacts.values() for path in paths]
    run([sys.executable, "-m", "twine", "check", "--strict", *files])
    return artifacts
