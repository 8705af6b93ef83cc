"""The pieces of the smoke test that need no network (the e2e test runs the whole of it)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def cli_workspace(release, make_workspace, pkg):
    root = make_workspace(
        pkg("core", "ageflow-core", version="0.4.1"),
        pkg("executor", "ageflow-executor", dependencies=["ageflow-core>=0.4,<0.5"]),
        pkg(
            "cli",
            "ageflow-cli",
            version="0.3.0",
            dependencies=["ageflow-executor>=0.1,<0.2"],
            scripts={"ageflow": "ageflow.cli.main:app", "agentwf": "ageflow.cli.main:app"},
        ),
        pkg("runners/api", "ageflow-runner-api", dependencies=["ageflow-core>=0.4,<0.5"]),
    )
    return release.discover_workspace(root)


def test_index_install_pins_every_sibling_and_asks_for_the_top_most(
    release, cli_workspace, tmp_path
):
    constraints = tmp_path / "constraints.txt"
    args = release.index_install_args(
        cli_workspace, "http://127.0.0.1:1/simple/", ["https://pypi.org/simple/"], constraints
    )
    assert constraints.read_text().splitlines() == [
        "ageflow-cli==0.3.0",
        "ageflow-core==0.4.1",
        "ageflow-executor==0.1.0",
        "ageflow-runner-api==0.1.0",
    ]
    assert args == [
        "--index-url", "http://127.0.0.1:1/simple/",
        "--extra-index-url", "https://pypi.org/simple/",
        "--constraint", str(constraints),
        "ageflow-cli==0.3.0", "ageflow-runner-api==0.1.0",
    ]  # fmt: skip


def test_the_smoke_environment_must_be_outside_the_workspace(release, cli_workspace):
    with pytest.raises(release.ReleaseError, match="inside the workspace"):
        release.fresh_venv_location(cli_workspace, cli_workspace.root / "venv")


def test_the_smoke_environment_must_be_new(release, cli_workspace, tmp_path):
    existing = tmp_path / "old-venv"
    existing.mkdir()
    with pytest.raises(release.ReleaseError, match="already exists"):
        release.fresh_venv_location(cli_workspace, existing)


def test_a_temporary_environment_is_outside_the_workspace_and_removed_later(release, cli_workspace):
    venv, keep = release.fresh_venv_location(cli_workspace, None)
    try:
        assert not keep
        assert not venv.exists()
        assert not venv.is_relative_to(cli_workspace.root)
    finally:
        venv.parent.rmdir()


def fake_cli_venv(tmp_path, version_line):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    script = venv / "bin" / "ageflow"
    script.write_text(f"#!/bin/sh\necho '{version_line}'\n")
    script.chmod(0o755)
    return venv


def test_cli_version_must_name_the_released_cli(release, cli_workspace, tmp_path):
    venv = fake_cli_venv(tmp_path, "ageflow 0.1.0")  # the original printed a stale version
    with pytest.raises(release.ReleaseError, match=r"does not name ageflow-cli 0\.3\.0"):
        release.check_cli(cli_workspace, venv, release.clean_environment(venv))


def test_cli_version_naming_the_release_passes(release, cli_workspace, tmp_path, capsys):
    venv = fake_cli_venv(tmp_path, "ageflow 0.3.0")
    release.check_cli(cli_workspace, venv, release.clean_environment(venv))
    assert "`ageflow --version` printed 'ageflow 0.3.0'" in capsys.readouterr().out


def test_without_a_cli_package_the_version_check_says_it_is_skipped(
    release, make_workspace, starter_packages, tmp_path, capsys
):
    workspace = release.discover_workspace(make_workspace(*starter_packages))
    release.check_cli(workspace, tmp_path / "no-venv", {})
    assert "no package provides an `ageflow` script yet" in capsys.readouterr().out


def test_clean_environment_drops_what_could_reach_the_sources(release, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/work/main/packages/core/src")
    monkeypatch.setenv("VIRTUAL_ENV", "/somewhere/else")
    env = release.clean_environment(tmp_path / "venv")
    assert "PYTHONPATH" not in env
    assert "VIRTUAL_ENV" not in env
    assert env["PYTHONNOUSERSITE"] == "1"
    assert env["PATH"].split(os.pathsep)[0] == str(tmp_path / "venv" / "bin")
