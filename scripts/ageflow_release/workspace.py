"""The workspace model: the publishable packages under packages/, read from their pyproject.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from .errors import ReleaseError
from .graph import topological_layers

PACKAGE_GLOBS = ("packages/*/pyproject.toml", "packages/runners/*/pyproject.toml")
# A package carrying this classifier is part of the workspace but never published.
PRIVATE_CLASSIFIER = "Private :: Do Not Upload"


@dataclass(frozen=True)
class Package:
    """One publishable package, as its pyproject.toml declares it."""

    name: NormalizedName
    display_name: str
    version: Version
    directory: Path
    # As written in pyproject.toml (dependencies, then every extra), and parsed.
    requirement_texts: tuple[str, ...]
    requirements: tuple[Requirement, ...]
    scripts: tuple[str, ...]
    # How many of ``requirements`` are [project] dependencies (the rest are extras').
    required_count: int = 0

    @property
    def pyproject(self) -> Path:
        return self.directory / "pyproject.toml"

    def import_names(self) -> list[str]:
        """The top-most regular packages under src/ (``ageflow.core``, ``ageflow.runners.api``).

        ``ageflow`` and ``ageflow.runners`` are namespace packages without ``__init__.py``, so
        the first directory on each path that has one is the importable package.
        """
        src = self.directory / "src"
        if not src.is_dir():
            return []
        names: list[str] = []
        for init in sorted(src.rglob("__init__.py")):
            package_dir = init.parent
            if (package_dir.parent / "__init__.py").exists():
                continue
            names.append(".".join(package_dir.relative_to(src).parts))
        return names


@dataclass(frozen=True)
class SiblingRange:
    """A range that one workspace package declares on another."""

    dependent: Package
    dependency: Package
    text: str
    requirement: Requirement

    @property
    def admits_release(self) -> bool:
        # Pre-releases count: releasing 0.2.0rc1 against ">=0.2.0rc1" must pass.
        return self.requirement.specifier.contains(self.dependency.version, prereleases=True)


@dataclass
class Workspace:
    root: Path
    packages: dict[NormalizedName, Package] = field(default_factory=dict)

    def get(self, name: str) -> Package:
        try:
            return self.packages[canonicalize_name(name)]
        except KeyError:
            known = ", ".join(p.display_name for p in self.ordered_by_name()) or "none"
            raise ReleaseError(
                f"no package named {name!r} in the workspace (known: {known})"
            ) from None

    def ordered_by_name(self) -> list[Package]:
        return [self.packages[n] for n in sorted(self.packages)]

    def sibling_ranges(self, package: Package) -> list[SiblingRange]:
        ranges = []
        for text, requirement in zip(package.requirement_texts, package.requirements, strict=True):
            dependency = self.packages.get(canonicalize_name(requirement.name))
            if dependency is not None and dependency.name != package.name:
                ranges.append(SiblingRange(package, dependency, text, requirement))
        return ranges

    def dependencies_of(self, package: Package) -> set[NormalizedName]:
        return {r.dependency.name for r in self.sibling_ranges(package)}

    def dependents_of(self, package: Package) -> list[Package]:
        return [p for p in self.ordered_by_name() if package.name in self.dependencies_of(p)]

    def publish_layers(self) -> list[list[Package]]:
        graph = {name: self.dependencies_of(p) for name, p in self.packages.items()}
        return [[self.packages[n] for n in layer] for layer in topological_layers(graph)]

    def publish_order(self) -> list[Package]:
        return [p for layer in self.publish_layers() for p in layer]

    def top_most(self) -> list[Package]:
        """Packages no sibling requires: installing them installs the whole workspace.

        Only [project] dependencies count: a sibling that is only an extra's (``postgres``
        of ``ageflow-mcp-server``) is not installed with its dependent, so it is top-most.
        """
        needed = {
            canonicalize_name(requirement.name)
            for p in self.packages.values()
            for requirement in p.requirements[: p.required_count]
        }
        return [p for p in self.ordered_by_name() if p.name not in needed]

    def script_provider(self, script: str) -> Package | None:
        for package in self.ordered_by_name():
            if script in package.scripts:
                return package
        return None


def discover_workspace(root: Path) -> Workspace:
    root = root.resolve()
    workspace = Workspace(root)
    pyprojects = sorted({p for pattern in PACKAGE_GLOBS for p in root.glob(pattern)})
    for pyproject in pyprojects:
        package = read_package(pyproject)
        if package is None:
            continue
        if package.name in workspace.packages:
            other = workspace.packages[package.name].directory
            raise ReleaseError(
                f"two packages are named {package.display_name}: {other} and {package.directory}"
            )
        workspace.packages[package.name] = package
    if not workspace.packages:
        raise ReleaseError(f"no package found under {root} ({', '.join(PACKAGE_GLOBS)})")
    return workspace


def read_package(pyproject: Path) -> Package | None:
    """Read one package; ``None`` for a private one (never published)."""
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ReleaseError(f"{pyproject}: not valid TOML: {exc}") from exc
    project = data.get("project")
    if not isinstance(project, dict) or not isinstance(project.get("name"), str):
        raise ReleaseError(f"{pyproject}: no [project] name")
    name: str = project["name"]
    if PRIVATE_CLASSIFIER in project.get("classifiers", []):
        return None
    if "version" in project.get("dynamic", []) or not isinstance(project.get("version"), str):
        raise ReleaseError(
            f"{pyproject}: the release script needs a static [project] version "
            "(dynamic versions are not supported)"
        )
    try:
        version = Version(project["version"])
    except InvalidVersion as exc:
        raise ReleaseError(f"{pyproject}: invalid version: {exc}") from exc
    requirement_texts = list(project.get("dependencies", []))
    required_count = len(requirement_texts)
    for extra_requirements in project.get("optional-dependencies", {}).values():
        requirement_texts.extend(extra_requirements)
    requirements = []
    for text in requirement_texts:
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as exc:
            raise ReleaseError(f"{pyproject}: invalid requirement {text!r}: {exc}") from exc
    scripts = tuple(sorted(project.get("scripts", {})))
    return Package(
        name=canonicalize_name(name),
        display_name=name,
        version=version,
        directory=pyproject.parent,
        requirement_texts=tuple(requirement_texts),
        requirements=tuple(requirements),
        scripts=scripts,
        required_count=required_count,
    )
