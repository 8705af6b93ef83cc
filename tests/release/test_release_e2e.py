"""End to end: build every package, publish to a local index, install from it, use it.

One pypiserver runs on a free 127.0.0.1 port for the whole module. The workspace is copied
into a temporary directory first, so the real one is only read. Third-party dependencies
come from the public index (this machine reaches it); ageflow packages only from the local one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "scripts" / "release.py"
INDEX_SERVER = Path(__file__).with_name("local_index_server.py")
WORKFLOW = Path(__file__).parent / "fixtures" / "offline_workflow.py"
PUBLIC_INDEX = "https://pypi.org/simple/"
NOT_SOURCES = shutil.ignore_patterns(
    "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", "*.egg-info", "dist", "build"
)


def release_cli(*args: object, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, (
        f"release.py {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout


def in_fresh_env(venv: Path, cwd: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run a command of the fresh environment where nothing points at the workspace."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONNOUSERSITE"] = "1"
    return subprocess.run(
        [str(venv / "bin" / command[0]), *command[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@dataclass
class Released:
    workspace: object
    dist: Path
    index_dir: Path
    simple_url: str
    build_output: str
    first_publish: str
    second_publish: str
    venv: Path
    run_dir: Path


@pytest.fixture(scope="module")
def released(tmp_path_factory, release):
    base = tmp_path_factory.mktemp("release-e2e")
    root = base / "workspace"
    shutil.copytree(REPO_ROOT / "packages", root / "packages", ignore=NOT_SOURCES)
    shutil.copy2(REPO_ROOT / ".gitignore", root / ".gitignore")
    workspace = release.discover_workspace(root)
    dist = base / "dist"
    build_output = release_cli("--root", root, "build", "--dist-dir", dist)

    index_dir = base / "index"
    index_dir.mkdir()
    server_log = (base / "index-server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, str(INDEX_SERVER), str(index_dir)],
        stdout=subprocess.PIPE,
        stderr=server_log,
        text=True,
    )
    try:
        port = server.stdout.readline().strip()
        assert port.isdigit(), (
            f"the local index did not start: {(base / 'index-server.log').read_text()}"
        )
        upload_url = f"http://127.0.0.1:{port}/"
        simple_url = f"{upload_url}simple/"
        publish = (
            "--root", root, "publish", "--repository-url", upload_url, "--index-url", simple_url,
            "--dist-dir", dist, "--poll-interval", "0.1", "--wait-timeout", "60",
        )  # fmt: skip
        credentials = {**os.environ, "TWINE_USERNAME": "e2e", "TWINE_PASSWORD": "e2e"}
        first_publish = release_cli(*publish, env=credentials)
        second_publish = release_cli(*publish, env=credentials)

        venv = base / "venv"
        release_cli(
            "--root", root, "smoke", "--index-url", simple_url,
            "--extra-index-url", PUBLIC_INDEX, "--venv", venv,
        )  # fmt: skip
        run_dir = base / "elsewhere"
        run_dir.mkdir()
        yield Released(
            workspace, dist, index_dir, simple_url, build_output, first_publish,
            second_publish, venv, run_dir,
        )  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()
        server_log.close()


def test_build_checks_and_smoke_tests_every_package(released):
    order = released.workspace.publish_order()
    assert "twine check --strict" in released.build_output
    modules = [m for p in order for m in p.import_names()]
    assert f"imported {len(modules)} modules from the fresh environment" in released.build_output
    assert f"built and checked {len(order)} packages" in released.build_output
    for package in order:
        names = {p.name for p in (released.dist / package.name).iterdir()}
        stem = f"{package.name.replace('-', '_')}-{package.version}"
        assert names == {f"{stem}-py3-none-any.whl", f"{stem}.tar.gz"}


def test_every_built_file_reaches_the_index_in_dependency_order(released):
    built = {p.name for p in released.dist.glob("*/*")}
    assert {p.name for p in released.index_dir.iterdir()} == built
    uploaded = [
        line.split(" ", 1)[0]
        for line in released.first_publish.splitlines()
        if ": uploading " in line
    ]
    assert uploaded == [p.display_name for p in released.workspace.publish_order()]
    assert f"published {len(uploaded)} packages, 0 were already there" in released.first_publish


def test_publishing_again_skips_every_package(released):
    order = released.workspace.publish_order()
    assert "uploading" not in released.second_publish
    for package in order:
        assert f"{package.display_name} {package.version}: already on" in released.second_publish
    assert f"published 0 packages, {len(order)} were already there" in released.second_publish


def test_plan_sees_the_release_on_the_index(released):
    out = release_cli("--root", released.workspace.root, "plan", "--index-url", released.simple_url)
    rows = out.splitlines()[2:]
    assert len(rows) == len(released.workspace.packages)
    assert all(row.split()[3] == "yes" for row in rows), out


def test_packages_installed_from_the_index_are_the_release(released):
    packages = released.workspace.ordered_by_name()
    probe = (
        "import importlib, importlib.metadata as m, json, sys\n"
        "names, modules = json.loads(sys.argv[1])\n"
        "print(json.dumps({'versions': {n: m.version(n) for n in names},\n"
        "  'files': {x: importlib.import_module(x).__file__ for x in modules},\n"
        "  'direct': [n for n in names if m.distribution(n).read_text('direct_url.json')]}))\n"
    )
    wanted = [[p.display_name for p in packages], [m for p in packages for m in p.import_names()]]
    result = in_fresh_env(
        released.venv, released.run_dir, "python", "-I", "-c", probe, json.dumps(wanted)
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["versions"] == {p.display_name: str(p.version) for p in packages}
    assert report["direct"] == []  # resolved from the index, not installed from a path
    for module, location in report["files"].items():
        assert Path(location).is_relative_to(released.venv), f"{module} came from {location}"


def test_the_cli_from_the_index_prints_its_version_and_runs_a_workflow(released):
    cli = released.workspace.script_provider("ageflow")
    if cli is None:
        pytest.skip(
            "no package provides the `ageflow` script yet (it arrives with packages/cli); "
            "then this checks `ageflow --version` and `ageflow run` from the local index"
        )
    version = in_fresh_env(released.venv, released.run_dir, "ageflow", "--version")
    assert version.returncode == 0, version.stderr
    assert str(cli.version) in version.stdout

    shutil.copy2(WORKFLOW, released.run_dir / "workflow.py")
    run = in_fresh_env(released.venv, released.run_dir, "ageflow", "run", "workflow.py")
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    assert "twice" in run.stdout
