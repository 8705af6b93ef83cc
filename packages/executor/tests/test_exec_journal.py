"""Durable-execution hooks: steps are committed before dependents start and restored later."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from ageflow.core import (
    RetryConfig,
    RunnerRegistry,
    RunnerSpawnArgs,
    RunnerSpawnResult,
    define_agent,
    define_function,
    define_workflow,
    loop,
    session_token,
    task,
)
from ageflow.executor import StepRecord, WorkflowExecutor
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Draft(BaseModel):
    text: str
    score: int


class Crash(Exception):
    """Stands in for the process dying at a given step."""


def build_workflow() -> Any:
    token = session_token("writer", "fake")
    writer = define_agent(
        runner="fake",
        input=dict,
        output=Draft,
        prompt=lambda x: f"write {x}",
        retry=RetryConfig(max=1),
    )
    return define_workflow(
        name="durable",
        tasks={
            "plan": task(writer, input={"step": "plan"}, session=token),
            "count": task(
                define_function(lambda d: len(d["text"]), input=dict, output=int),
                depends_on=["plan"],
                input=lambda ctx: ctx["plan"].output.model_dump(),
            ),
            "polish": loop(
                tasks={"draft": task(writer, input={"step": "draft"})},
                max=4,
                until=lambda ctx: ctx["draft"].output.score >= 3,
                depends_on=["count"],
            ),
            "final": task(
                writer,
                depends_on=["polish"],
                input=lambda ctx: {"n": ctx["count"].output},
                session=token,
            ),
        },
    )


def deterministic_runner(crash_at_call: int | None = None) -> ScriptedRunner:
    def respond(args: RunnerSpawnArgs) -> RunnerSpawnResult:
        number = len(runner.calls)
        if crash_at_call is not None and number == crash_at_call:
            raise Crash(f"died during call {number}")
        return RunnerSpawnResult(
            stdout=json.dumps({"text": f"{args.task_name}-{number}", "score": number}),
            session_handle=f"session-after-{args.task_name}",
            tokens_in=100,
            tokens_out=50,
        )

    runner = ScriptedRunner(respond)
    return runner


async def run_recording(
    runner: ScriptedRunner, journal: dict[str, StepRecord] | None = None
) -> tuple[Any, list[StepRecord], list[Any]]:
    committed: list[StepRecord] = []
    events: list[Any] = []

    async def on_step_complete(step: StepRecord) -> None:
        # A real store writes here; round-trip through JSON as a store would.
        committed.append(StepRecord.from_json(json.loads(json.dumps(step.to_json()))))

    executor = WorkflowExecutor(build_workflow(), registry=RunnerRegistry({"fake": runner}))
    stream = executor.stream({"topic": "x"}, journal=journal, on_step_complete=on_step_complete)
    async with stream:
        async for event in stream:
            events.append(event)
    return stream.result, committed, events


async def test_restored_steps_make_no_runner_calls_and_outputs_match() -> None:
    uninterrupted_runner = deterministic_runner()
    expected, full_journal, _ = await run_recording(uninterrupted_runner)
    # A draft's score is its call number, so the loop stops at its second iteration.
    assert [c.task_name for c in uninterrupted_runner.calls] == ["plan", "draft", "draft", "final"]
    total_calls = len(uninterrupted_runner.calls)
    assert [s.step_key for s in full_journal] == [
        "plan",
        "count",
        "polish[0]/draft",
        "polish[1]/draft",
        "final",
    ]

    # First process: dies during its 3rd runner call (the second loop iteration).
    crashing = deterministic_runner(crash_at_call=3)
    committed: list[StepRecord] = []

    async def keep(step: StepRecord) -> None:
        committed.append(step)

    executor = WorkflowExecutor(build_workflow(), registry=RunnerRegistry({"fake": crashing}))
    with pytest.raises(Crash):
        await executor.run({"topic": "x"}, on_step_complete=keep)
    assert [s.step_key for s in committed] == ["plan", "count", "polish[0]/draft"]

    # Second process: resumes from the journal. Only the unfinished steps call the runner.
    resumed_runner = deterministic_runner()
    resumed_runner.calls.extend([RunnerSpawnArgs(prompt="")] * 2)  # same call numbering
    journal = {s.step_key: s for s in committed}
    result, more, events = await run_recording(resumed_runner, journal=journal)
    fresh_calls = resumed_runner.calls[2:]
    assert len(fresh_calls) == total_calls - 2  # the two finished agent steps were not redone
    assert result.outputs == expected.outputs
    assert result.metrics.total_tokens_in == expected.metrics.total_tokens_in
    assert result.metrics.task_count == expected.metrics.task_count
    assert result.metrics.total_estimated_cost == pytest.approx(
        expected.metrics.total_estimated_cost
    )
    restored = [e.step_key for e in events if e.type == "task:restored"]
    assert restored == ["plan", "count", "polish[0]/draft"]
    assert all(s.step_key not in journal for s in more)
    # The session of the restored "plan" step continues in "final".
    final_call = [c for c in fresh_calls if c.task_name == "final"][0]
    assert final_call.session_handle == "session-after-plan"


async def test_dependents_start_only_after_the_step_is_committed() -> None:
    runner = deterministic_runner()
    commit_gate = anyio.Event()
    order: list[str] = []

    async def slow_commit(step: StepRecord) -> None:
        order.append(f"commit-start:{step.step_key}")
        if step.step_key == "plan":
            with anyio.fail_after(5):
                await commit_gate.wait()
        order.append(f"commit-end:{step.step_key}")

    async def open_gate() -> None:
        await anyio.sleep(0.01)
        order.append("gate-open")
        commit_gate.set()

    executor = WorkflowExecutor(build_workflow(), registry=RunnerRegistry({"fake": runner}))
    async with anyio.create_task_group() as group:
        group.start_soon(open_gate)
        await executor.run({"topic": "x"}, on_step_complete=slow_commit)
    assert order.index("commit-end:plan") > order.index("gate-open")
    assert order.index("commit-start:count") > order.index("commit-end:plan")


async def test_a_failing_commit_fails_the_task() -> None:
    runner = deterministic_runner()

    async def broken(_step: StepRecord) -> None:
        raise OSError("disk full")

    executor = WorkflowExecutor(build_workflow(), registry=RunnerRegistry({"fake": runner}))
    with pytest.raises(OSError, match="disk full"):
        await executor.run({"topic": "x"}, on_step_complete=broken)
    assert len(runner.calls) == 1


async def test_inline_steps_are_committed_in_batches_before_dependents_start() -> None:
    batches: list[list[str]] = []
    started_after: dict[str, int] = {}

    async def commit(steps: list[StepRecord]) -> None:
        batches.append([s.step_key for s in steps])

    def record(name: str) -> Any:
        def run(n: int) -> int:
            started_after[name] = sum(len(b) for b in batches)  # steps committed before me
            return n + 1

        return define_function(run, input=int, output=int, name=name)

    tasks: dict[str, Any] = {f"leaf{i}": task(record(f"leaf{i}"), input=i) for i in range(5)}
    tasks["join"] = task(
        record("join"), depends_on=[f"leaf{i}" for i in range(5)], input=lambda c: 0
    )
    workflow = define_workflow(name="batched", tasks=tasks)
    result = await WorkflowExecutor(workflow).run(on_steps_complete=commit)
    # The five independent steps share one commit; "join" ran only after it.
    assert batches == [[f"leaf{i}" for i in range(5)], ["join"]]
    assert started_after["join"] == 5
    assert result.outputs["join"] == 1


async def test_a_chain_of_inline_steps_commits_each_step_before_the_next() -> None:
    batches: list[list[str]] = []

    async def commit(steps: list[StepRecord]) -> None:
        batches.append([s.step_key for s in steps])

    fn = define_function(lambda n: n + 1, input=int, output=int)
    workflow = define_workflow(
        name="chain",
        tasks={
            "a": task(fn, input=0),
            "b": task(fn, depends_on=["a"], input=lambda c: c["a"].output),
            "c": task(fn, depends_on=["b"], input=lambda c: c["b"].output),
        },
    )
    await WorkflowExecutor(workflow).run(on_steps_complete=commit)
    assert batches == [["a"], ["b"], ["c"]]


class LastStepsLog:
    """Records journaled batches and the steps handed over as the run's last ones."""

    def __init__(self) -> None:
        self.committed: list[list[str]] = []
        self.last: list[list[str]] = []

    async def commit(self, steps: list[StepRecord]) -> None:
        self.committed.append([s.step_key for s in steps])

    def hold(self, steps: list[StepRecord]) -> None:
        self.last.append([s.step_key for s in steps])


def plus_one_pair(name: str, **second: Any) -> Any:
    """``a`` (0 + 1), then ``b`` (a's output + 1) with ``second``'s task options."""
    fn = define_function(lambda n: n + 1, input=int, output=int)
    options: dict[str, Any] = {"input": lambda c: c["a"].output, **second}
    return define_workflow(
        name=name, tasks={"a": task(fn, input=0), "b": task(fn, depends_on=["a"], **options)}
    )


async def test_the_step_that_ends_the_run_goes_to_on_last_steps() -> None:
    log = LastStepsLog()
    workflow = plus_one_pair("chain")
    result = await WorkflowExecutor(workflow).run(
        on_steps_complete=log.commit, on_last_steps=log.hold
    )
    assert log.committed == [["a"]]
    assert log.last == [["b"]]
    assert result.outputs == {"a": 1, "b": 2}


async def test_without_on_last_steps_every_step_is_committed() -> None:
    log = LastStepsLog()
    fn = define_function(lambda n: n + 1, input=int, output=int)
    workflow = define_workflow(name="one", tasks={"a": task(fn, input=0)})
    await WorkflowExecutor(workflow).run(on_steps_complete=log.commit)
    assert log.committed == [["a"]]


async def test_only_the_agent_step_finishing_last_ends_the_run(
    registry: RunnerRegistry,
) -> None:
    # Two independent agent steps: the first to finish may still have the other depending
    # on nothing but running; only the one that finishes last ends the run.
    log = LastStepsLog()
    runner = deterministic_runner()
    writer = define_agent(runner="fake", input=dict, output=Draft, prompt=lambda x: f"w {x}")
    workflow = define_workflow(
        name="pair",
        tasks={"left": task(writer, input={"s": 1}), "right": task(writer, input={"s": 2})},
    )
    executor = WorkflowExecutor(workflow, registry=RunnerRegistry({"fake": runner}))
    await executor.run(on_steps_complete=log.commit, on_last_steps=log.hold)
    assert len(log.committed) == 1 and len(log.last) == 1
    assert sorted(log.committed[0] + log.last[0]) == ["left", "right"]


async def test_a_final_inline_batch_ends_the_run_and_loop_steps_never_do() -> None:
    log = LastStepsLog()
    fn = define_function(lambda n: n + 1, input=int, output=int)
    fan_in = define_workflow(
        name="fan",
        tasks={f"leaf{i}": task(fn, input=i) for i in range(3)},
    )
    await WorkflowExecutor(fan_in).run(on_steps_complete=log.commit, on_last_steps=log.hold)
    assert log.committed == []
    assert log.last == [["leaf0", "leaf1", "leaf2"]]

    log = LastStepsLog()
    iterations: list[int] = []

    def second_time(_ctx: Any) -> bool:
        iterations.append(1)
        return len(iterations) == 2

    looped = define_workflow(
        name="looped",
        tasks={
            "again": loop(tasks={"step": task(fn, input=lambda c: 0)}, max=3, until=second_time)
        },
    )
    await WorkflowExecutor(looped).run(on_steps_complete=log.commit, on_last_steps=log.hold)
    # A loop's steps belong to an iteration: the next iteration or the loop's exit
    # depends on them, so they are committed as they finish.
    assert log.committed == [["again[0]/step"], ["again[1]/step"]]
    assert log.last == []


async def test_a_skipped_last_task_leaves_the_finished_step_committed() -> None:
    log = LastStepsLog()
    workflow = plus_one_pair("skip", skip_if=lambda c: True)
    await WorkflowExecutor(workflow).run(on_steps_complete=log.commit, on_last_steps=log.hold)
    assert log.committed == [["a"]]
    assert log.last == []
