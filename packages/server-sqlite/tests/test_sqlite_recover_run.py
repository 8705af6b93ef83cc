"""``WorkflowRunner.recover_run``: continue one chosen run from a SQLite file, seeing its events."""

from __future__ import annotations

from pathlib import Path

import pytest

from ageflow.core import Checkpoint, define_function, define_workflow, loop, task
from ageflow.core.events import WorkflowEvent
from ageflow.server import (
    RunNotFoundError,
    RunOwnedElsewhereError,
    UnknownWorkflowError,
    create_runner,
)
from ageflow.server_sqlite import SqliteRunStore

pytestmark = pytest.mark.anyio

calls: list[str] = []


def _step(name: str):
    def run(value: str) -> str:
        calls.append(name)
        return f"{value}>{name}"

    return define_function(run, input=str, output=str, name=name)


workflow = define_workflow(
    name="pipeline",
    tasks={
        "draft": task(_step("draft")),
        "publish": task(
            _step("publish"),
            depends_on=["draft"],
            input=lambda ctx: ctx["draft"].output,
            hitl=Checkpoint("Publish?"),
        ),
    },
)
other = define_workflow(name="other", tasks={"draft": task(_step("other"))})


async def _two_paused_runs(path: Path) -> list[str]:
    async with SqliteRunStore(path) as store, create_runner(store=store) as first:
        ids = []
        for value in ("a", "b"):
            handle = await first.fire(workflow, value)
            await first.wait_for(handle.run_id, "awaiting-checkpoint")
            ids.append(handle.run_id)
    return ids


async def test_recover_run_continues_only_the_chosen_run_with_its_events(tmp_path: Path) -> None:
    calls.clear()
    path = tmp_path / "runs.sqlite"
    chosen, untouched = await _two_paused_runs(path)
    events: list[WorkflowEvent] = []
    async with SqliteRunStore(path) as store, create_runner(store=store) as second:
        handle = await second.recover_run(workflow, chosen, on_event=events.append)
        assert handle.run_id == chosen
        paused = await second.wait_for(chosen, "awaiting-checkpoint")
        assert paused is not None and paused.state == "awaiting-checkpoint"
        await second.resume(chosen, True)
        done = await second.wait(chosen)
        assert done is not None and done.state == "done"
        assert done.result is not None and done.result.outputs["publish"] == "a>draft>publish"
        # The other paused run was not adopted by this process.
        rest = await second.get(untouched)
        assert rest is not None and rest.state == "awaiting-checkpoint"
        assert untouched not in second._live
    types = [event.type for event in events]
    assert types[:2] == ["workflow:start", "task:restored"]
    assert "checkpoint" in types and types[-1] == "workflow:complete"
    assert calls == ["draft", "draft", "publish"]  # each draft once, the restored one not again


async def test_recover_run_refuses_runs_it_cannot_take(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    async with SqliteRunStore(path) as store, create_runner(store=store) as owner:
        handle = await owner.fire(workflow, "x")
        await owner.wait_for(handle.run_id, "awaiting-checkpoint")
        async with SqliteRunStore(path) as other_store, create_runner(store=other_store) as rival:
            with pytest.raises(RunOwnedElsewhereError) as owned:
                await rival.recover_run(workflow, handle.run_id)
            assert owned.value.run_id == handle.run_id
            with pytest.raises(RunNotFoundError):
                await rival.recover_run(workflow, "no-such-run")
            with pytest.raises(UnknownWorkflowError):
                await rival.recover_run(other, handle.run_id)


async def test_recover_run_returns_a_finished_run_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    async with SqliteRunStore(path) as store, create_runner(store=store) as runner:
        handle = await runner.fire(other, "x")
        await runner.wait(handle.run_id)
    async with SqliteRunStore(path) as store, create_runner(store=store) as runner:
        again = await runner.recover_run(other, handle.run_id)
        assert again.state == "done"
        assert handle.run_id not in runner._live


looping = define_workflow(
    name="looping",
    tasks={
        "draft": task(_step("draft")),
        "polish": loop(
            tasks={"edit": task(_step("edit"), input=lambda ctx: ctx["draft"].output)},
            max=3,
            until=lambda ctx: True,
            depends_on=["draft"],
        ),
        "publish": task(
            _step("publish"),
            depends_on=["polish"],
            input=lambda ctx: ctx["polish"].output["edit"].output,
            hitl=Checkpoint("Publish?"),
        ),
    },
)


async def test_progress_counts_top_level_tasks_once_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "runs.sqlite"
    async with SqliteRunStore(path) as store, create_runner(store=store) as first:
        handle = await first.fire(looping, "x")
        await first.wait_for(handle.run_id, "awaiting-checkpoint")
        record = await first.get_record(handle.run_id)
        # draft and the loop: the loop's body step does not count as a task.
        assert record is not None and record.progress["tasksCompleted"] == 2
    async with SqliteRunStore(path) as store, create_runner(store=store) as second:
        await second.recover_run(looping, handle.run_id)
        await second.wait_for(handle.run_id, "awaiting-checkpoint")
        await second.resume(handle.run_id, True)
        await second.wait(handle.run_id)
        record = await second.get_record(handle.run_id)
        # Restored tasks are not counted a second time.
        assert record is not None and record.progress["tasksCompleted"] == 3
        assert record.progress["completedTasks"] == ["draft", "polish", "publish"]
