"""The release plan: publish order, versions, what the index has, and the sibling ranges."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .index import Index, versions_on_index
from .workspace import Package, SiblingRange, Workspace


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
