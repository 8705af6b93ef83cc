"""RunnerRegistry objects, the process default registry and failure-tolerant shutdown."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from ageflow.core import (
    InvalidIdentifierError,
    RunnerRegistry,
    RunnerSpawnArgs,
    RunnerSpawnResult,
    ValidateResult,
    default_registry,
    get_runner,
    get_runners,
    register_runner,
    shutdown_all_runners,
    unregister_runner,
)
from ageflow.core import registry as registry_module


class PlainRunner:
    """A runner without shutdown()."""

    async def validate(self) -> ValidateResult:
        return ValidateResult(ok=True)

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        return RunnerSpawnResult(stdout="{}")


class AsyncShutdownRunner(PlainRunner):
    def __init__(self, fail: bool = False) -> None:
        self.shutdowns = 0
        self.fail = fail

    async def shutdown(self) -> None:
        self.shutdowns += 1
        await anyio.lowlevel.checkpoint()
        if self.fail:
            raise RuntimeError("pool already gone")


class SyncShutdownRunner(PlainRunner):
    def __init__(self, fail: bool = False) -> None:
        self.shutdowns = 0
        self.fail = fail

    def shutdown(self) -> None:
        self.shutdowns += 1
        if self.fail:
            raise OSError("socket closed twice")


@pytest.fixture
def clean_default_registry() -> Iterator[None]:
    """Leave the process-wide registry as the test found it."""
    before = dict(default_registry.runners)
    yield
    for name in list(default_registry):
        default_registry.unregister(name)
    for name, runner in before.items():
        default_registry.register(name, runner)


# --- the registry object -----------------------------------------------------------------


def test_register_get_and_contains() -> None:
    registry = RunnerRegistry()
    runner = PlainRunner()
    registry.register("claude", runner)
    assert registry.get("claude") is runner
    assert "claude" in registry
    assert "codex" not in registry
    assert registry.get("codex") is None
    assert len(registry) == 1
    assert list(registry) == ["claude"]


def test_register_replaces_silently() -> None:
    registry = RunnerRegistry()
    first, second = PlainRunner(), PlainRunner()
    registry.register("claude", first)
    registry.register("claude", second)
    assert registry.get("claude") is second
    assert len(registry) == 1


def test_unregister_removes_and_ignores_absent_names() -> None:
    registry = RunnerRegistry({"claude": PlainRunner()})
    registry.unregister("claude")
    registry.unregister("claude")
    registry.unregister("never-there")
    assert "claude" not in registry
    assert len(registry) == 0


@pytest.mark.parametrize("name", ["bad name", "", "a/b", "runner!"])
def test_register_rejects_a_bad_name(name: str) -> None:
    registry = RunnerRegistry()
    with pytest.raises(InvalidIdentifierError) as info:
        registry.register(name, PlainRunner())
    assert info.value.field == "runner name"
    assert len(registry) == 0


def test_constructor_validates_names() -> None:
    with pytest.raises(InvalidIdentifierError):
        RunnerRegistry({"bad name": PlainRunner()})


def test_constructor_copies_the_mapping() -> None:
    source = {"claude": PlainRunner()}
    registry = RunnerRegistry(source)
    source["codex"] = PlainRunner()
    assert "codex" not in registry


def test_runners_is_a_live_read_only_view() -> None:
    registry = RunnerRegistry()
    view = registry.runners
    runner = PlainRunner()
    registry.register("claude", runner)
    assert view["claude"] is runner
    with pytest.raises(TypeError):
        view["codex"] = PlainRunner()  # type: ignore[index]


def test_iteration_tolerates_changes_while_iterating() -> None:
    registry = RunnerRegistry({"a": PlainRunner(), "b": PlainRunner()})
    for name in registry:
        registry.unregister(name)
    assert len(registry) == 0


def test_overlay_is_a_new_registry_that_replaces_and_extends() -> None:
    base_claude, override_claude, codex = PlainRunner(), PlainRunner(), PlainRunner()
    base = RunnerRegistry({"claude": base_claude, "api": PlainRunner()})
    merged = base.overlay({"claude": override_claude, "codex": codex})
    assert merged is not base
    assert merged.get("claude") is override_claude
    assert merged.get("codex") is codex
    assert "api" in merged
    # the base is untouched, and later changes to it do not leak into the overlay
    assert base.get("claude") is base_claude
    assert "codex" not in base
    base.register("late", PlainRunner())
    assert "late" not in merged


def test_overlay_validates_names() -> None:
    with pytest.raises(InvalidIdentifierError):
        RunnerRegistry().overlay({"not ok": PlainRunner()})


def test_two_registries_are_independent() -> None:
    one, two = RunnerRegistry(), RunnerRegistry()
    one.register("claude", PlainRunner())
    assert "claude" not in two


# --- the process default -----------------------------------------------------------------


@pytest.mark.usefixtures("clean_default_registry")
def test_module_functions_use_the_default_registry() -> None:
    runner = PlainRunner()
    register_runner("test-default-runner", runner)
    assert get_runner("test-default-runner") is runner
    assert default_registry.get("test-default-runner") is runner
    assert get_runners()["test-default-runner"] is runner
    unregister_runner("test-default-runner")
    assert get_runner("test-default-runner") is None
    assert "test-default-runner" not in get_runners()


@pytest.mark.usefixtures("clean_default_registry")
def test_get_runners_is_a_live_read_only_view_of_the_default() -> None:
    view = get_runners()
    register_runner("test-live-view", PlainRunner())
    assert "test-live-view" in view
    with pytest.raises(TypeError):
        view["x"] = PlainRunner()  # type: ignore[index]


@pytest.mark.usefixtures("clean_default_registry")
def test_register_runner_rejects_a_bad_name() -> None:
    with pytest.raises(InvalidIdentifierError, match="runner name"):
        register_runner("my runner!", PlainRunner())


@pytest.mark.anyio
@pytest.mark.usefixtures("clean_default_registry")
async def test_shutdown_all_runners_uses_the_default_registry() -> None:
    runner = AsyncShutdownRunner()
    register_runner("test-shutdown-default", runner)
    await shutdown_all_runners()
    assert runner.shutdowns == 1
    assert get_runner("test-shutdown-default") is runner


# --- shutdown_all ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_shutdown_all_calls_each_shutdown_once() -> None:
    runners = [AsyncShutdownRunner(), SyncShutdownRunner(), AsyncShutdownRunner()]
    registry = RunnerRegistry({f"r{i}": runner for i, runner in enumerate(runners)})
    await registry.shutdown_all()
    assert [runner.shutdowns for runner in runners] == [1, 1, 1]


@pytest.mark.anyio
async def test_shutdown_all_runs_shutdowns_concurrently() -> None:
    # Each shutdown waits until every other one has started: only concurrency finishes.
    started = 0
    all_started = anyio.Event()

    class Waiting(PlainRunner):
        async def shutdown(self) -> None:
            nonlocal started
            started += 1
            if started == 3:
                all_started.set()
            await all_started.wait()

    registry = RunnerRegistry({"a": Waiting(), "b": Waiting(), "c": Waiting()})
    with anyio.fail_after(5):
        await registry.shutdown_all()
    assert started == 3


@pytest.mark.anyio
async def test_shutdown_all_skips_runners_without_shutdown() -> None:
    closing = AsyncShutdownRunner()
    registry = RunnerRegistry({"plain": PlainRunner(), "closing": closing})
    await registry.shutdown_all()
    assert closing.shutdowns == 1


@pytest.mark.anyio
async def test_shutdown_all_with_no_runners_completes() -> None:
    await RunnerRegistry().shutdown_all()


@pytest.mark.anyio
@pytest.mark.parametrize("failing_kind", [AsyncShutdownRunner, SyncShutdownRunner])
async def test_one_failing_shutdown_does_not_stop_the_others(
    failing_kind: type[AsyncShutdownRunner] | type[SyncShutdownRunner],
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = failing_kind(fail=True)
    before, after = AsyncShutdownRunner(), SyncShutdownRunner()
    registry = RunnerRegistry({"before": before, "broken": failing, "after": after})
    with caplog.at_level(logging.WARNING, logger="ageflow"):
        await registry.shutdown_all()
    assert (before.shutdowns, failing.shutdowns, after.shutdowns) == (1, 1, 1)
    [record] = [r for r in caplog.records if r.name == "ageflow"]
    assert record.levelno == logging.WARNING
    assert "'broken'" in record.getMessage()
    expected = "pool already gone" if failing_kind is AsyncShutdownRunner else "socket closed"
    assert expected in record.getMessage()


@pytest.mark.anyio
async def test_every_failing_shutdown_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    registry = RunnerRegistry(
        {"one": AsyncShutdownRunner(fail=True), "two": SyncShutdownRunner(fail=True)}
    )
    with caplog.at_level(logging.WARNING, logger="ageflow"):
        await registry.shutdown_all()
    messages = sorted(r.getMessage() for r in caplog.records if r.name == "ageflow")
    assert len(messages) == 2
    assert "'one'" in messages[0]
    assert "'two'" in messages[1]


@pytest.mark.anyio
async def test_shutdown_all_does_not_clear_the_registry() -> None:
    runner = AsyncShutdownRunner()
    registry = RunnerRegistry({"claude": runner, "broken": SyncShutdownRunner(fail=True)})
    await registry.shutdown_all()
    assert registry.get("claude") is runner
    assert len(registry) == 2
    # and a second call reaches the runners again (shutdown is meant to be idempotent)
    await registry.shutdown_all()
    assert runner.shutdowns == 2


@pytest.mark.anyio
async def test_sync_shutdown_returning_none_is_fine(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    class ReturnsNone(PlainRunner):
        def shutdown(self) -> None:
            calls.append("done")

    with caplog.at_level(logging.WARNING, logger="ageflow"):
        await RunnerRegistry({"x": ReturnsNone()}).shutdown_all()
    assert calls == ["done"]
    assert not [r for r in caplog.records if r.name == "ageflow"]


@pytest.mark.anyio
async def test_sync_shutdown_returning_an_awaitable_is_awaited() -> None:
    finished: list[bool] = []

    async def close() -> None:
        await anyio.lowlevel.checkpoint()
        finished.append(True)

    class ReturnsCoroutine(PlainRunner):
        def shutdown(self):  # type: ignore[no-untyped-def]
            return close()

    await RunnerRegistry({"x": ReturnsCoroutine()}).shutdown_all()
    assert finished == [True]


def test_registry_module_logs_under_the_ageflow_logger() -> None:
    assert registry_module.logger.name == "ageflow"
