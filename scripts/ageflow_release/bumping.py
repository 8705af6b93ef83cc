"""Version bumping: raise one package's version and widen its dependents' ranges to admit it."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, Specifier
from packaging.version import Version

from .errors import ReleaseError
from .workspace import Package, Workspace

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
