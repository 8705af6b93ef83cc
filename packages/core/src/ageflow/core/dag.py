"""Dependency ordering of tasks.

Works on a plain mapping ``task name -> names it depends on`` (None or empty for a root),
so it knows nothing of task classes. Loop bodies are separate maps, sorted on their own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from ageflow.core.errors import CyclicDependencyError, UnresolvedDependencyError

__all__ = ["Dependencies", "find_cycle", "get_ready_tasks", "topological_sort"]

Dependencies = Mapping[str, Sequence[str] | None]
"""Task name -> the names of the tasks it depends on, in the task map's order."""


def _deps_of(dependencies: Dependencies, name: str) -> Sequence[str]:
    deps = dependencies[name]
    if deps is None:
        return ()
    if isinstance(deps, str):
        # A bare string is a Sequence[str] too; iterating it would yield single letters.
        raise TypeError(
            f"dependencies of task {name!r} must be a list of task names, not the string {deps!r}"
        )
    return deps


def topological_sort(dependencies: Dependencies) -> list[list[str]]:
    """Group tasks into batches that can run one after another (Kahn's algorithm by levels).

    The first batch holds the tasks without dependencies, in map order; each next batch the
    tasks whose last dependency was in the batch before, in the order they were released.

    Raises :class:`UnresolvedDependencyError` for a dependency on a name not in the map
    (checked for every task before anything else) and :class:`CyclicDependencyError`, with
    the cycle's path, when some tasks depend on each other in a circle.
    """
    names = list(dependencies)
    known = set(names)
    in_degree = dict.fromkeys(names, 0)
    dependents: dict[str, list[str]] = {name: [] for name in names}
    for name in names:
        for dep in _deps_of(dependencies, name):
            if dep not in known:
                raise UnresolvedDependencyError(name, dep, names)
            # A dependency listed twice is counted and released twice: harmless.
            in_degree[name] += 1
            dependents[dep].append(name)

    batches: list[list[str]] = []
    current = [name for name in names if in_degree[name] == 0]
    while current:
        batches.append(current)
        released: list[str] = []
        for done in current:
            for dependent in dependents[done]:
                in_degree[dependent] -= 1
                if in_degree[dependent] == 0:
                    released.append(dependent)
        current = released

    leftovers = [name for name in names if in_degree[name] > 0]
    if leftovers:
        remaining = {name: _deps_of(dependencies, name) for name in leftovers}
        raise CyclicDependencyError(find_cycle(remaining) or leftovers)
    return batches


def find_cycle(dependencies: Dependencies, start: Iterable[str] | None = None) -> list[str] | None:
    """The first dependency cycle found by depth-first search, or None when there is none.

    Edges to names outside the mapping are ignored. The search starts from each name of
    ``start`` in turn (default: every name, in map order) and follows dependencies in their
    listed order. The path ends with its first node repeated: ``["a", "b", "a"]``; a task
    depending on itself gives ``["a", "a"]``.
    """
    finished: set[str] = set()
    for root in dependencies if start is None else start:
        if root in finished or root not in dependencies:
            continue
        # Iterative DFS, so long dependency chains cannot hit the recursion limit.
        path = [root]
        on_path = {root}
        pending = [iter(_deps_of(dependencies, root))]
        while pending:
            next_dep = next(pending[-1], None)
            if next_dep is None:
                done = path.pop()
                on_path.discard(done)
                finished.add(done)
                pending.pop()
                continue
            if next_dep not in dependencies or next_dep in finished:
                continue
            if next_dep in on_path:
                return [*path[path.index(next_dep) :], next_dep]
            path.append(next_dep)
            on_path.add(next_dep)
            pending.append(iter(_deps_of(dependencies, next_dep)))
    return None


def get_ready_tasks(completed: Collection[str], dependencies: Dependencies) -> list[str]:
    """Tasks not yet completed whose every dependency is completed, in map order."""
    return [
        name
        for name in dependencies
        if name not in completed and all(dep in completed for dep in _deps_of(dependencies, name))
    ]
