"""Runner registries: which runner object serves each runner name.

A registry is an object, so a server or a test can hold its own; ``default_registry`` is
the process-wide one that the module-level functions use.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterator, Mapping
from types import MappingProxyType

import anyio

from ageflow.core.identifiers import validate_static_identifier
from ageflow.core.runner import Runner

logger = logging.getLogger("ageflow")


class RunnerRegistry:
    """A mutable name -> runner mapping with a concurrent, failure-tolerant shutdown."""

    def __init__(self, runners: Mapping[str, Runner] | None = None) -> None:
        self._runners: dict[str, Runner] = {}
        for name, runner in (runners or {}).items():
            self.register(name, runner)

    def register(self, name: str, runner: Runner) -> None:
        """Add or silently replace the runner for ``name`` (a static identifier)."""
        validate_static_identifier(name, "runner name")
        self._runners[name] = runner

    def unregister(self, name: str) -> None:
        """Remove ``name``; no error when it is absent."""
        self._runners.pop(name, None)

    def get(self, name: str) -> Runner | None:
        return self._runners.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._runners

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._runners))

    def __len__(self) -> int:
        return len(self._runners)

    @property
    def runners(self) -> Mapping[str, Runner]:
        """A live read-only view of the registered runners."""
        return MappingProxyType(self._runners)

    def overlay(self, runners: Mapping[str, Runner]) -> RunnerRegistry:
        """A new registry with this one's runners, replaced or extended by ``runners``."""
        merged = RunnerRegistry(self._runners)
        for name, runner in runners.items():
            merged.register(name, runner)
        return merged

    async def shutdown_all(self) -> None:
        """Call ``shutdown()`` on every runner that has one, concurrently.

        A failing shutdown is logged and swallowed so the others still run; the registry
        is not cleared.
        """

        async def shut(name: str, runner: Runner) -> None:
            try:
                shutdown = getattr(runner, "shutdown", None)
                if shutdown is not None:
                    result = shutdown()
                    if inspect.isawaitable(result):
                        await result
            except Exception as exc:
                logger.warning("runner %r failed to shut down: %s", name, exc)

        async with anyio.create_task_group() as group:
            for name, runner in list(self._runners.items()):
                group.start_soon(shut, name, runner)


default_registry = RunnerRegistry()


def register_runner(name: str, runner: Runner) -> None:
    default_registry.register(name, runner)


def unregister_runner(name: str) -> None:
    default_registry.unregister(name)


def get_runner(name: str) -> Runner | None:
    return default_registry.get(name)


def get_runners() -> Mapping[str, Runner]:
    return default_registry.runners


async def shutdown_all_runners() -> None:
    await default_registry.shutdown_all()
