"""Loops: iterations, until, max, feedback, loop input, sessions and their events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from ageflow.core import (
    LOOP_FEEDBACK_KEY,
    LoopDef,
    LoopMaxIterationsError,
    RunnerRegistry,
    RunnerSpawnArgs,
    RunnerSpawnResult,
    WorkflowDef,
    WorkflowHooks,
    define_agent,
    define_function,
    define_workflow,
    loop,
    session_token,
    task,
)
from ageflow.executor import WorkflowExecutor
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Verdict(BaseModel):
    ok: bool
    n: int = 0


def judge(**kw: Any) -> Any:
    return define_agent(runner="fake", input=dict, output=Verdict, prompt=lambda _x: "judge", **kw)


def counting_runner(ok_on_call: int) -> ScriptedRunner:
    count = {"n": 0}

    def respond(_args: RunnerSpawnArgs) -> str:
        count["n"] += 1
        return json.dumps({"ok": count["n"] >= ok_on_call, "n": count["n"]})

    return ScriptedRunner(respond)


def one_loop(max_iterations: int = 5, **kw: Any) -> WorkflowDef:
    return define_workflow(
        name="looping",
        tasks={
            "fix": loop(
                tasks={"eval": task(judge())},
                max=max_iterations,
                until=lambda ctx: ctx["eval"].output.ok,
                **kw,
            )
        },
    )


async def run(workflow: WorkflowDef, runner: ScriptedRunner) -> Any:
    events: list[Any] = []
    async with WorkflowExecutor(workflow, registry=RunnerRegistry({"fake": runner})).stream() as s:
        async for event in s:
            events.append(event)
    return s.result, events


async def test_until_true_immediately_runs_once() -> None:
    runner = counting_runner(1)
    result, _ = await run(one_loop(), runner)
    assert len(runner.calls) == 1
    assert result.outputs["fix"]["eval"].output == Verdict(ok=True, n=1)


async def test_until_true_on_third_result_runs_three_times() -> None:
    runner = counting_runner(3)
    result, events = await run(one_loop(), runner)
    assert len(runner.calls) == 3
    iterations = [e for e in events if e.type == "loop:iteration"]
    assert [(e.task_name, e.iteration, e.max) for e in iterations] == [
        ("fix", 0, 5),
        ("fix", 1, 5),
        ("fix", 2, 5),
    ]
    # The loop's output is the last iteration's context.
    assert result.outputs["fix"]["eval"].output.n == 3


async def test_never_true_raises_loop_max_iterations() -> None:
    runner = counting_runner(99)
    with pytest.raises(LoopMaxIterationsError) as caught:
        await run(one_loop(max_iterations=3), runner)
    assert (caught.value.task_name, caught.value.max_iterations) == ("fix", 3)
    assert len(runner.calls) == 3


async def test_raw_loop_with_max_zero_runs_nothing() -> None:
    runner = counting_runner(1)
    workflow = WorkflowDef(
        name="raw",
        tasks={"fix": LoopDef(tasks={"eval": task(judge())}, max=0, until=lambda _c: True)},
    )
    with pytest.raises(LoopMaxIterationsError):
        await run(workflow, runner)
    assert runner.calls == []


async def test_inner_tasks_emit_events_with_step_keys() -> None:
    runner = counting_runner(2)
    _, events = await run(one_loop(), runner)
    inner = [(e.type, e.step_key) for e in events if getattr(e, "task_name", None) == "eval"]
    assert inner == [
        ("task:start", "fix[0]/eval"),
        ("task:complete", "fix[0]/eval"),
        ("task:start", "fix[1]/eval"),
        ("task:complete", "fix[1]/eval"),
    ]
    loop_events = [e.type for e in events if getattr(e, "task_name", None) == "fix"]
    assert loop_events[0] == "task:start" and loop_events[-1] == "task:complete"


async def test_feedback_nests_and_reaches_loop_input() -> None:
    seen_feedback: list[Any] = []

    def loop_input(ctx: Any) -> dict[str, Any]:
        seen_feedback.append(ctx.feedback)
        return {"round": len(seen_feedback)}

    runner = counting_runner(3)
    workflow = define_workflow(
        name="fb",
        tasks={
            "seed": task(define_function(lambda x: 7, input=Any, output=int)),
            "fix": loop(
                tasks={"eval": task(judge(), input=lambda ctx: {"round": ctx["round"].output})},
                max=5,
                until=lambda ctx: ctx["eval"].output.ok,
                input=loop_input,
                depends_on=["seed"],
            ),
        },
    )
    result, _ = await run(workflow, runner)
    assert seen_feedback[0] is None
    # Iteration 2's feedback is iteration 1's context, which holds iteration 0's under its key.
    second = seen_feedback[2]
    assert second["eval"].output.n == 2
    assert second[LOOP_FEEDBACK_KEY].output["eval"].output.n == 1
    final = result.outputs["fix"]
    assert final["round"].output == 3 and final["round"].source == "loop"
    assert final["seed"].output == 7  # outer entries are visible inside the loop


async def test_fresh_context_starts_each_iteration_without_a_session_handle() -> None:
    token = session_token("s", "fake")
    runner = ScriptedRunner(
        lambda args: RunnerSpawnResult(
            stdout='{"ok": false}', session_handle=f"h{len(runner.calls)}"
        )
    )
    workflow = define_workflow(
        name="fresh",
        tasks={
            "l": loop(
                tasks={"a": task(judge(), session=token)},
                max=2,
                until=lambda _c: False,
                context="fresh",
            )
        },
    )
    with pytest.raises(LoopMaxIterationsError):
        await run(workflow, runner)
    assert [c.session_handle for c in runner.calls] == [None, None]


async def test_persistent_context_carries_the_session_handle() -> None:
    token = session_token("s", "fake")
    runner = ScriptedRunner(
        lambda args: RunnerSpawnResult(
            stdout='{"ok": false}', session_handle=f"h{len(runner.calls)}"
        )
    )
    workflow = define_workflow(
        name="persist",
        tasks={
            "l": loop(
                tasks={"a": task(judge(), session=token)},
                max=2,
                until=lambda _c: False,
                context="persistent",
            )
        },
    )
    with pytest.raises(LoopMaxIterationsError):
        await run(workflow, runner)
    assert [c.session_handle for c in runner.calls] == [None, "h1"]


async def test_downstream_reads_loop_output_and_hooks_fire_for_inner_tasks() -> None:
    started: list[str] = []
    runner = counting_runner(2)
    workflow = define_workflow(
        name="down",
        tasks={
            "fix": loop(tasks={"eval": task(judge())}, max=3, until=lambda c: c["eval"].output.ok),
            "report": task(
                define_function(lambda n: n * 10, input=int, output=int),
                depends_on=["fix"],
                input=lambda ctx: ctx["fix"].output["eval"].output.n,
            ),
        },
        hooks=WorkflowHooks(on_task_start=lambda name, _r: started.append(name)),
    )
    result, _ = await run(workflow, runner)
    assert result.outputs["report"] == 20
    assert started == ["eval", "eval", "report"]
    # Inner tasks count in the run's totals (the original left them out).
    assert result.metrics.task_count == 3


async def test_nested_loops_have_chained_step_keys() -> None:
    runner = counting_runner(1)
    workflow = define_workflow(
        name="nested",
        tasks={
            "outer": loop(
                tasks={"inner": loop(tasks={"eval": task(judge())}, max=2, until=lambda _c: True)},
                max=2,
                until=lambda _c: True,
            )
        },
    )
    _, events = await run(workflow, runner)
    keys = [e.step_key for e in events if e.type == "task:complete" and e.task_name == "eval"]
    assert keys == ["outer[0]/inner[0]/eval"]


async def test_inner_failure_fails_the_run_and_marks_the_loop() -> None:
    def respond(_args: RunnerSpawnArgs) -> str:
        raise RuntimeError("broken judge")

    runner = ScriptedRunner(respond)
    with pytest.raises(RuntimeError, match="broken judge"):
        await run(one_loop(), runner)


async def test_inner_tasks_see_the_previous_iteration_as_feedback() -> None:
    seen: list[Any] = []

    def inner_input(ctx: Any) -> dict[str, Any]:
        seen.append(None if ctx.feedback is None else ctx.feedback["eval"].output.n)
        return {}

    runner = counting_runner(3)
    workflow = define_workflow(
        name="fb-inner",
        tasks={
            "fix": loop(
                tasks={"eval": task(judge(), input=inner_input)},
                max=5,
                until=lambda ctx: ctx["eval"].output.ok,
            )
        },
    )
    await run(workflow, runner)
    assert seen == [None, 1, 2]
