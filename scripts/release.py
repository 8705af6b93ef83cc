"""Build, check and publish the ageflow packages in dependency order.

Every package under ``packages/*`` and ``packages/runners/*`` is published on its own. The
publish order is derived from the dependency ranges each ``pyproject.toml`` declares on its
siblings, never from a hand-kept list, so a package cannot reach an index before the packages
it needs (the original published its MCP server before the server it requires, and never
published the SQLite store at all).

Commands (``python scripts/release.py --help`` for the options):

* ``plan``    the order, versions, what the index already has, and the sibling ranges; fails
              when a declared range does not admit the sibling version being released;
* ``build``   wheel and sdist per package, ``twine check``, then an install of the built wheels
              into a fresh virtual environment outside the workspace, with an import of every
              package and ``ageflow --version`` when a package provides that script;
* ``publish`` uploads in order, skips files the index already has, and waits until the index
              serves each package before its dependents are uploaded;
* ``smoke``   installs the top-most packages from an index into a fresh environment and runs
              the same checks as ``build`` (used after the TestPyPI upload);
* ``bump``    raises one package's version and widens its dependents' ranges to admit it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

DEFAULT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_GLOBS = ("packages/*/pyproject.toml", "packages/runners/*/pyproject.toml")
# A package carrying this classifier is part of the workspace but never published.
PRIVATE_CLASSIFIER = "Private :: Do Not Upload"
CLI_SCRIPT = "ageflow"


class ReleaseError(Exception):
    """A release step cannot go on; the message says why and what to do."""


# --------------------------------------------------------------------------------------------
# Workspace model


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


# --------------------------------------------------------------------------------------------
# Dependency graph


Node = TypeVar("Node", bound=str)


def topological_layers(graph: Mapping[Node, Iterable[Node]]) -> list[list[Node]]:
    """Group nodes so that every node comes after all of its dependencies.

    ``graph`` maps a node to the nodes it depends on. Within a layer, names are sorted so the
    order is the same on every machine. Raises ReleaseError naming a cycle if there is one.
    """
    remaining = {node: set(deps) & graph.keys() for node, deps in graph.items()}
    layers: list[list[Node]] = []
    while remaining:
        ready = sorted(node for node, deps in remaining.items() if not deps)
        if not ready:
            cycle = find_cycle(remaining)
            raise ReleaseError("dependency cycle between packages: " + " -> ".join(cycle))
        layers.append(ready)
        for node in ready:
            del remaining[node]
        for deps in remaining.values():
            deps.difference_update(ready)
    return layers


def find_cycle(graph: Mapping[Node, set[Node]]) -> list[Node]:
    """One cycle in ``graph`` (which must contain one), closed: ``[a, b, a]``."""
    visiting: list[Node] = []
    done: set[Node] = set()

    def visit(node: Node) -> list[Node] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for dep in sorted(graph.get(node, set())):
            cycle = visit(dep)
            if cycle is not None:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    raise ReleaseError("internal error: no cycle found in a graph that has one")


def range_problems(workspace: Workspace) -> list[str]:
    """Every sibling range that would not accept the sibling version being released."""
    problems = []
    for package in workspace.publish_order():
        for sibling in workspace.sibling_ranges(package):
            if not sibling.admits_release:
                problems.append(
                    f"{package.display_name} {package.version} requires "
                    f"{sibling.text!r}, which does not admit "
                    f"{sibling.dependency.display_name} {sibling.dependency.version} "
                    "(the version being released); widen the range "
                    f"(`release.py bump` does it) or release a compatible version"
                )
    return problems


# --------------------------------------------------------------------------------------------
# Package index (PEP 503 HTML and PEP 691 JSON simple API)


SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)


@dataclass(frozen=True)
class Repository:
    name: str
    upload_url: str
    index_url: str


REPOSITORIES = {
    "pypi": Repository("pypi", "https://upload.pypi.org/legacy/", "https://pypi.org/simple/"),
    "testpypi": Repository(
        "testpypi", "https://test.pypi.org/legacy/", "https://test.pypi.org/simple/"
    ),
}


class Index(Protocol):
    url: str

    def filenames(self, project: str) -> frozenset[str]:
        """Every distribution file the index serves for ``project`` (empty if unknown)."""
        ...


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.filenames: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a":
            return
        href = dict(attrs).get("href")
        if href:
            path = urllib.parse.urlsplit(href).path
            self.filenames.add(urllib.parse.unquote(path.rsplit("/", 1)[-1]))


class SimpleIndex:
    """Reads a project's files from a simple repository API over HTTP."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout

    def filenames(self, project: str) -> frozenset[str]:
        page = urllib.parse.urljoin(self.url, canonicalize_name(project) + "/")
        request = urllib.request.Request(
            page,
            # no-cache: a CDN in front of the index must not answer from before an upload.
            headers={"Accept": SIMPLE_ACCEPT, "Cache-Control": "no-cache"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                content_type = response.headers.get_content_type()
                body = response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return frozenset()
            raise ReleaseError(f"index {self.url} answered {exc.code} for {project}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ReleaseError(f"cannot reach index {self.url}: {exc}") from exc
        if content_type.endswith("json"):
            return frozenset(str(f["filename"]) for f in json.loads(body).get("files", []))
        collector = _LinkCollector()
        collector.feed(body)
        return frozenset(collector.filenames)


def distribution_version(filename: str) -> tuple[NormalizedName, Version] | None:
    """Project name and version of a wheel or sdist file name, ``None`` for anything else."""
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return name, version
        if filename.endswith((".tar.gz", ".zip")):
            return parse_sdist_filename(filename)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def versions_on_index(index: Index, package: Package) -> set[Version]:
    found = set()
    for filename in index.filenames(package.display_name):
        parsed = distribution_version(filename)
        if parsed is not None and parsed[0] == package.name:
            found.add(parsed[1])
    return found


# --------------------------------------------------------------------------------------------
# plan


@dataclass(frozen=True)
class PlanRow:
    position: int
    package: Package
    on_index: bool | None  # None: not checked
    ranges: list[SiblingRange]


def make_plan(workspace: Workspace, index: Index | None) -> list[PlanRow]:
    rows = []
    for position, package in enumerate(workspace.publish_order(), start=1):
        on_index = None if index is None else package.version in versions_on_index(index, package)
        rows.append(PlanRow(position, package, on_index, workspace.sibling_ranges(package)))
    return rows


def render_plan(rows: Sequence[PlanRow], index: Index | None) -> str:
    where = f"index {index.url}" if index is not None else "no index checked: --offline"
    table = [("#", "package", "version", "on index", "sibling ranges")]
    for row in rows:
        on_index = {None: "not checked", True: "yes (skip)", False: "no"}[row.on_index]
        ranges = ", ".join(
            f"{r.text} [{'ok' if r.admits_release else 'DOES NOT ADMIT'} {r.dependency.version}]"
            for r in row.ranges
        )
        table.append(
            (str(row.position), row.package.display_name, str(row.package.version), on_index,
             ranges or "-")
        )  # fmt: skip
    widths = [max(len(line[i]) for line in table) for i in range(4)]
    lines = [f"Release plan ({where}), in publish order:"]
    for line in table:
        cells = [line[i].ljust(widths[i]) for i in range(4)]
        lines.append("  " + "  ".join([*cells, line[4]]))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Running tools


def run(
    command: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    capture: bool = False,
    echo: str | None = None,
) -> str:
    """Run a command, echoing it (or ``echo``); raise ReleaseError with its output on failure."""
    printable = echo or " ".join(str(part) for part in command)
    print(f"$ {printable}", flush=True)
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=None if env is None else dict(env),
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.PIPE if capture else None,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = ""
        if capture:
            detail = "\n" + (result.stdout or "")[-4000:] + (result.stderr or "")[-4000:]
        raise ReleaseError(
            f"command failed with exit code {result.returncode}: {printable}{detail}"
        )
    return result.stdout or ""


# --------------------------------------------------------------------------------------------
# build


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


# --------------------------------------------------------------------------------------------
# Smoke test in a fresh virtual environment

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


# --------------------------------------------------------------------------------------------
# publish


class Uploader(Protocol):
    def upload(self, files: Sequence[Path]) -> None: ...


class TwineUploader:
    """Uploads with twine. On PyPI and TestPyPI, inside GitHub Actions with ``id-token: write``
    and no password set, twine obtains a short-lived token by trusted publishing (OIDC)."""

    def __init__(self, repository_url: str) -> None:
        self.repository_url = repository_url

    def upload(self, files: Sequence[Path]) -> None:
        run([
            sys.executable, "-m", "twine", "upload", "--non-interactive",
            "--disable-progress-bar", "--repository-url", self.repository_url, *files,
        ])  # fmt: skip


@dataclass
class Waiting:
    """How long to wait for an index to serve an upload, and how (injectable for tests)."""

    timeout: float = 600.0
    interval: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def wait_until_served(index: Index, package: Package, names: set[str], waiting: Waiting) -> None:
    deadline = waiting.clock() + waiting.timeout
    while True:
        missing = names - index.filenames(package.display_name)
        if not missing:
            return
        if waiting.clock() >= deadline:
            raise ReleaseError(
                f"{index.url} still does not serve {', '.join(sorted(missing))} "
                f"after {waiting.timeout:.0f}s; re-run publish later, it skips what is there"
            )
        waiting.sleep(waiting.interval)


@dataclass(frozen=True)
class PublishOutcome:
    package: Package
    uploaded: list[str]
    skipped: list[str]


def publish_all(
    workspace: Workspace,
    dist_dir: Path,
    index: Index,
    uploader: Uploader,
    waiting: Waiting | None = None,
) -> list[PublishOutcome]:
    """Upload every package in dependency order, skipping files the index already has.

    Because presence is checked file by file, a re-run after any failure uploads exactly what
    is still missing. After each upload the index is polled until it serves the new files, so
    a dependent is never uploaded while an installer could not yet resolve its dependencies.
    """
    waiting = waiting or Waiting()
    problems = range_problems(workspace)
    if problems:
        raise ReleaseError("refusing to publish:\n  " + "\n  ".join(problems))
    order = workspace.publish_order()
    # Check every artifact before the first upload, so a missing build fails fast.
    files_by_package = {p.name: built_files(dist_dir, p) for p in order}
    outcomes = []
    for package in order:
        files = files_by_package[package.name]
        present = index.filenames(package.display_name)
        missing = [f for f in files if f.name not in present]
        skipped = [f.name for f in files if f.name in present]
        label = f"{package.display_name} {package.version}"
        if not missing:
            print(f"{label}: already on {index.url}, skipped", flush=True)
        else:
            print(f"{label}: uploading {', '.join(f.name for f in missing)}", flush=True)
            uploader.upload(missing)
            print(f"{label}: waiting until {index.url} serves it", flush=True)
            wait_until_served(index, package, {f.name for f in files}, waiting)
            print(f"{label}: served", flush=True)
        outcomes.append(PublishOutcome(package, [f.name for f in missing], skipped))
    return outcomes


# --------------------------------------------------------------------------------------------
# bump

Part = Literal["major", "minor", "patch"]


def bumped(version: Version, part: Part) -> Version:
    if version.pre is not None or version.dev is not None or version.local is not None:
        raise ReleaseError(
            f"{version} is a pre-release, development or local version; "
            "bump works from a final release, set such versions by hand"
        )
    major, minor, patch = (*version.release, 0, 0)[:3]
    if part == "major":
        return Version(f"{major + 1}.0.0")
    if part == "minor":
        return Version(f"{major}.{minor + 1}.0")
    return Version(f"{major}.{minor}.{patch + 1}")


def compatible_ceiling(version: Version) -> str:
    """The first version that may break the API of ``version``: next minor below 1.0."""
    if version.major == 0:
        return f"0.{version.minor + 1}"
    return str(version.major + 1)


_NAME_AND_EXTRAS = re.compile(r"\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*(?:\[[^\]]*\])?")


def widened(requirement_text: str, new_version: Version) -> str:
    """The requirement rewritten so its range admits ``new_version``; text kept where possible.

    Lower bounds stay as they are; only the clauses that exclude the new version change:
    an upper bound moves to the new version's compatible ceiling, a pin or ``~=`` becomes a
    range, and ``!=`` the new version is dropped.
    """
    requirement = Requirement(requirement_text)
    if requirement.url:
        raise ReleaseError(f"{requirement_text!r} is a direct reference, not a range")
    if requirement.specifier.contains(new_version, prereleases=True):
        return requirement_text
    head = _NAME_AND_EXTRAS.match(requirement_text)
    if head is None:
        raise ReleaseError(f"cannot read the name of {requirement_text!r}")
    rest = requirement_text[head.end() :]
    marker_at = rest.find(";")
    spec_text, marker_text = (rest, "") if marker_at < 0 else (rest[:marker_at], rest[marker_at:])
    trailing = spec_text[len(spec_text.rstrip()) :]
    inner = spec_text.strip()
    parenthesised = inner.startswith("(") and inner.endswith(")")
    if parenthesised:
        inner = inner[1:-1]
    clauses: list[str] = []
    ceiling = f"<{compatible_ceiling(new_version)}"
    for raw in (c.strip() for c in inner.split(",") if c.strip()):
        try:
            spec = Specifier(raw)
        except InvalidSpecifier as exc:
            raise ReleaseError(f"cannot read {raw!r} in {requirement_text!r}") from exc
        if spec.contains(new_version, prereleases=True):
            clauses.append(raw)
        elif spec.operator in ("<", "<="):
            clauses.append(ceiling)
        elif spec.operator == "!=":
            continue
        elif spec.operator in ("==", "~="):
            floor = spec.version.removesuffix(".*")
            clauses += [f">={floor}", ceiling]
        else:
            raise ReleaseError(
                f"{requirement_text!r}: {raw!r} excludes {new_version} from below; fix it by hand"
            )
    unique = list(dict.fromkeys(clauses))
    new_spec = ",".join(unique)
    if parenthesised:
        new_spec = f"({new_spec})"
    result = requirement_text[: head.end()] + new_spec + trailing + marker_text
    if not Requirement(result).specifier.contains(new_version, prereleases=True):
        raise ReleaseError(f"could not widen {requirement_text!r} to admit {new_version}")
    return result


def replace_project_version(text: str, old: Version, new: Version) -> str:
    """Change ``version = "..."`` inside the [project] table, touching nothing else."""
    table = re.search(r"^\[project\][ \t]*(?:#.*)?$", text, flags=re.MULTILINE)
    if table is None:
        raise ReleaseError("no [project] table")
    next_table = re.search(r"^\s*\[", text[table.end() :], flags=re.MULTILINE)
    end = table.end() + next_table.start() if next_table else len(text)
    body = text[table.end() : end]
    pattern = re.compile(r"^(\s*version\s*=\s*)([\"'])([^\"'\n]*)\2", flags=re.MULTILINE)
    match = pattern.search(body)
    if match is None or Version(match.group(3)) != old:
        raise ReleaseError(f'no `version = "{old}"` line in the [project] table')
    new_line = f"{match.group(1)}{match.group(2)}{new}{match.group(2)}"
    start, stop = table.end() + match.start(), table.end() + match.end()
    return text[:start] + new_line + text[stop:]


def replace_string_literal(text: str, old: str, new: str) -> str:
    """Replace every TOML string literal whose value is exactly ``old``."""
    result, count = text, 0
    for quote in ('"', "'"):
        needle = f"{quote}{old}{quote}"
        count += result.count(needle)
        result = result.replace(needle, f"{quote}{new}{quote}")
    if count == 0:
        raise ReleaseError(f"could not find the string {old!r} to edit; change it by hand")
    return result


@dataclass(frozen=True)
class BumpResult:
    package: Package
    new_version: Version
    widened: list[tuple[Package, str, str]]  # dependent, old requirement, new requirement


def bump(workspace: Workspace, name: str, part: Part) -> BumpResult:
    package = workspace.get(name)
    new_version = bumped(package.version, part)
    edits: dict[Path, str] = {}
    edits[package.pyproject] = replace_project_version(
        package.pyproject.read_text(encoding="utf-8"), package.version, new_version
    )
    changes = []
    for dependent in workspace.dependents_of(package):
        text = edits.get(dependent.pyproject) or dependent.pyproject.read_text(encoding="utf-8")
        ranges = [r for r in workspace.sibling_ranges(dependent) if r.dependency == package]
        for requirement_text in dict.fromkeys(r.text for r in ranges):
            new_text = widened(requirement_text, new_version)
            if new_text != requirement_text:
                text = replace_string_literal(text, requirement_text, new_text)
                changes.append((dependent, requirement_text, new_text))
        edits[dependent.pyproject] = text
    # Parse every edited file before writing any, so a failed edit leaves the workspace as is.
    for path, text in edits.items():
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ReleaseError(f"editing {path} would make it invalid TOML: {exc}") from exc
    for path, text in edits.items():
        path.write_text(text, encoding="utf-8")
    return BumpResult(package, new_version, changes)


# --------------------------------------------------------------------------------------------
# Command line


def resolve_index(args: argparse.Namespace) -> Index | None:
    if getattr(args, "offline", False):
        return None
    if args.index_url:
        return SimpleIndex(args.index_url)
    return SimpleIndex(REPOSITORIES[args.repository].index_url)


def command_plan(workspace: Workspace, args: argparse.Namespace) -> int:
    index = resolve_index(args)
    print(render_plan(make_plan(workspace, index), index))
    problems = range_problems(workspace)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def command_build(workspace: Workspace, args: argparse.Namespace) -> int:
    problems = range_problems(workspace)
    if problems:
        raise ReleaseError("refusing to build:\n  " + "\n  ".join(problems))
    artifacts = build_all(workspace, args.dist_dir)
    if args.no_smoke:
        print("smoke test skipped (--no-smoke)")
        return 0
    wheels = [str(p) for paths in artifacts.values() for p in paths if p.name.endswith(".whl")]
    smoke_test(workspace, wheels, venv_path=args.venv)
    print(f"built and checked {len(artifacts)} packages into {args.dist_dir}")
    return 0


def command_publish(workspace: Workspace, args: argparse.Namespace) -> int:
    if args.repository_url:
        if not args.index_url:
            raise ReleaseError("--repository-url needs --index-url (where to check what is there)")
        upload_url, index_url = args.repository_url, args.index_url
    else:
        repository = REPOSITORIES[args.repository]
        upload_url, index_url = repository.upload_url, args.index_url or repository.index_url
    waiting = Waiting(timeout=args.wait_timeout, interval=args.poll_interval)
    outcomes = publish_all(
        workspace, args.dist_dir, SimpleIndex(index_url), TwineUploader(upload_url), waiting
    )
    uploaded = sum(1 for o in outcomes if o.uploaded)
    print(f"published {uploaded} packages, {len(outcomes) - uploaded} were already there")
    return 0


def command_smoke(workspace: Workspace, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="ageflow-release-") as scratch:
        install_args = index_install_args(
            workspace, args.index_url, args.extra_index_url, Path(scratch) / "constraints.txt"
        )
        smoke_test(workspace, install_args, venv_path=args.venv)
    print("smoke test passed")
    return 0


def command_bump(workspace: Workspace, args: argparse.Namespace) -> int:
    result = bump(workspace, args.package, args.part)
    print(f"{result.package.display_name}: {result.package.version} -> {result.new_version}")
    for dependent, old, new in result.widened:
        print(f"{dependent.display_name}: {old} -> {new}")
    if result.widened:
        names = sorted({d.display_name for d, _, _ in result.widened})
        print(
            "the wider ranges reach users only with a new release of "
            f"{', '.join(names)}: bump them too (patch) if they should be published now"
        )
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="release.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="workspace root")
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="show the publish order and check sibling ranges")
    plan.add_argument("--repository", choices=sorted(REPOSITORIES), default="pypi")
    plan.add_argument("--index-url", help="simple API to check instead of the repository's")
    plan.add_argument("--offline", action="store_true", help="do not look at any index")

    build = commands.add_parser("build", help="build, check and smoke-test every package")
    build.add_argument("--dist-dir", type=Path, default=None, help="default: <root>/dist")
    build.add_argument("--no-smoke", action="store_true", help="skip the install smoke test")
    build.add_argument("--venv", type=Path, help="create (and keep) the smoke environment here")

    publish = commands.add_parser("publish", help="upload in dependency order")
    target = publish.add_mutually_exclusive_group(required=True)
    target.add_argument("--repository", choices=sorted(REPOSITORIES))
    target.add_argument("--repository-url", help="upload URL of another index (with --index-url)")
    publish.add_argument("--index-url", help="simple API of the target index")
    publish.add_argument("--dist-dir", type=Path, default=None, help="default: <root>/dist")
    publish.add_argument("--wait-timeout", type=float, default=600.0, help="seconds per package")
    publish.add_argument("--poll-interval", type=float, default=10.0, help="seconds")

    smoke = commands.add_parser("smoke", help="install the release from an index and check it")
    smoke.add_argument("--index-url", required=True)
    smoke.add_argument("--extra-index-url", action="append", default=[])
    smoke.add_argument("--venv", type=Path, help="create (and keep) the environment here")

    bump_parser = commands.add_parser("bump", help="bump a version and widen dependents' ranges")
    bump_parser.add_argument("package")
    bump_parser.add_argument("part", choices=["major", "minor", "patch"])

    args = parser.parse_args(argv)
    if getattr(args, "dist_dir", "absent") is None:
        args.dist_dir = args.root / "dist"
    return args


COMMANDS: dict[str, Callable[[Workspace, argparse.Namespace], int]] = {
    "plan": command_plan,
    "build": command_build,
    "publish": command_publish,
    "smoke": command_smoke,
    "bump": command_bump,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        workspace = discover_workspace(args.root)
        return COMMANDS[args.command](workspace, args)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
