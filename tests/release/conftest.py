"""Shared helpers for the tests of scripts/release.py.

The script is not a package, so it is loaded from its path once per session. Fake workspaces
are written into tmp_path; nothing here touches the real workspace.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
RELEASE_SCRIPT = REPO_ROOT / "scripts" / "release.py"
_MODULE_NAME = "ageflow_release_script"


def load_release() -> ModuleType:
    if _MODULE_NAME in sys.modules:
        return sys.modules[_MODULE_NAME]
    spec = importlib.util.spec_from_file_location(_MODULE_NAME, RELEASE_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: dataclasses look their module up in sys.modules.
    sys.modules[_MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def release() -> ModuleType:
    return load_release()


@dataclass
class FakePackage:
    directory: str  # under packages/, e.g. "core" or "runners/api"
    name: str
    version: str = "0.1.0"
    dependencies: list[str] = field(default_factory=list)
    extras: dict[str, list[str]] = field(default_factory=dict)
    scripts: dict[str, str] = field(default_factory=dict)
    classifiers: list[str] = field(default_factory=list)


def _toml_list(items: Iterable[str], indent: str = "  ") -> str:
    body = "".join(f'{indent}"{item}",\n' for item in items)
    return f"[\n{body}]"


def pyproject_text(package: FakePackage) -> str:
    """A pyproject.toml laid out like the real ones (comments included, to check they stay)."""
    module = package.directory.replace("-", "_").replace("/", ".")
    lines = [
        "[build-system]",
        'requires = ["hatchling>=1.25"]',
        'build-backend = "hatchling.build"',
        "",
        "[project]",
        f'name = "{package.name}"',
        f'version = "{package.version}"  # bumped by scripts/release.py',
        f'description = "Fake {module} package for the release tests."',
        'requires-python = ">=3.11"',
        f"classifiers = {_toml_list(package.classifiers)}",
        "# siblings first, then third-party libraries",
        f"dependencies = {_toml_list(package.dependencies)}",
    ]
    if package.extras:
        lines += ["", "[project.optional-dependencies]"]
        lines += [f"{extra} = {_toml_list(reqs)}" for extra, reqs in package.extras.items()]
    if package.scripts:
        lines += ["", "[project.scripts]"]
        lines += [f'{script} = "{target}"' for script, target in package.scripts.items()]
    lines += ["", "[tool.hatch.build.targets.wheel]", 'packages = ["src/ageflow"]', ""]
    return "\n".join(lines)


def write_workspace(root: Path, packages: Iterable[FakePackage]) -> Path:
    for package in packages:
        directory = root / "packages" / package.directory
        module_dir = directory / "src" / "ageflow" / package.directory.replace("-", "_")
        module_dir.mkdir(parents=True, exist_ok=True)
        (module_dir / "__init__.py").write_text("", encoding="utf-8")
        (directory / "pyproject.toml").write_text(pyproject_text(package), encoding="utf-8")
    return root


@pytest.fixture
def make_workspace(tmp_path: Path) -> Callable[..., Path]:
    def make(*packages: FakePackage) -> Path:
        return write_workspace(tmp_path / "workspace", packages)

    return make


def core_executor_testing() -> list[FakePackage]:
    """The three packages the real workspace starts with, with the same ranges."""
    return [
        FakePackage("core", "ageflow-core", dependencies=["pydantic>=2.7,<3"]),
        FakePackage(
            "executor",
            "ageflow-executor",
            dependencies=["ageflow-core>=0.1,<0.2", "anyio>=4.4,<5"],
        ),
        FakePackage(
            "testing",
            "ageflow-testing",
            dependencies=["ageflow-core>=0.1,<0.2", "ageflow-executor>=0.1,<0.2", "pytest>=8"],
        ),
    ]


@pytest.fixture
def pkg() -> type[FakePackage]:
    """The FakePackage class (tests cannot import conftest under --import-mode=importlib)."""
    return FakePackage


@pytest.fixture
def starter_packages() -> list[FakePackage]:
    return core_executor_testing()
