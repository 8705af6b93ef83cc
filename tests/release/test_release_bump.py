"""bump: a new version for one package, wider ranges for its dependents, nothing else touched."""

from __future__ import annotations

import difflib
import shutil
import tomllib
from pathlib import Path

import pytest
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


@pytest.fixture
def real_copy(tmp_path):
    """The real workspace's pyproject files (only those), copied so they can be edited."""
    root = tmp_path / "copy"
    for pattern in ("packages/*/pyproject.toml", "packages/runners/*/pyproject.toml"):
        for source in REPO_ROOT.glob(pattern):
            target = root / source.relative_to(REPO_ROOT)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return root


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_minor_bump_of_core_widens_every_dependent_in_the_real_workspace(release, real_copy):
    before = {p: read(p) for p in real_copy.rglob("pyproject.toml")}
    workspace = release.discover_workspace(real_copy)
    core = workspace.get("ageflow-core")
    dependents = workspace.dependents_of(core)
    assert dependents, "the real workspace has packages that depend on core"

    result = release.bump(workspace, "ageflow-core", "minor")

    new_version = release.bumped(core.version, "minor")
    assert result.new_version == new_version
    assert changed_lines(before[core.pyproject], read(core.pyproject)) == [
        f'-version = "{core.version}"',
        f'+version = "{new_version}"',
    ]
    for dependent in dependents:
        lines = changed_lines(before[dependent.pyproject], read(dependent.pyproject))
        assert lines, f"{dependent.display_name} was not widened"
        # only requirement strings on core changed, nothing else in the file
        assert all("ageflow-core" in line for line in lines)
    untouched = set(before) - {core.pyproject} - {d.pyproject for d in dependents}
    for path in untouched:
        assert read(path) == before[path]

    after = release.discover_workspace(real_copy)
    assert after.get("ageflow-core").version == new_version
    assert release.range_problems(after) == []


def test_bump_keeps_formatting_and_only_widens_what_excludes_the_new_version(
    release, make_workspace, pkg
):
    root = make_workspace(
        pkg("core", "ageflow-core", version="0.3.2"),
        pkg(
            "executor",
            "ageflow-executor",
            dependencies=["ageflow-core>=0.3,<0.4", "anyio>=4.4,<5"],
            extras={"fast": ["ageflow-core[speed]>=0.3,<0.4; python_version >= '3.11'"]},
        ),
        pkg("loose", "ageflow-loose", dependencies=["ageflow-core>=0.1"]),
        pkg("other", "ageflow-other", dependencies=["pydantic>=2,<0.4"]),
    )
    executor = root / "packages" / "executor" / "pyproject.toml"
    loose = root / "packages" / "loose" / "pyproject.toml"
    other = root / "packages" / "other" / "pyproject.toml"
    before_executor, before_loose, before_other = read(executor), read(loose), read(other)

    result = release.bump(release.discover_workspace(root), "ageflow-core", "minor")

    assert str(result.new_version) == "0.4.0"
    core_text = read(root / "packages" / "core" / "pyproject.toml")
    assert 'version = "0.4.0"  # bumped by scripts/release.py' in core_text
    assert changed_lines(before_executor, read(executor)) == [
        '-  "ageflow-core>=0.3,<0.4",',
        '+  "ageflow-core>=0.3,<0.5",',
        "-  \"ageflow-core[speed]>=0.3,<0.4; python_version >= '3.11'\",",
        "+  \"ageflow-core[speed]>=0.3,<0.5; python_version >= '3.11'\",",
    ]
    assert read(loose) == before_loose  # ">=0.1" already admits 0.4.0
    assert read(other) == before_other  # not a dependent
    assert [(d.display_name, old, new) for d, old, new in result.widened] == [
        ("ageflow-executor", "ageflow-core>=0.3,<0.4", "ageflow-core>=0.3,<0.5"),
        (
            "ageflow-executor",
            "ageflow-core[speed]>=0.3,<0.4; python_version >= '3.11'",
            "ageflow-core[speed]>=0.3,<0.5; python_version >= '3.11'",
        ),
    ]
    tomllib.loads(read(executor))  # still valid TOML


def test_patch_bump_inside_the_range_touches_no_dependent(
    release, make_workspace, starter_packages
):
    root = make_workspace(*starter_packages)
    executor = root / "packages" / "executor" / "pyproject.toml"
    before = read(executor)
    result = release.bump(release.discover_workspace(root), "ageflow-core", "patch")
    assert str(result.new_version) == "0.1.1"
    assert result.widened == []
    assert read(executor) == before


def test_major_bump_moves_the_ceiling_to_the_next_major(release, make_workspace, starter_packages):
    root = make_workspace(*starter_packages)
    release.bump(release.discover_workspace(root), "ageflow-executor", "major")
    workspace = release.discover_workspace(root)
    assert workspace.get("ageflow-executor").version == Version("1.0.0")
    testing = workspace.get("ageflow-testing")
    assert [r.text for r in workspace.sibling_ranges(testing)] == [
        "ageflow-core>=0.1,<0.2",
        "ageflow-executor>=0.1,<2",
    ]


def test_bump_command_reports_the_changes(release, make_workspace, starter_packages, capsys):
    root = make_workspace(*starter_packages)
    assert release.main(["--root", str(root), "bump", "ageflow-core", "minor"]) == 0
    out = capsys.readouterr().out
    assert "ageflow-core: 0.1.0 -> 0.2.0" in out
    assert "ageflow-executor: ageflow-core>=0.1,<0.2 -> ageflow-core>=0.1,<0.3" in out
    assert "ageflow-executor, ageflow-testing: bump them too" in out


def test_bump_of_an_unknown_package_changes_nothing(
    release, make_workspace, starter_packages, capsys
):
    root = make_workspace(*starter_packages)
    before = {p: read(p) for p in root.rglob("pyproject.toml")}
    assert release.main(["--root", str(root), "bump", "ageflow-nope", "minor"]) == 1
    assert "no package named 'ageflow-nope'" in capsys.readouterr().err
    assert {p: read(p) for p in root.rglob("pyproject.toml")} == before


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [
        ("0.1.0", "patch", "0.1.1"),
        ("0.1.9", "minor", "0.2.0"),
        ("1.4.2", "major", "2.0.0"),
        ("2", "minor", "2.1.0"),
        ("1.0.0.post1", "patch", "1.0.1"),
    ],
)
def test_bumped_versions(release, version, part, expected):
    assert str(release.bumped(Version(version), part)) == expected


def test_pre_release_versions_are_not_bumped(release):
    with pytest.raises(release.ReleaseError, match="pre-release"):
        release.bumped(Version("0.2.0rc1"), "patch")


@pytest.mark.parametrize(
    ("requirement", "new", "expected"),
    [
        ("ageflow-core>=0.1,<0.2", "0.2.0", "ageflow-core>=0.1,<0.3"),
        ("ageflow-core<0.2,>=0.1", "0.2.0", "ageflow-core<0.3,>=0.1"),  # order kept
        ("ageflow-core>=0.1,<0.2", "0.1.5", "ageflow-core>=0.1,<0.2"),  # admitted: unchanged
        ("ageflow-core >= 1.2, < 2", "2.0.0", "ageflow-core >= 1.2,<3"),
        ("ageflow-core<=0.1.9", "0.2.0", "ageflow-core<0.3"),
        ("ageflow-core==0.1.0", "0.2.0", "ageflow-core>=0.1.0,<0.3"),
        ("ageflow-core==0.1.*", "0.2.0", "ageflow-core>=0.1,<0.3"),
        ("ageflow-core~=0.1", "1.0.0", "ageflow-core>=0.1,<2"),
        ("ageflow-core>=0.1,!=0.2.0,<0.2", "0.2.0", "ageflow-core>=0.1,<0.3"),
        ("ageflow-core (>=0.1,<0.2)", "0.2.0", "ageflow-core (>=0.1,<0.3)"),
        ("ageflow-core[x]>=0.1,<0.2 ; sys_platform != 'win32'", "0.2.0",
         "ageflow-core[x]>=0.1,<0.3 ; sys_platform != 'win32'"),
    ],
)  # fmt: skip
def test_widened_requirements(release, requirement, new, expected):
    assert release.widened(requirement, Version(new)) == expected


def test_a_lower_bound_above_the_new_version_is_not_guessed(release):
    with pytest.raises(release.ReleaseError, match="from below"):
        release.widened("ageflow-core>=0.5", Version("0.4.0"))
