"""Recovery resumes instead of replaying: journals, inputs, checkpoints, policies, leases."""

from __future__ import annotations

import json
import sys
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
    define_function,
    define_workflow,
    now_ms,
    task,
)
from ageflow.executor import StepRecord
from ageflow.server import (
    CheckpointDecision,
    InMemoryRunStore,
    RunPolicy,
    RunRecord,
    create_runner,
)
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Ask(BaseModel):
    q: str


class Out(BaseModel):
    text: str


def pipeline(name: str = "pipeline") -> WorkflowDef:
    """first (root, gets the workflow input) -> second -> gate (checkpoint) -> last."""

    def ask(tag: str) -> Any:
        return define_agent(
            runner="fake",
            input=Any,
            output=Out,
            prompt=lambda x: f"{tag}|{json.dumps(x, default=str)}",
            retry=RetryConfig(max=1),
        )

    first = define_agent(
        runner="fake",
        input=Ask,
        output=Out,
        prompt=lambda a: f"first|{a.q}",
        retry=RetryConfig(max=1),
    )
    return define_workflow(
        name=name,
        tasks={
            "first": task(first),
            "second": task(
                ask("second"), depends_on=["first"], input=lambda c: c["first"].output.text
            ),
            "gate": task(
                ask("gate"),
                depends_on=["second"],
                input=lambda c: c["second"].output.text,
                hitl=Checkpoint("ship?"),
            ),
            "last": task(ask("last"), depends_on=["gate"], input=lambda c: c["gate"].output.text),
        },
    )


def echo_runner(block_on: str | None = None, started: anyio.Event | None = None) -> ScriptedRunner:
    async def respond(args: RunnerSpawnArgs) -> str:
        tag, _, rest = args.prompt.partition("|")
        if tag == block_on:
            if started is not None:
                started.set()
            await anyio.sleep_forever()
        return json.dumps({"text": f"{tag}({rest})"})

    return ScriptedRunner(respond)


def tags(runner: ScriptedRunner) -> list[str]:
    return [call.prompt.partition("|")[0] for call in runner.calls]


async def reference_outputs() -> dict[str, Any]:
    runner = echo_runner()
    async with create_runner(registry=RunnerRegistry({"fake": runner})) as server:
        result = await server.run(pipeline(), {"q": "why"}, policy=RunPolicy(checkpoint="approve"))
    return {name: out.model_dump() for name, out in result.outputs.items()}


async def test_interrupted_mid_task_resumes_from_the_journal_with_the_stored_input() -> None:
    expected = await reference_outputs()
    store = InMemoryRunStore()
    started = anyio.Event()
    first_process = echo_runner(block_on="second", started=started)
    async with create_runner(store=store, registry=RunnerRegistry({"fake": first_process})) as a:
        handle = await a.fire(pipeline(), {"q": "why"}, policy=RunPolicy(checkpoint="approve"))
        with anyio.fail_after(5):
            await started.wait()
    # The first process is gone with "second" in flight; the run is still unfinished.
    assert tags(first_process) == ["first", "second"]

    second_process = echo_runner()
    async with create_runner(store=store, registry=RunnerRegistry({"fake": second_process})) as b:
        assert await b.recover(pipeline()) == [handle.run_id]
        final = await b.wait(handle.run_id)
    # D5: "first" was not called again; D3: the stored input reached it; D4: the
    # approve policy survived (no pause at the gate).
    assert tags(second_process) == ["second", "gate", "last"]
    assert final is not None
    assert final.state == "done"
    assert final.result is not None
    assert final.result.to_wire()["outputs"] == expected


async def test_awaiting_checkpoint_comes_back_awaiting_and_resumes_at_once() -> None:
    expected = await reference_outputs()
    store = InMemoryRunStore()
    first_process = echo_runner()
    async with create_runner(store=store, registry=RunnerRegistry({"fake": first_process})) as a:
        handle = await a.fire(pipeline(), {"q": "why"})
        with anyio.fail_after(5):
            await a.wait_for(handle.run_id, "awaiting-checkpoint")
    stored = await store.get_run(handle.run_id)
    assert stored is not None
    assert stored.state == "awaiting-checkpoint"

    second_process = echo_runner()
    async with create_runner(
        store=store, registry=RunnerRegistry({"fake": second_process}), workflows=[pipeline()]
    ) as b:
        handle_b = await b.get(handle.run_id)
        assert handle_b is not None
        assert handle_b.state == "awaiting-checkpoint"
        assert handle_b.pending_checkpoint is not None
        await b.resume(handle.run_id, True)  # D2: works at once, no retry loop
        final = await b.wait(handle.run_id)
    assert tags(second_process) == ["gate", "last"]
    assert final is not None
    assert final.result is not None
    assert final.result.to_wire()["outputs"] == expected


async def test_decision_is_persisted_before_it_is_acted_on() -> None:
    store = InMemoryRunStore()
    saved: list[RunRecord] = []
    original_save = store.save_run

    async def recording_save(
        record: RunRecord, *, owner: str | None = None, steps: Sequence[StepRecord] = ()
    ) -> bool:
        saved.append(record)
        return await original_save(record, owner=owner, steps=steps)

    store.save_run = recording_save  # type: ignore[method-assign]
    runner = echo_runner()
    async with create_runner(store=store, registry=RunnerRegistry({"fake": runner})) as server:
        handle = await server.fire(pipeline(), {"q": "x"})
        with anyio.fail_after(5):
            await server.wait_for(handle.run_id, "awaiting-checkpoint")
        calls_before = len(runner.calls)
        await server.resume(handle.run_id, True)
        decided = [r for r in saved if r.decision is not None]
        assert decided, "the decision was not stored"
        assert decided[0].decision.approved is True  # type: ignore[union-attr]
        assert decided[0].state == "awaiting-checkpoint"
        await server.wait(handle.run_id)
        assert len(runner.calls) > calls_before


async def test_a_stored_decision_is_used_after_a_crash() -> None:
    store = InMemoryRunStore()
    async with create_runner(store=store, registry=RunnerRegistry({"fake": echo_runner()})) as a:
        handle = await a.fire(pipeline(), {"q": "x"})
        with anyio.fail_after(5):
            await a.wait_for(handle.run_id, "awaiting-checkpoint")
    # As if the first process stored "approved" and died before acting on it.
    record = await store.get_run(handle.run_id)
    assert record is not None
    pending = record.pending_checkpoint
    assert pending is not None
    await store.save_run(
        record.model_copy(
            update={
                "decision": CheckpointDecision(
                    step_key=pending.step_key or "gate", approved=True, decided_at=now_ms()
                )
            }
        )
    )
    second = echo_runner()
    async with create_runner(store=store, registry=RunnerRegistry({"fake": second})) as b:
        await b.recover(pipeline())
        final = await b.wait(handle.run_id)
    assert final is not None
    assert final.state == "done"
    assert tags(second) == ["gate", "last"]


async def test_a_run_with_a_live_owner_is_not_taken_and_a_lapsed_one_is() -> None:
    store = InMemoryRunStore()
    now = now_ms()
    for run_id, lease in (("live", now + 60_000), ("lapsed", now - 1)):
        record = RunRecord(
            run_id=run_id,
            workflow_name="pipeline",
            state="running",
            created_at=now,
            last_event_at=now,
            owner="some-other-host:1:abc",
            lease_until=lease,
            policy=RunPolicy(checkpoint="approve"),
        )
        await store.create_run(record, {"q": run_id})
    runner = echo_runner()
    async with create_runner(store=store, registry=RunnerRegistry({"fake": runner})) as b:
        assert await b.recover(pipeline()) == ["lapsed"]
        with anyio.fail_after(5):
            final = await b.wait("lapsed")
        assert final is not None
        assert final.state == "done"
        live = await store.get_run("live")
    assert live is not None
    assert live.owner == "some-other-host:1:abc"
    assert live.state == "running"
    assert runner.calls[0].prompt == "first|lapsed"  # the stored input of that run


async def test_runs_of_a_dead_process_on_this_machine_are_taken_at_once() -> None:
    import socket

    dead = await anyio.run_process([sys.executable, "-c", "import os; print(os.getpid())"])
    dead_pid = int(dead.stdout)
    store = InMemoryRunStore()
    now = now_ms()
    await store.create_run(
        RunRecord(
            run_id="orphan",
            workflow_name="pipeline",
            state="running",
            created_at=now,
            last_event_at=now,
            owner=f"{socket.gethostname()}:{dead_pid}:deadbeef",
            lease_until=now + 60_000,  # the lease is still live, but its process is gone
        ),
        {"q": "orphan"},
    )
    async with create_runner(store=store, registry=RunnerRegistry({"fake": echo_runner()})) as b:
        assert await b.recover(pipeline()) == ["orphan"]


async def test_a_runner_that_lost_its_lease_stops_executing_and_writing() -> None:
    store = InMemoryRunStore()
    started = anyio.Event()
    slow = echo_runner(block_on="second", started=started)
    errors: list[BaseException] = []
    async with create_runner(store=store, registry=RunnerRegistry({"fake": slow})) as a:
        handle = await a.fire(
            pipeline(),
            {"q": "x"},
            policy=RunPolicy(checkpoint="approve"),
            on_error=errors.append,
        )
        with anyio.fail_after(5):
            await started.wait()
        # Another process claims the run as if A's lease had lapsed (A was frozen).
        assert await store.claim_run(handle.run_id, "thief", now_ms() + 60_000, now_ms() + 10**9)
        await a.renew_leases()
        with anyio.fail_after(5):
            await a.wait(handle.run_id)
        record = await store.get_run(handle.run_id)
        assert record is not None
        assert record.owner == "thief"
        assert record.state == "running"  # A wrote nothing after losing it
    assert slow.cancelled == ["second"]
    assert [type(e).__name__ for e in errors] == ["RunOwnershipLostError"]


async def test_function_steps_are_journaled_and_not_rerun() -> None:
    calls: list[int] = []
    gate = anyio.Event()
    blocked = anyio.Event()

    async def step(n: int) -> int:
        calls.append(n)
        if n == 2 and not gate.is_set():
            blocked.set()
            await anyio.sleep_forever()
        return n + 1

    fn = define_function(step, input=int, output=int)
    workflow = define_workflow(
        name="fns",
        tasks={
            "a": task(fn),
            "b": task(fn, depends_on=["a"], input=lambda c: c["a"].output),
            "c": task(fn, depends_on=["b"], input=lambda c: c["b"].output),
        },
    )
    store = InMemoryRunStore()
    async with create_runner(store=store) as a:
        handle = await a.fire(workflow, 1)
        with anyio.fail_after(5):
            await blocked.wait()
    gate.set()
    calls.clear()
    async with create_runner(store=store) as b:
        await b.recover(workflow)
        final = await b.wait(handle.run_id)
    assert calls == [2, 3]  # "a" (input 1) was restored, not re-run
    assert final is not None
    assert final.result is not None
    assert final.result.outputs == {"a": 2, "b": 3, "c": 4}


async def test_status_writes_never_drop_the_stored_input() -> None:
    # D1: in the original, writes of status snapshots replaced the row and lost the input.
    store = InMemoryRunStore()
    runner = echo_runner()
    async with create_runner(store=store, registry=RunnerRegistry({"fake": runner})) as server:
        handle = await server.fire(pipeline(), {"q": "keep me"})
        with anyio.fail_after(5):
            await server.wait_for(handle.run_id, "awaiting-checkpoint")
        for _ in range(3):  # polls do not write at all; transitions write the record only
            await server.get(handle.run_id)
        await server.resume(handle.run_id, True)
        await server.wait(handle.run_id)
    stored = await store.get_input(handle.run_id)
    assert stored is not None
    assert stored.value == {"q": "keep me"}
    assert runner.calls[0].prompt == "first|keep me"


class LosesTheFinalWrite(InMemoryRunStore):
    """A store where the write of a run's end never lands while ``losing`` (the process
    died before it): nothing is written, and the runner hears "not saved"."""

    def __init__(self) -> None:
        super().__init__()
        self.final_write_lost = anyio.Event()
        self.losing = True

    async def save_run(
        self, record: RunRecord, *, owner: str | None = None, steps: Sequence[StepRecord] = ()
    ) -> bool:
        if steps and self.losing:
            self.final_write_lost.set()
            return False
        return await super().save_run(record, owner=owner, steps=steps)


async def test_dying_before_the_final_write_runs_only_the_last_step_again() -> None:
    expected = await reference_outputs()
    store = LosesTheFinalWrite()
    first_process = echo_runner()
    policy = RunPolicy(checkpoint="approve")
    async with create_runner(store=store, registry=RunnerRegistry({"fake": first_process})) as a:
        handle = await a.fire(pipeline(), {"q": "why"}, policy=policy)
        with anyio.fail_after(5):
            await store.final_write_lost.wait()
    # "last" finished, but its step was to be stored with the final state: still running.
    assert tags(first_process) == ["first", "second", "gate", "last"]
    stored = await store.get_run(handle.run_id)
    assert stored is not None and stored.state == "running"
    assert list(await store.get_steps(handle.run_id)) == ["first", "second", "gate"]

    # The first process is gone: its lease on the run lapses.
    await store.release_runs(a.owner_id, [handle.run_id])
    second_process = echo_runner()
    store.losing = False
    async with create_runner(store=store, registry=RunnerRegistry({"fake": second_process})) as b:
        assert await b.recover(pipeline()) == [handle.run_id]
        final = await b.wait(handle.run_id)
    assert tags(second_process) == ["last"]  # only the step in flight ran again
    assert final is not None and final.state == "done"
    assert final.result is not None
    assert final.result.to_wire()["outputs"] == expected
    assert list(await store.get_steps(handle.run_id)) == ["first", "second", "gate", "last"]


async def test_closing_between_the_last_step_and_the_final_write_keeps_the_step() -> None:
    # The last step is held for the run's final write; a runner closing before that
    # write journals it on its own, so the next process does not run it again.
    store = InMemoryRunStore()
    completing = anyio.Event()

    async def slow_completion(*_: Any) -> None:
        completing.set()
        await anyio.sleep_forever()  # until the closing runner cancels the run

    slow = pipeline().with_hooks(WorkflowHooks(on_workflow_complete=slow_completion))
    first_process = echo_runner()
    policy = RunPolicy(checkpoint="approve")
    async with create_runner(store=store, registry=RunnerRegistry({"fake": first_process})) as a:
        handle = await a.fire(slow, {"q": "why"}, policy=policy)
        with anyio.fail_after(5):
            await completing.wait()
    assert tags(first_process) == ["first", "second", "gate", "last"]
    assert list(await store.get_steps(handle.run_id)) == ["first", "second", "gate", "last"]

    second_process = echo_runner()
    async with create_runner(store=store, registry=RunnerRegistry({"fake": second_process})) as b:
        assert await b.recover(pipeline()) == [handle.run_id]
        final = await b.wait(handle.run_id)
    assert tags(second_process) == []  # every step came back from the journal
    assert final is not None and final.state == "done"
