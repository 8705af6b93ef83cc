"""Function tasks: validation, retries, events, hooks, and mixing with agents."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from ageflow.core import (
    NodeMaxRetriesError,
    RetryConfig,
    RunnerRegistry,
    TaskMetrics,
    TaskTimeoutError,
    WorkflowHooks,
    define_agent,
    define_function,
    define_workflow,
    task,
)
from ageflow.executor import FunctionValidationError, WorkflowExecutor
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Num(BaseModel):
    value: int


class Doubled(BaseModel):
    doubled: int


@define_function(input=Num, output=Doubled)
def double(n: Num) -> Doubled:
    return Doubled(doubled=n.value * 2)


def flaky(fail_times: int, error: BaseException | None = None) -> tuple[Any, dict[str, int]]:
    calls = {"n": 0}

    async def execute(n: Num) -> Doubled:
        calls["n"] += 1
        if calls["n"] <= fail_times:
            raise error or RuntimeError(f"flake {calls['n']}")
        return Doubled(doubled=n.value * 2)

    return define_function(execute, input=Num, output=Doubled, name="flaky"), calls


async def stream_all(
    workflow: Any, registry: RunnerRegistry | None = None
) -> tuple[list[Any], Any]:
    events: list[Any] = []
    error = None
    try:
        async with WorkflowExecutor(workflow, registry=registry or RunnerRegistry()).stream() as s:
            async for event in s:
                events.append(event)
    except Exception as exc:
        error = exc
    return events, error


async def test_output_lands_in_outputs() -> None:
    workflow = define_workflow(name="f", tasks={"d": task(double, input={"value": 5})})
    result = await WorkflowExecutor(workflow).run()
    assert result.outputs["d"] == Doubled(doubled=10)


async def test_bad_static_input_fails_with_input_validation() -> None:
    workflow = define_workflow(name="f", tasks={"d": task(double, input={"value": "nope"})})
    with pytest.raises(FunctionValidationError, match="input validation failed"):
        await WorkflowExecutor(workflow).run()


async def test_bad_output_fails_with_output_validation_and_is_not_retried() -> None:
    calls = {"n": 0}

    def wrong(_n: Num) -> dict[str, str]:
        calls["n"] += 1
        return {"doubled": "many"}

    fn = define_function(wrong, input=Num, output=Doubled)
    workflow = define_workflow(
        name="f",
        tasks={"d": task(fn, input={"value": 1}, retry=RetryConfig(max=3, on=["transient"]))},
    )
    with pytest.raises(FunctionValidationError, match="output validation failed"):
        await WorkflowExecutor(workflow).run()
    assert calls["n"] == 1


async def test_stream_events_and_zero_cost_metrics() -> None:
    workflow = define_workflow(name="f", tasks={"d": task(double, input={"value": 2})})
    events, error = await stream_all(workflow)
    assert error is None
    kinds = [e.type for e in events]
    assert kinds == ["workflow:start", "task:start", "task:complete", "workflow:complete"]
    metrics = events[2].metrics
    assert (metrics.tokens_in, metrics.tokens_out, metrics.estimated_cost) == (0, 0, 0)
    assert metrics.prompt_sent is None


async def test_execute_raising_emits_terminal_task_error_with_original_text() -> None:
    fn, _ = flaky(5, RuntimeError("kaboom"))
    workflow = define_workflow(name="f", tasks={"d": task(fn, input={"value": 1})})
    events, error = await stream_all(workflow)
    assert isinstance(error, NodeMaxRetriesError)
    task_error = [e for e in events if e.type == "task:error"][0]
    assert "kaboom" in task_error.error.message and task_error.terminal


async def test_agent_to_function_to_agent() -> None:
    class Answer(BaseModel):
        value: int

    runner = ScriptedRunner(
        lambda args: '{"value": 21}' if args.task_name == "first" else ('{"value": 0}')
    )
    asker = define_agent(runner="fake", input=dict, output=Answer, prompt=lambda x: f"in={x}")
    workflow = define_workflow(
        name="mix",
        tasks={
            "first": task(asker),
            "d": task(
                double, depends_on=["first"], input=lambda ctx: {"value": ctx["first"].output.value}
            ),
            "last": task(
                asker, depends_on=["d"], input=lambda ctx: {"got": ctx["d"].output.doubled}
            ),
        },
    )
    result = await WorkflowExecutor(workflow, registry=RunnerRegistry({"fake": runner})).run()
    assert result.outputs["d"] == Doubled(doubled=42)
    assert "'got': 42" in runner.calls_for("last")[0].prompt
    assert set(result.outputs) == {"first", "d", "last"}


async def test_skip_if_true_never_calls_execute() -> None:
    fn, calls = flaky(0)
    workflow = define_workflow(
        name="f", tasks={"d": task(fn, input={"value": 1}, skip_if=lambda _c: True)}
    )
    result = await WorkflowExecutor(workflow).run()
    assert result.outputs["d"] is None and calls["n"] == 0


async def test_retry_transient_succeeds_on_third_call_with_retry_events() -> None:
    fn, calls = flaky(2)
    workflow = define_workflow(
        name="f",
        tasks={"d": task(fn, input={"value": 4}, retry=RetryConfig(max=3, on=["transient"]))},
    )
    events, error = await stream_all(workflow)
    assert error is None and calls["n"] == 3
    assert [e.attempt for e in events if e.type == "task:retry"] == [1, 2]
    assert events[-1].result.outputs["d"] == Doubled(doubled=8)


async def test_retry_exhausted_reports_attempts_to_hook_and_event() -> None:
    fn, _ = flaky(9)
    seen: list[tuple[str, int]] = []
    workflow = define_workflow(
        name="f",
        tasks={"d": task(fn, input={"value": 4}, retry=RetryConfig(max=3, on=["transient"]))},
        hooks=WorkflowHooks(on_task_error=lambda name, _e, attempt: seen.append((name, attempt))),
    )
    events, error = await stream_all(workflow)
    assert isinstance(error, NodeMaxRetriesError) and len(error.attempts) == 3
    assert seen == [("d", 3)]
    assert [e.attempt for e in events if e.type == "task:error"] == [3]


async def test_hooks_see_empty_runner_and_zero_token_metrics() -> None:
    seen: list[Any] = []

    def on_complete(name: str, output: Any, metrics: TaskMetrics) -> None:
        seen.append((name, output, metrics.tokens_in))

    workflow = define_workflow(
        name="f",
        tasks={"step": task(double, input={"value": 3})},
        hooks=WorkflowHooks(
            on_task_start=lambda name, runner: seen.append((name, runner)),
            on_task_complete=on_complete,
        ),
    )
    await WorkflowExecutor(workflow).run()
    assert seen == [("step", ""), ("step", Doubled(doubled=6), 0)]


async def test_on_task_skip_fires_for_skipped_function() -> None:
    skipped: list[tuple[str, str]] = []
    workflow = define_workflow(
        name="f",
        tasks={"step": task(double, input={"value": 3}, skip_if=lambda _c: True)},
        hooks=WorkflowHooks(on_task_skip=lambda name, reason: skipped.append((name, reason))),
    )
    await WorkflowExecutor(workflow).run()
    assert skipped == [("step", "skipIf")]


@pytest.mark.parametrize(
    ("on", "error", "expected_calls", "succeeds"),
    [
        ([], RuntimeError("x"), 1, False),
        (["timeout"], RuntimeError("generic"), 1, False),
        (["timeout"], TaskTimeoutError("d", 100), 3, True),
    ],
)
async def test_retry_on_lists(
    on: list[Any], error: BaseException, expected_calls: int, succeeds: bool
) -> None:
    fn, calls = flaky(2, error)
    workflow = define_workflow(
        name="f", tasks={"d": task(fn, input={"value": 1}, retry=RetryConfig(max=3, on=on))}
    )
    if succeeds:
        await WorkflowExecutor(workflow).run()
    else:
        with pytest.raises(NodeMaxRetriesError) as caught:
            await WorkflowExecutor(workflow).run()
        assert len(caught.value.attempts) == 1
    assert calls["n"] == expected_calls


async def test_max_zero_never_executes() -> None:
    from ageflow.core import FunctionTask

    fn, calls = flaky(0)
    workflow = define_workflow(
        name="f", tasks={"d": FunctionTask(fn=fn, input={"value": 1}, retry=RetryConfig(max=0))}
    )
    with pytest.raises(NodeMaxRetriesError) as caught:
        await WorkflowExecutor(workflow).run()
    assert caught.value.attempts == [] and calls["n"] == 0


async def test_function_task_checkpoint_asks_before_running() -> None:
    from ageflow.core import Checkpoint
    from ageflow.executor import HitlRejectedError

    fn, calls = flaky(0)
    workflow = define_workflow(
        name="f",
        tasks={"d": task(fn, input={"value": 1}, hitl=Checkpoint("run the function?"))},
    )
    asked: list[str] = []

    def approve(event: Any) -> bool:
        asked.append(event.message)
        return True

    result = await WorkflowExecutor(workflow).run(on_checkpoint=approve)
    assert asked == ["run the function?"]
    assert result.outputs["d"] == Doubled(doubled=2)
    with pytest.raises(HitlRejectedError):
        await WorkflowExecutor(workflow).run(on_checkpoint=lambda _e: False)
    assert calls["n"] == 1  # the rejected run never executed it
