"""The server runner: stream, run, fire, resume, cancel, get, list, the reaper and close."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from ageflow.core import (
    Checkpoint,
    RetryConfig,
    RunnerRegistry,
    RunnerSpawnArgs,
    WorkflowDef,
    WorkflowHooks,
    define_agent,
    define_workflow,
    share_session_with,
    task,
)
from ageflow.executor import HitlRejectedError, StepRecord
from ageflow.server import (
    CheckpointTimeoutError,
    InMemoryRunStore,
    InvalidRunStateError,
    RunNotFoundError,
    RunPolicy,
    RunRecord,
    create_runner,
)
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Out(BaseModel):
    ok: bool
    tag: str = ""


class RecordingStore(InMemoryRunStore):
    """Remembers the state of every record written, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.saved_states: list[str] = []
        self.saved: list[RunRecord] = []

    async def save_run(
        self, record: RunRecord, *, owner: str | None = None, steps: Sequence[StepRecord] = ()
    ) -> bool:
        self.saved_states.append(record.state)
        self.saved.append(record)
        return await super().save_run(record, owner=owner, steps=steps)


def agent(tag: str = "", **kw: Any) -> Any:
    return define_agent(
        runner="fake",
        input=dict,
        output=Out,
        prompt=lambda x: f"{tag}:{json.dumps(x)}",
        retry=RetryConfig(max=1),
        **kw,
    )


def one_task(name: str = "w", **task_kw: Any) -> WorkflowDef:
    return define_workflow(name=name, tasks={"t": task(agent(name), **task_kw)})


def checkpointed(name: str = "hitl") -> WorkflowDef:
    return define_workflow(
        name=name,
        tasks={
            "before": task(agent("before")),
            "t": task(agent("t"), depends_on=["before"], hitl=Checkpoint("please approve")),
        },
    )


@pytest.fixture
def runner_obj() -> ScriptedRunner:
    return ScriptedRunner(lambda args: json.dumps({"ok": True, "tag": args.prompt.split(":")[0]}))


@pytest.fixture
def registry(runner_obj: ScriptedRunner) -> RunnerRegistry:
    return RunnerRegistry({"fake": runner_obj})


async def wait_for_state(runner: Any, run_id: str, state: str) -> None:
    with anyio.fail_after(5):
        handle = await runner.wait_for(run_id, state)
    assert handle is not None
    assert handle.state == state


async def test_stream_events_run_id_and_stored_result(registry: RunnerRegistry) -> None:
    store = InMemoryRunStore()
    async with create_runner(store=store, registry=registry) as runner:
        events = []
        async with runner.stream(one_task(), {"q": 1}) as stream:
            async for event in stream:
                events.append(event)
        assert events[0].type == "workflow:start"
        assert events[-1].type == "workflow:complete"
        assert {e.run_id for e in events} == {stream.run_id}
        record = await store.get_run(stream.run_id)
        assert record is not None
        assert record.state == "done"
        assert record.result is not None
        assert record.result.outputs["t"] == {"ok": True, "tag": "w"}
        assert (await store.get_input(stream.run_id)).value == {"q": 1}  # type: ignore[union-attr]


async def test_run_equals_drained_stream_and_rejects_checkpoints_by_default(
    registry: RunnerRegistry,
) -> None:
    async with create_runner(registry=registry) as runner:
        result = await runner.run(one_task())
        assert result.outputs["t"] == Out(ok=True, tag="w")
        with pytest.raises(HitlRejectedError):
            await runner.run(checkpointed())


async def test_fire_reports_events_and_completion(registry: RunnerRegistry) -> None:
    seen: list[str] = []
    completed = anyio.Event()
    results: list[Any] = []

    def on_complete(result: Any) -> None:
        results.append(result)
        completed.set()

    async with create_runner(registry=registry) as runner:
        handle = await runner.fire(
            one_task("fired"),
            on_event=lambda e: seen.append(e.type),
            on_complete=on_complete,
        )
        assert handle.state == "running"
        assert handle.workflow_name == "fired"
        assert (await runner.get(handle.run_id)) is not None  # known at once
        with anyio.fail_after(5):
            await completed.wait()
        assert "workflow:complete" in seen
        assert seen[-1] == "workflow:complete"  # every event delivered before on_complete
        assert results[0].outputs["t"].tag == "fired"
        final = await runner.get(handle.run_id)
        assert final is not None
        assert final.state == "done"


async def test_fire_failure_goes_to_on_error_and_listener_errors_are_ignored(
    runner_obj: ScriptedRunner, registry: RunnerRegistry
) -> None:
    def boom(_args: RunnerSpawnArgs) -> str:
        raise RuntimeError("boom")

    runner_obj.respond = boom
    errors: list[BaseException] = []
    done = anyio.Event()

    def on_event(_event: Any) -> None:
        raise ValueError("listener broke")

    def on_error(exc: BaseException) -> None:
        errors.append(exc)
        done.set()

    async with create_runner(registry=registry) as runner:
        handle = await runner.fire(one_task(), on_event=on_event, on_error=on_error)
        with anyio.fail_after(5):
            await done.wait()
        assert "boom" in str(errors[0])
        final = await runner.get(handle.run_id)
        assert final is not None
        assert final.state == "failed"
        assert final.error is not None
        assert final.error.message == "boom"


async def test_on_complete_raising_does_not_call_on_error(registry: RunnerRegistry) -> None:
    # D13: the original called on_error too when on_complete raised.
    errors: list[BaseException] = []
    calls: list[str] = []
    called = anyio.Event()

    def on_complete(_result: Any) -> None:
        calls.append("complete")
        called.set()
        raise RuntimeError("listener bug")

    async with create_runner(registry=registry) as runner:
        await runner.fire(one_task(), on_complete=on_complete, on_error=errors.append)
        with anyio.fail_after(5):
            await called.wait()
    assert calls == ["complete"]
    assert errors == []


async def test_checkpoint_pauses_until_resume_and_is_stored(registry: RunnerRegistry) -> None:
    store = InMemoryRunStore()
    async with create_runner(store=store, registry=registry) as runner:
        events = []
        async with runner.stream(checkpointed()) as stream:
            async for event in stream:
                events.append(event)
                if event.type == "checkpoint":
                    await wait_for_state(runner, stream.run_id, "awaiting-checkpoint")
                    handle = await runner.get(stream.run_id)
                    assert handle is not None
                    assert handle.pending_checkpoint is not None
                    assert handle.pending_checkpoint.message == "please approve"
                    stored = await store.get_run(stream.run_id)
                    assert stored is not None
                    assert stored.state == "awaiting-checkpoint"
                    assert stored.pending_checkpoint is not None
                    assert stored.pending_checkpoint.task_name == "t"
                    await runner.resume(stream.run_id, True)
        assert events[-1].type == "workflow:complete"


async def test_resume_false_fails_the_run(registry: RunnerRegistry) -> None:
    async with create_runner(registry=registry) as runner:
        events = []
        with pytest.raises(HitlRejectedError):
            async with runner.stream(checkpointed()) as stream:
                async for event in stream:
                    events.append(event)
                    if event.type == "checkpoint":
                        await wait_for_state(runner, stream.run_id, "awaiting-checkpoint")
                        await runner.resume(stream.run_id, False)
        assert events[-1].type == "workflow:error"
        handle = await runner.get(stream.run_id)
        assert handle is not None
        assert handle.state == "failed"


async def test_resume_errors() -> None:
    async with create_runner(registry=RunnerRegistry()) as runner:
        with pytest.raises(RunNotFoundError, match=r"(?i)not found"):
            await runner.resume("nope", True)


async def test_resume_on_a_finished_run_is_invalid(registry: RunnerRegistry) -> None:
    async with create_runner(registry=registry) as runner:
        handle = await runner.fire(one_task())
        await runner.wait(handle.run_id)
        with pytest.raises(InvalidRunStateError, match=r"invalid state: done"):
            await runner.resume(handle.run_id, True)


async def test_checkpoint_ttl_fails_with_checkpoint_timeout(registry: RunnerRegistry) -> None:
    # D17: the original ended a timed-out live checkpoint as HitlRejectedError.
    store = RecordingStore()
    async with create_runner(store=store, registry=registry, checkpoint_ttl_ms=50) as runner:
        events = []
        with pytest.raises(CheckpointTimeoutError):
            async with runner.stream(checkpointed()) as stream:
                async for event in stream:
                    events.append(event)
                    if event.type == "checkpoint":
                        await wait_for_state(runner, stream.run_id, "awaiting-checkpoint")
                        record = await runner.get_record(stream.run_id)
                        assert record is not None
                        await runner.sweep(now=record.last_event_at + 51)
        assert events[-1].type == "workflow:error"
        assert events[-1].error.name == "CheckpointTimeoutError"
        handle = await runner.get(stream.run_id)
        assert handle is not None
        assert handle.state == "failed"
        assert handle.error is not None
        assert handle.error.name == "CheckpointTimeoutError"
        # D10: nothing leaves the terminal state afterwards.
        with pytest.raises(InvalidRunStateError):
            await runner.resume(stream.run_id, True)
        assert store.saved_states[-1] == "failed"
        assert "running" not in store.saved_states[store.saved_states.index("failed") :]


async def test_cancel_mid_run_and_cancel_edge_cases(
    runner_obj: ScriptedRunner, registry: RunnerRegistry
) -> None:
    started = anyio.Event()

    async def slow(_args: RunnerSpawnArgs) -> str:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    runner_obj.respond = slow
    async with create_runner(registry=registry) as runner:
        handle = await runner.fire(one_task())
        with anyio.fail_after(5):
            await started.wait()
        await runner.cancel(handle.run_id)
        final = await runner.wait(handle.run_id)
        assert final is not None
        assert final.state == "cancelled"
        assert runner_obj.cancelled == ["t"]
        await runner.cancel("nope")  # unknown: nothing happens


async def test_cancel_on_a_done_run_leaves_it_done(registry: RunnerRegistry) -> None:
    async with create_runner(registry=registry) as runner:
        handle = await runner.fire(one_task())
        await runner.wait(handle.run_id)
        await runner.cancel(handle.run_id)
        final = await runner.get(handle.run_id)
        assert final is not None
        assert final.state == "done"


async def test_cancel_while_awaiting_never_flips_back_to_running(
    registry: RunnerRegistry,
) -> None:
    # D14: the original persisted "running" between the cancel and "cancelled".
    store = RecordingStore()
    async with create_runner(store=store, registry=registry) as runner:
        handle = await runner.fire(checkpointed())
        await wait_for_state(runner, handle.run_id, "awaiting-checkpoint")
        await runner.cancel(handle.run_id)
        await runner.wait(handle.run_id)
    after_pause = store.saved_states[store.saved_states.index("awaiting-checkpoint") :]
    assert after_pause == ["awaiting-checkpoint", "cancelled"]


async def test_signal_abort_and_pre_aborted_signal_cancel(
    runner_obj: ScriptedRunner, registry: RunnerRegistry
) -> None:
    async with create_runner(registry=registry) as runner:
        aborted = anyio.Event()
        aborted.set()
        # D11: a signal already aborted when the run starts is honoured.
        handle = await runner.fire(one_task(), signal=aborted)
        final = await runner.wait(handle.run_id)
        assert final is not None
        assert final.state == "cancelled"
        assert runner_obj.calls == []

        signal = anyio.Event()

        async def slow(_args: RunnerSpawnArgs) -> str:
            signal.set()
            await anyio.sleep_forever()
            raise AssertionError

        runner_obj.respond = slow
        handle = await runner.fire(one_task(), signal=signal)
        final = await runner.wait(handle.run_id)
        assert final is not None
        assert final.state == "cancelled"


async def test_concurrent_runs_keep_their_own_outputs_and_events(
    runner_obj: ScriptedRunner, registry: RunnerRegistry
) -> None:
    gate = anyio.Event()

    async def respond(args: RunnerSpawnArgs) -> str:
        tag = args.prompt.split(":")[0]
        if tag == "slow":
            await gate.wait()
        return json.dumps({"ok": True, "tag": tag})

    runner_obj.respond = respond
    seen: dict[str, set[str]] = {"slow": set(), "fast": set()}
    async with create_runner(registry=registry) as runner:
        slow = await runner.fire(one_task("slow"), on_event=lambda e: seen["slow"].add(e.run_id))
        fast = await runner.fire(one_task("fast"), on_event=lambda e: seen["fast"].add(e.run_id))
        await runner.wait(fast.run_id)
        still = await runner.get(slow.run_id)
        assert still is not None
        assert still.state == "running"
        gate.set()
        done = await runner.wait(slow.run_id)
        assert done is not None
        assert done.result is not None
        assert done.result.outputs["t"].tag == "slow"  # type: ignore[union-attr]
        listed = {h.run_id for h in await runner.list()}
        assert {slow.run_id, fast.run_id} <= listed
    assert seen == {"slow": {slow.run_id}, "fast": {fast.run_id}}


async def test_reaper_forgets_and_deletes_finished_runs_after_ttl(registry: RunnerRegistry) -> None:
    store = InMemoryRunStore()
    async with create_runner(store=store, registry=registry, ttl_ms=1000) as runner:
        handle = await runner.fire(one_task())
        final = await runner.wait(handle.run_id)
        assert final is not None
        await runner.sweep(now=final.last_event_at + 500)
        assert await runner.get(handle.run_id) is not None
        await runner.sweep(now=final.last_event_at + 1001)
        assert await runner.get(handle.run_id) is None
        assert await store.get_run(handle.run_id) is None


async def test_executor_construction_error_fails_the_run(registry: RunnerRegistry) -> None:
    # D12: the original left such a run "running" forever.
    broken = WorkflowDef(
        name="broken",
        tasks={
            "a": task(agent(), session=share_session_with("b")),
            "b": task(agent(), session=share_session_with("a")),
        },
    )
    async with create_runner(registry=registry) as runner:
        handle = await runner.fire(broken)
        final = await runner.wait(handle.run_id)
        assert final is not None
        assert final.state == "failed"
        assert final.error is not None
        assert final.error.name == "SessionCycleError"


async def test_close_keeps_in_flight_runs_recoverable_and_the_callers_store_open(
    runner_obj: ScriptedRunner, registry: RunnerRegistry
) -> None:
    # D15: the original closed the caller's store and left in-flight runs writing to it.
    shutdowns: list[str] = []

    class Shut(ScriptedRunner):
        async def shutdown(self) -> None:
            shutdowns.append("called")

    started = anyio.Event()

    async def slow(_args: RunnerSpawnArgs) -> str:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError

    store = InMemoryRunStore()
    shut = Shut(slow)
    async with create_runner(store=store, registry=RunnerRegistry({"fake": shut})) as runner:
        handle = await runner.fire(one_task())
        with anyio.fail_after(5):
            await started.wait()
    record = await store.get_run(handle.run_id)  # the store is still open
    assert record is not None
    assert record.state == "running"
    assert record.owner is None  # released: another process may take it at once
    assert shut.cancelled == ["t"]
    assert shutdowns == []


async def test_policy_approve_and_reject_checkpoints(registry: RunnerRegistry) -> None:
    async with create_runner(registry=registry) as runner:
        result = await runner.run(checkpointed(), policy=RunPolicy(checkpoint="approve"))
        assert result.outputs["t"].tag == "t"
        with pytest.raises(HitlRejectedError):
            await runner.run(checkpointed(), policy=RunPolicy(checkpoint="reject"))


async def test_policy_ceilings_cost_turns_and_deadline(
    runner_obj: ScriptedRunner, registry: RunnerRegistry
) -> None:
    from ageflow.core import BudgetExceededError, RunnerSpawnResult
    from ageflow.server import RunDeadlineExceededError, TurnsExceededError

    two = define_workflow(
        name="two", tasks={"a": task(agent()), "b": task(agent(), depends_on=["a"])}
    )
    async with create_runner(registry=registry) as runner:
        with pytest.raises(TurnsExceededError):
            await runner.run(two, policy=RunPolicy(max_turns=1))
        assert [c.prompt.split(":")[0] for c in runner_obj.calls] == [""]

        runner_obj.respond = lambda _a: RunnerSpawnResult(
            stdout='{"ok": true}', tokens_in=1_000_000, tokens_out=0
        )
        with pytest.raises(BudgetExceededError):
            await runner.run(two, policy=RunPolicy(max_cost_usd=1.0))

        async def slow(_args: RunnerSpawnArgs) -> str:
            await anyio.sleep_forever()
            raise AssertionError

        runner_obj.respond = slow
        from ageflow.core import now_ms

        handle = await runner.fire(two, policy=RunPolicy(deadline_at=now_ms() + 50))
        final = await runner.wait(handle.run_id)
        assert final is not None
        assert final.state == "failed"
        assert final.error is not None
        assert final.error.name == RunDeadlineExceededError.__name__


async def test_progress_counts_each_task_once_and_snapshots_keep_their_own_list(
    registry: RunnerRegistry,
) -> None:
    async with create_runner(registry=registry) as runner:
        handle = await runner.fire(checkpointed(), {"q": 1}, policy=RunPolicy(checkpoint="pause"))
        await wait_for_state(runner, handle.run_id, "awaiting-checkpoint")
        paused = await runner.get_record(handle.run_id)
        assert paused is not None
        assert paused.progress["completedTasks"] == ["before"]
        assert paused.progress["tasksCompleted"] == 1
        await runner.resume(handle.run_id, True)
        await runner.wait(handle.run_id)
        done = await runner.get_record(handle.run_id)
        assert done is not None
        assert done.progress["completedTasks"] == ["before", "t"]
        assert done.progress["tasksCompleted"] == 2
        # The snapshot taken at the checkpoint did not grow with the run.
        assert paused.progress["completedTasks"] == ["before"]


class JournalCountingStore(InMemoryRunStore):
    """Counts the writes that journal steps: on their own, and with a record."""

    def __init__(self) -> None:
        super().__init__()
        self.appended: list[str] = []
        self.saved_with: list[tuple[str, list[str]]] = []

    async def append_step(self, run_id: str, step: StepRecord) -> None:
        self.appended.append(step.step_key)
        await super().append_step(run_id, step)

    async def save_run(
        self, record: RunRecord, *, owner: str | None = None, steps: Sequence[StepRecord] = ()
    ) -> bool:
        if steps:
            self.saved_with.append((record.state, [s.step_key for s in steps]))
        return await super().save_run(record, owner=owner, steps=steps)


async def test_the_last_step_is_journaled_with_the_final_state(registry: RunnerRegistry) -> None:
    store = JournalCountingStore()
    workflow = define_workflow(
        name="two",
        tasks={
            "first": task(agent("first")),
            "second": task(agent("second"), depends_on=["first"]),
        },
    )
    async with create_runner(store=store, registry=registry) as runner:
        handle = await runner.fire(workflow, {"q": 1})
        await runner.wait(handle.run_id)
        assert store.appended == ["first"]
        assert store.saved_with == [("done", ["second"])]
        assert list(await store.get_steps(handle.run_id)) == ["first", "second"]


async def test_a_run_failing_after_its_last_step_keeps_that_step(registry: RunnerRegistry) -> None:
    store = JournalCountingStore()

    def explode(*_: Any) -> None:
        raise RuntimeError("hook failed")

    workflow = define_workflow(
        name="hooked",
        tasks={"only": task(agent("only"))},
        hooks=WorkflowHooks(on_workflow_complete=explode),
    )
    async with create_runner(store=store, registry=registry) as runner:
        handle = await runner.fire(workflow, {"q": 1})
        final = await runner.wait(handle.run_id)
        assert final is not None and final.state == "failed"
        assert store.saved_with == [("failed", ["only"])]
        assert list(await store.get_steps(handle.run_id)) == ["only"]


async def test_list_records_gives_the_listed_runs_full_records_live_ones_as_seen_here(
    runner_obj: ScriptedRunner, registry: RunnerRegistry
) -> None:
    gate = anyio.Event()

    async def respond(args: RunnerSpawnArgs) -> str:
        tag = args.prompt.split(":")[0]
        if tag == "slow":
            await gate.wait()
        return json.dumps({"ok": True, "tag": tag})

    runner_obj.respond = respond
    async with create_runner(registry=registry) as runner:
        fast = await runner.fire(one_task("fast"))
        await runner.wait(fast.run_id)
        slow = await runner.fire(one_task("slow"))
        await runner.wait_for(slow.run_id, "running")
        records = await runner.list_records()
        handles = await runner.list()
        assert [r.run_id for r in records] == [h.run_id for h in handles]
        assert {r.run_id: r.state for r in records} == {
            fast.run_id: "done",
            slow.run_id: "running",
        }
        # The live run's record is the one this process holds, not a stored copy.
        assert next(r for r in records if r.run_id == slow.run_id) is await runner.get_record(
            slow.run_id
        )
        assert await runner.list_records(states=["done"]) == [
            r for r in records if r.run_id == fast.run_id
        ]
        gate.set()
        await runner.wait(slow.run_id)
