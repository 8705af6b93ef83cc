"""The smoke test: install into a fresh virtual environment, import every package, try the CLI."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.version import Version

from ._running import run
from .errors import ReleaseError
from .workspace import Workspace

CLI_SCRIPT = "ageflow"


# Runs inside the fresh environment: reports installed versions and where modules came from.
_PROBE = """
import importlib, importlib.metadata, json, sys
wanted = json.loads(sys.argv[1])
report = {"versions": {}, "modules": {}}
for dist in wanted["dists"]:
    try:
        report["versions"][dist] = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        report["versions"][dist] = None
for name in wanted["modules"]:
    module = importlib.import_module(name)
    report["modules"][name] = getattr(module, "__file__", None)
print(json.dumps(report))
"""


def clean_environment(venv: Path) -> dict[str, str]:
    """The caller's environment, minus anything that could make the workspace importable."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    }
    env["PATH"] = str(venv_bin(venv)) + os.pathsep + env.get("PATH", "")
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def venv_bin(venv: Path) -> Path:
    return venv / ("Scripts" if os.name == "nt" else "bin")


def venv_python(venv: Path) -> Path:
    return venv_bin(venv) / ("python.exe" if os.name == "nt" else "python")


def fresh_venv_location(workspace: Workspace, requested: Path | None) -> tuple[Path, bool]:
    """Where to create the environment, and whether to delete it afterwards."""
    if requested is not None:
        venv, keep = requested.resolve(), True
        if venv.exists():
            raise ReleaseError(f"{venv} already exists; the smoke test needs a fresh environment")
    else:
        venv, keep = Path(tempfile.mkdtemp(prefix="ageflow-release-smoke-")) / "venv", False
    if venv.is_relative_to(workspace.root):
        raise ReleaseError(
            f"the smoke-test environment {venv} is inside the workspace {workspace.root}; "
            "it must be outside so that nothing is imported from the sources"
        )
    return venv, keep


def can_drive_other_interpreters() -> bool:
    """Whether this interpreter's pip can install into another one (``pip --python``, 22.3+).

    If so, the fresh environment is created without pip: bootstrapping pip into it costs more
    than the rest of its creation, and the install is the same pip either way.
    """
    try:
        return Version(importlib.metadata.version("pip")) >= Version("22.3")
    except importlib.metadata.PackageNotFoundError:
        return False


def smoke_test(
    workspace: Workspace,
    install_args: Sequence[str],
    *,
    venv_path: Path | None = None,
) -> None:
    """Install into a fresh environment, then import every package and try the CLI.

    ``install_args`` go to ``pip install``: wheel paths after ``build``, requirements plus
    index options for ``smoke``.
    """
    venv, keep = fresh_venv_location(workspace, venv_path)
    try:
        outer_pip = can_drive_other_interpreters()
        run([sys.executable, "-m", "venv", *(["--without-pip"] if outer_pip else []), venv])
        env = clean_environment(venv)
        pip = (
            [sys.executable, "-m", "pip", "--python", str(venv_python(venv))]
            if outer_pip
            else [str(venv_python(venv)), "-m", "pip"]
        )
        # --no-compile: the imports below compile what they load; the rest is not worth the time.
        run([*pip, "install", "--quiet", "--no-compile", *install_args], cwd=venv.parent, env=env)
        check_installation(workspace, venv, env)
        check_cli(workspace, venv, env)
    finally:
        if not keep:
            shutil.rmtree(venv.parent, ignore_errors=True)


def check_installation(workspace: Workspace, venv: Path, env: Mapping[str, str]) -> None:
    packages = workspace.ordered_by_name()
    modules = [name for p in packages for name in p.import_names()]
    wanted = json.dumps({"dists": [p.display_name for p in packages], "modules": modules})
    # -I: isolated mode, so neither the working directory nor PYTHON* variables add paths.
    output = run(
        [venv_python(venv), "-I", "-c", _PROBE, wanted],
        cwd=venv.parent,
        env=env,
        capture=True,
        echo=f"{venv_python(venv)} -I -c <check versions and import {' '.join(modules)}>",
    )
    report = json.loads(output.strip().splitlines()[-1])
    problems = []
    for package in packages:
        installed = report["versions"].get(package.display_name)
        if installed is None or Version(installed) != package.version:
            problems.append(
                f"{package.display_name}: expected {package.version}, found {installed}"
            )
    venv_root = venv.resolve()
    for name, location in report["modules"].items():
        if location is None or not Path(location).resolve().is_relative_to(venv_root):
            problems.append(f"{name} was imported from {location}, not from {venv_root}")
    if problems:
        raise ReleaseError(
            "installed packages are not the ones released:\n  " + "\n  ".join(problems)
        )
    print(f"imported {len(modules)} modules from the fresh environment: {', '.join(modules)}")


def check_cli(workspace: Workspace, venv: Path, env: Mapping[str, str]) -> None:
    provider = workspace.script_provider(CLI_SCRIPT)
    if provider is None:
        print(f"no package provides an `{CLI_SCRIPT}` script yet: `{CLI_SCRIPT} --version` skipped")
        return
    output = run([venv_bin(venv) / CLI_SCRIPT, "--version"], cwd=venv.parent, env=env, capture=True)
    if str(provider.version) not in output:
        raise ReleaseError(
            f"`{CLI_SCRIPT} --version` printed {output.strip()!r}, "
            f"which does not name {provider.display_name} {provider.version}"
        )
    print(f"`{CLI_SCRIPT} --version` printed {output.strip()!r}")


def index_install_args(
    workspace: Workspace, index_url: str, extra_index_urls: Sequence[str], constraints: Path
) -> list[str]:
    """pip arguments that install the top-most packages, every sibling pinned to this release.

    The constraints file pins each workspace package to its workspace version, so a package of
    the same name with a higher version on an extra index can never be picked instead.
    """
    constraints.write_text(
        "".join(f"{p.display_name}=={p.version}\n" for p in workspace.ordered_by_name()),
        encoding="utf-8",
    )
    args = ["--index-url", index_url]
    for url in extra_index_urls:
        args += ["--extra-index-url", url]
    args += ["--constraint", str(constraints)]
    args += [f"{p.display_name}=={p.version}" for p in workspace.top_most()]
    return args
