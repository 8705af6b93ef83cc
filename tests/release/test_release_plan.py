"""The plan command: order, versions, presence on the index, sibling ranges."""

from __future__ import annotations

import pytest


class StaticIndex:
    url = "https://index.invalid/simple/"

    def __init__(self, files):
        self.files = files

    def filenames(self, project):
        return frozenset(self.files.get(project, ()))


def test_range_that_does_not_admit_the_new_sibling_version_fails_the_plan(
    release, make_workspace, starter_packages, capsys
):
    starter_packages[0].version = "0.2.0"  # core moves on; executor and testing still say <0.2
    root = make_workspace(*starter_packages)

    problems = release.range_problems(release.discover_workspace(root))
    assert len(problems) == 2  # executor and testing both name core
    assert all("does not admit ageflow-core 0.2.0" in p for p in problems)
    assert any(
        p.startswith("ageflow-executor 0.1.0 requires 'ageflow-core>=0.1,<0.2'") for p in problems
    )

    assert release.main(["--root", str(root), "plan", "--offline"]) == 1
    out, err = capsys.readouterr()
    assert "ageflow-core>=0.1,<0.2 [DOES NOT ADMIT 0.2.0]" in out
    assert err.count("error: ") == 2  # executor and testing


def test_a_range_that_admits_the_sibling_passes(release, make_workspace, starter_packages, capsys):
    starter_packages[0].version = "0.1.7"
    root = make_workspace(*starter_packages)
    assert release.main(["--root", str(root), "plan", "--offline"]) == 0
    out = capsys.readouterr().out
    assert "ageflow-core>=0.1,<0.2 [ok 0.1.7]" in out


def test_a_pre_release_inside_the_range_is_admitted(release, make_workspace, pkg):
    root = make_workspace(
        pkg("core", "ageflow-core", version="0.2.0rc1"),
        pkg("executor", "ageflow-executor", dependencies=["ageflow-core>=0.2.0rc1,<0.3"]),
    )
    assert release.range_problems(release.discover_workspace(root)) == []


def test_plan_lists_order_versions_presence_and_ranges(release, make_workspace, starter_packages):
    starter_packages[1].version = "0.1.3"
    workspace = release.discover_workspace(make_workspace(*starter_packages))
    index = StaticIndex({
        "ageflow-core": ["ageflow_core-0.1.0-py3-none-any.whl", "ageflow_core-0.1.0.tar.gz"],
        # an older executor is there, the one being released is not
        "ageflow-executor": ["ageflow_executor-0.1.2.tar.gz"],
    })  # fmt: skip
    rows = release.make_plan(workspace, index)
    assert [
        (r.position, r.package.display_name, str(r.package.version), r.on_index) for r in rows
    ] == [
        (1, "ageflow-core", "0.1.0", True),
        (2, "ageflow-executor", "0.1.3", False),
        (3, "ageflow-testing", "0.1.0", False),
    ]
    assert [r.text for r in rows[2].ranges] == [
        "ageflow-core>=0.1,<0.2",
        "ageflow-executor>=0.1,<0.2",
    ]

    lines = release.render_plan(rows, index).splitlines()
    assert lines[0] == "Release plan (index https://index.invalid/simple/), in publish order:"
    assert lines[2].split()[:4] == ["1", "ageflow-core", "0.1.0", "yes"]
    assert lines[3].split()[:4] == ["2", "ageflow-executor", "0.1.3", "no"]
    assert lines[4].endswith(
        "ageflow-core>=0.1,<0.2 [ok 0.1.0], ageflow-executor>=0.1,<0.2 [ok 0.1.3]"
    )


def test_plan_reports_an_unreachable_index_as_an_error(
    release, make_workspace, starter_packages, capsys
):
    root = make_workspace(*starter_packages)
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
    code = release.main(["--root", str(root), "plan", "--index-url", "http://127.0.0.1:9/simple/"])
    assert code == 1
    assert "cannot reach index http://127.0.0.1:9/simple/" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("ageflow_core-0.1.0-py3-none-any.whl", ("ageflow-core", "0.1.0")),
        ("ageflow_server_sqlite-1.2.3.tar.gz", ("ageflow-server-sqlite", "1.2.3")),
        ("ageflow_core-0.2.0rc1.zip", ("ageflow-core", "0.2.0rc1")),
        ("ageflow_core-0.1.0.tar.gz.asc", None),
        ("not-a-distribution.txt", None),
    ],
)
def test_distribution_file_names_are_read(release, filename, expected):
    parsed = release.distribution_version(filename)
    if expected is None:
        assert parsed is None
    else:
        assert (parsed[0], str(parsed[1])) == expected
