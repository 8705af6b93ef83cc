"""The dependency graph: publish layers, cycles, and the sibling ranges a release must satisfy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypeVar

from .errors import ReleaseError

if TYPE_CHECKING:  # workspace.py imports this module for topological_layers
    from .workspace import Workspace


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
