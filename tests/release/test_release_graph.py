"""Discovery and publish order of scripts/release.py."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# The chain DESIGN.md fixes; the packages of it that exist must come in this order.
DESIGN_CHAIN = [
    "ageflow-core",
    "ageflow-executor",
    "ageflow-server",
    "ageflow-server-sqlite",
    "ageflow-mcp-server",
    "ageflow-cli",
]


def names(packages):
    return [p.display_name for p in packages]


def test_real_workspace_order_puts_every_package_after_its_dependencies(release):
    workspace = release.discover_workspace(REPO_ROOT)
    order = workspace.publish_order()
    position = {p.name: i for i, p in enumerate(order)}

    on_disk = {
        p.parent.name
        for pattern in ("packages/*/pyproject.toml", "packages/runners/*/pyproject.toml")
        for p in REPO_ROOT.glob(pattern)
    }
    assert {p.directory.name for p in order} == on_disk
    assert order[0].display_name == "ageflow-core"
    for package in order:
        for dependency in workspace.dependencies_of(package):
            assert position[dependency] < position[package.name], (
                f"{package.display_name} is published before its dependency {dependency}"
            )
    present = [n for n in DESIGN_CHAIN if n in names(order)]
    assert [n for n in names(order) if n in present] == present


def test_real_workspace_declares_ranges_that_admit_its_own_versions(release):
    assert release.range_problems(release.discover_workspace(REPO_ROOT)) == []


def test_order_follows_declared_ranges_not_names(release, make_workspace, pkg):
    root = make_workspace(
        pkg("zeta", "ageflow-zeta"),
        pkg("alpha", "ageflow-alpha", dependencies=["ageflow-mid>=0.1,<0.2"]),
        pkg("mid", "ageflow-mid", dependencies=["ageflow-zeta>=0.1,<0.2", "pydantic>=2"]),
        pkg("runners/api", "ageflow-runner-api", dependencies=["ageflow-zeta>=0.1,<0.2"]),
    )
    workspace = release.discover_workspace(root)
    assert [names(layer) for layer in workspace.publish_layers()] == [
        ["ageflow-zeta"],
        ["ageflow-mid", "ageflow-runner-api"],
        ["ageflow-alpha"],
    ]
    assert [p.display_name for p in workspace.top_most()] == ["ageflow-alpha", "ageflow-runner-api"]


def test_sibling_named_in_an_extra_also_orders_the_publish(release, make_workspace, pkg):
    root = make_workspace(
        pkg("app", "ageflow-app", extras={"sqlite": ["ageflow-store>=0.1,<0.2"]}),
        pkg("store", "ageflow-store"),
    )
    assert names(release.discover_workspace(root).publish_order()) == [
        "ageflow-store",
        "ageflow-app",
    ]
    # Installing the app does not install an extra's sibling: the smoke test asks for both.
    top = [p.display_name for p in release.discover_workspace(root).top_most()]
    assert top == ["ageflow-app", "ageflow-store"]


def test_names_are_matched_after_normalisation(release, make_workspace, pkg):
    root = make_workspace(
        pkg("core", "ageflow-core"),
        pkg("executor", "ageflow-executor", dependencies=["Ageflow_Core>=0.1,<0.2"]),
    )
    workspace = release.discover_workspace(root)
    assert names(workspace.publish_order()) == ["ageflow-core", "ageflow-executor"]
    assert workspace.dependencies_of(workspace.get("ageflow_executor")) == {"ageflow-core"}


def test_a_cycle_is_refused_and_named(release, make_workspace, pkg):
    root = make_workspace(
        pkg("a", "ageflow-a", dependencies=["ageflow-b>=0.1"]),
        pkg("b", "ageflow-b", dependencies=["ageflow-c>=0.1"]),
        pkg("c", "ageflow-c", dependencies=["ageflow-a>=0.1"]),
        pkg("free", "ageflow-free"),
    )
    workspace = release.discover_workspace(root)
    with pytest.raises(release.ReleaseError, match="cycle") as caught:
        workspace.publish_order()
    assert "ageflow-a -> ageflow-b -> ageflow-c -> ageflow-a" in str(caught.value)


def test_plan_command_fails_on_a_cycle(release, make_workspace, pkg, capsys):
    root = make_workspace(
        pkg("a", "ageflow-a", dependencies=["ageflow-b>=0.1"]),
        pkg("b", "ageflow-b", dependencies=["ageflow-a>=0.1"]),
    )
    assert release.main(["--root", str(root), "plan", "--offline"]) == 1
    assert "dependency cycle between packages: ageflow-a -> ageflow-b -> ageflow-a" in (
        capsys.readouterr().err
    )


def test_private_packages_are_not_released(release, make_workspace, pkg):
    root = make_workspace(
        pkg("core", "ageflow-core"),
        pkg("scratch", "ageflow-scratch", classifiers=["Private :: Do Not Upload"]),
    )
    assert names(release.discover_workspace(root).publish_order()) == ["ageflow-core"]


def test_dynamic_version_is_refused(release, make_workspace, pkg):
    root = make_workspace(pkg("core", "ageflow-core"))
    pyproject = root / "packages" / "core" / "pyproject.toml"
    text = pyproject.read_text().replace(
        'version = "0.1.0"  # bumped by scripts/release.py', 'dynamic = ["version"]'
    )
    pyproject.write_text(text)
    with pytest.raises(release.ReleaseError, match="static"):
        release.discover_workspace(root)


def test_import_names_skip_namespace_levels(release, make_workspace, pkg):
    root = make_workspace(pkg("runners/api", "ageflow-runner-api"), pkg("core", "ageflow-core"))
    workspace = release.discover_workspace(root)
    assert workspace.get("ageflow-runner-api").import_names() == ["ageflow.runners.api"]
    assert workspace.get("ageflow-core").import_names() == ["ageflow.core"]


def test_unknown_package_name_lists_known_ones(release, make_workspace, starter_packages):
    workspace = release.discover_workspace(make_workspace(*starter_packages))
    with pytest.raises(release.ReleaseError, match="known: ageflow-core, ageflow-executor"):
        workspace.get("ageflow-nope")
