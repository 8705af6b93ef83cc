"""WorkflowExecutor.run and .stream: events, hooks, metrics, skip_if, checkpoints, budget."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from ageflow.core import (
    BudgetConfig,
    BudgetExceededError,
    Checkpoint,
    McpServerConfig,
    NodeMaxRetriesError,
    RetryConfig,
    RunnerRegistry,
    RunnerSpawnArgs,
    RunnerSpawnResult,
    TaskMetrics,
    WorkflowHooks,
    define_agent,
    define_workflow,
    session_token,
    share_session_with,
    task,
)
from ageflow.executor import (
    BudgetTracker,
    HitlNotInteractiveError,
    HitlRejectedError,
    RunnerNotRegisteredError,
    WorkflowExecutor,
)
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Text(BaseModel):
    text: str


class Answer(BaseModel):
    answer: str


def agent(**overrides: Any) -> Any:
    options: dict[str, Any] = {
        "runner": "fake",
        "input": Text,
        "output": Answer,
        "prompt": lambda t: f"say: {t.text if t is not None else ''}",
        "retry": RetryConfig(max=1),
    }
    options.update(overrides)
    return define_agent(**options)


def chain(hooks: WorkflowHooks | None = None, **wf: Any) -> Any:
    return define_workflow(
        name="chain",
        tasks={
            "a": task(agent()),
            "b": task(
                agent(),
                depends_on=["a"],
                input=lambda ctx: Text(text=ctx["a"].output.answer),
            ),
        },
        hooks=hooks,
        **wf,
    )


async def drain(executor: WorkflowExecutor, *args: Any, **kwargs: Any) -> tuple[list[Any], Any]:
    events: list[Any] = []
    error: BaseException | None = None
    stream = executor.stream(*args, **kwargs)
    try:
        async with stream:
            async for event in stream:
                events.append(event)
    except Exception as exc:
        error = exc
    return events, error


def types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


async def test_b_prompt_contains_a_output_and_both_outputs_returned(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    runner.respond = lambda args: json.dumps({"answer": f"from-{args.task_name}"})
    result = await WorkflowExecutor(chain(), registry=registry).run(Text(text="hi"))
    assert "from-a" in runner.calls_for("b")[0].prompt
    assert result.outputs["a"] == Answer(answer="from-a")
    assert result.outputs["b"] == Answer(answer="from-b")


async def test_stream_two_task_chain_events(registry: RunnerRegistry) -> None:
    events, error = await drain(WorkflowExecutor(chain(), registry=registry), Text(text="x"))
    assert error is None
    assert events[0].type == "workflow:start"
    assert events[-1].type == "workflow:complete"
    assert types(events).count("task:start") == 2
    assert types(events).count("task:complete") == 2
    assert len({e.run_id for e in events}) == 1
    assert all(e.workflow_name == "chain" for e in events)


async def test_run_result_equals_drained_stream_result(registry: RunnerRegistry) -> None:
    run_result = await WorkflowExecutor(chain(), registry=registry).run(Text(text="x"))
    stream = WorkflowExecutor(chain(), registry=registry).stream(Text(text="x"))
    async with stream as events:
        async for _ in events:
            pass
    assert stream.result.outputs == run_result.outputs
    assert stream.result.metrics.task_count == run_result.metrics.task_count == 2


async def test_failing_runner_emits_terminal_task_error_then_workflow_error(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    def fail(_args: RunnerSpawnArgs) -> str:
        raise RuntimeError("subprocess exited with 1")

    runner.respond = fail
    events, error = await drain(WorkflowExecutor(chain(), registry=registry))
    assert isinstance(error, NodeMaxRetriesError)
    errors = [e for e in events if e.type == "task:error"]
    assert errors[0].terminal is True
    assert errors[0].task_name == "a"
    assert events[-1].type == "workflow:error"
    assert events[-1].error.name == "NodeMaxRetriesError"


async def test_retry_event_and_final_attempt_count(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    runner.respond = lambda _a: (_ for _ in ()).throw(RuntimeError("subprocess crashed"))
    workflow = define_workflow(name="w", tasks={"a": task(agent(retry=RetryConfig(max=3)))})
    events, error = await drain(WorkflowExecutor(workflow, registry=registry, sleep=sleep))
    assert isinstance(error, NodeMaxRetriesError)
    retries = [e for e in events if e.type == "task:retry"]
    assert [r.attempt for r in retries] == [1, 2]
    assert "subprocess" in retries[0].reason
    assert [e for e in events if e.type == "task:error"][0].attempt == 3
    assert slept == [1.0, 2.0]  # exponential backoff after attempts 0 and 1


async def test_one_retry_then_success(registry: RunnerRegistry, runner: ScriptedRunner) -> None:
    calls = {"n": 0}

    def flaky(_args: RunnerSpawnArgs) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("subprocess failed")
        return '{"answer": "fine"}'

    runner.respond = flaky

    async def sleep(_s: float) -> None:
        return None

    workflow = define_workflow(name="w", tasks={"a": task(agent(retry=RetryConfig(max=3)))})
    events, error = await drain(WorkflowExecutor(workflow, registry=registry, sleep=sleep))
    assert error is None
    assert "task:retry" in types(events)
    complete = [e for e in events if e.type == "task:complete"][0]
    assert complete.metrics.retries == 1


async def test_hooks_receive_runner_metrics_and_outputs(registry: RunnerRegistry) -> None:
    seen: dict[str, Any] = {}

    def on_task_start(name: str, runner_name: str) -> None:
        seen.setdefault("start", []).append((name, runner_name))

    async def on_task_complete(name: str, output: Any, metrics: TaskMetrics) -> None:
        seen.setdefault("complete", []).append((name, output, metrics))

    def on_workflow_complete(outputs: dict[str, Any], metrics: Any) -> None:
        seen["workflow"] = (outputs, metrics)

    hooks = WorkflowHooks(
        on_task_start=on_task_start,
        on_task_complete=on_task_complete,
        on_workflow_complete=on_workflow_complete,
    )
    workflow = define_workflow(name="one", tasks={"taskA": task(agent())}, hooks=hooks)
    await WorkflowExecutor(workflow, registry=registry).run()
    assert seen["start"] == [("taskA", "fake")]
    name, output, metrics = seen["complete"][0]
    assert name == "taskA" and output == Answer(answer="ok")
    assert (metrics.tokens_in, metrics.tokens_out) == (10, 20)
    assert metrics.latency_ms >= 0
    outputs, totals = seen["workflow"]
    assert outputs == {"taskA": Answer(answer="ok")}
    assert (totals.task_count, totals.total_tokens_in, totals.total_tokens_out) == (1, 10, 20)


async def test_on_workflow_error_sees_the_failure_and_complete_does_not_fire(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    seen: list[tuple[str, Any]] = []

    def respond(args: RunnerSpawnArgs) -> str:
        return "not json" if args.task_name == "b" else json.dumps({"answer": "ok"})

    runner.respond = respond
    hooks = WorkflowHooks(
        on_task_error=lambda name, exc, attempt: seen.append(("task", name)),
        on_workflow_error=lambda exc: seen.append(("workflow", exc)),
        on_workflow_complete=lambda outputs, metrics: seen.append(("complete", outputs)),
    )
    events, error = await drain(WorkflowExecutor(chain(hooks), registry=registry), Text(text="x"))
    assert isinstance(error, NodeMaxRetriesError)
    assert seen == [("task", "b"), ("workflow", error)]
    assert events[-1].type == "workflow:error"


async def test_a_raising_on_workflow_error_does_not_hide_the_run_error(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    runner.respond = lambda args: "not json"

    def broken(exc: BaseException) -> None:
        raise RuntimeError("hook bug")

    workflow = chain(WorkflowHooks(on_workflow_error=broken))
    with pytest.warns(RuntimeWarning, match="on_workflow_error raised"):
        events, error = await drain(WorkflowExecutor(workflow, registry=registry), Text(text="x"))
    assert isinstance(error, NodeMaxRetriesError)
    assert events[-1].type == "workflow:error"


async def test_two_agent_tasks_sum_tokens(registry: RunnerRegistry) -> None:
    result = await WorkflowExecutor(chain(), registry=registry).run(Text(text="x"))
    metrics = result.metrics
    assert (metrics.task_count, metrics.total_tokens_in, metrics.total_tokens_out) == (2, 20, 40)


async def test_unregistered_runner() -> None:
    workflow = define_workflow(name="w", tasks={"a": task(agent(runner="nobody"))})
    with pytest.raises(RunnerNotRegisteredError, match='register_runner\\("nobody"'):
        await WorkflowExecutor(workflow, registry=RunnerRegistry()).run()


async def test_preloaded_budget_over_halt_limit_stops_before_any_task(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    tracker = BudgetTracker(initial_cost=5.0)
    workflow = chain(budget=BudgetConfig(max_cost=1.0, on_exceed="halt"))
    events, error = await drain(
        WorkflowExecutor(workflow, registry=registry, budget_tracker=tracker), Text(text="x")
    )
    assert isinstance(error, BudgetExceededError)
    assert runner.calls == []
    assert "task:error" not in types(events)  # raised outside any task
    assert events[-1].type == "workflow:error"


async def test_halt_budget_crossed_by_task_fires_on_exceeded_once_and_fails(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    infos: list[Any] = []
    runner.respond = lambda _a: RunnerSpawnResult(
        stdout='{"answer": "x"}', tokens_in=1_000_000, tokens_out=1_000_000
    )
    workflow = chain(budget=BudgetConfig(max_cost=1.0, on_exceed="halt", on_exceeded=infos.append))
    events, error = await drain(WorkflowExecutor(workflow, registry=registry), Text(text="x"))
    assert isinstance(error, BudgetExceededError)
    assert len(infos) == 1
    assert infos[0].current_cost_usd > 1.0
    assert infos[0].max_cost_usd == 1.0
    assert (infos[0].task_name, infos[0].workflow_name) == ("a", "chain")
    assert [e.task_name for e in events if e.type == "task:error"] == ["a"]
    assert not [e for e in events if e.type == "task:complete"]  # crossing output discarded
    assert len(runner.calls) == 1  # b never ran


async def test_warn_budget_emits_warning_per_task_and_completes(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    runner.respond = lambda _a: RunnerSpawnResult(
        stdout='{"answer": "x"}', tokens_in=1_000_000, tokens_out=0
    )
    workflow = chain(budget=BudgetConfig(max_cost=1.0, on_exceed="warn"))
    events, error = await drain(WorkflowExecutor(workflow, registry=registry), Text(text="x"))
    assert error is None
    warnings = [e for e in events if e.type == "budget:warning"]
    assert len(warnings) == 2
    assert warnings[0].limit_usd == 1.0 and warnings[0].spent_usd == pytest.approx(3.0)
    assert warnings[1].spent_usd == pytest.approx(6.0)


async def test_shared_session_token_passes_handle_to_second_task(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    runner.respond = lambda args: RunnerSpawnResult(
        stdout='{"answer": "x"}', session_handle=f"handle-{args.task_name}"
    )
    token = session_token("conv", "fake")
    workflow = define_workflow(
        name="s",
        tasks={
            "first": task(agent(), session=token),
            "second": task(agent(), depends_on=["first"], session=token),
            "third": task(agent(), depends_on=["second"], session=share_session_with("first")),
        },
    )
    await WorkflowExecutor(workflow, registry=registry).run()
    assert runner.calls_for("first")[0].session_handle is None
    assert runner.calls_for("second")[0].session_handle == "handle-first"
    assert runner.calls_for("third")[0].session_handle == "handle-second"


async def test_workflow_mcp_servers_reach_spawn_through_task_override(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    workflow = define_workflow(
        name="m",
        tasks={"a": task(agent(), mcp_override=["fs"])},
        mcp_servers=[
            McpServerConfig(name="fs", command="fs-server"),
            McpServerConfig(name="gh", command="gh-server"),
        ],
    )
    await WorkflowExecutor(workflow, registry=registry).run()
    servers = runner.calls[0].mcp_servers
    assert servers is not None and [s.name for s in servers] == ["fs"]


async def test_skip_if_true_skips_and_downstream_runs(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    skipped: list[tuple[str, str]] = []
    started: list[str] = []
    hooks = WorkflowHooks(
        on_task_skip=lambda name, reason: skipped.append((name, reason)),
        on_task_start=lambda name, _r: started.append(name),
    )
    workflow = define_workflow(
        name="skip",
        tasks={
            "a": task(agent()),
            "maybe": task(agent(), depends_on=["a"], skip_if=lambda ctx: "a" in ctx),
            "after": task(agent(), depends_on=["maybe"]),
        },
        hooks=hooks,
    )
    events, error = await drain(WorkflowExecutor(workflow, registry=registry))
    assert error is None
    assert skipped == [("maybe", "skipIf")]
    assert "maybe" not in started
    skip = [e for e in events if e.type == "task:skip"][0]
    assert (skip.task_name, skip.reason, skip.workflow_name) == ("maybe", "skipIf", "skip")
    assert skip.run_id and skip.timestamp > 0
    assert not [e for e in events if e.type == "task:start" and e.task_name == "maybe"]
    result = events[-1].result
    assert result.outputs["maybe"] is None
    assert result.metrics.task_count == 2
    assert runner.calls_for("after")


async def test_skip_if_false_runs_the_task(registry: RunnerRegistry) -> None:
    workflow = define_workflow(name="s", tasks={"a": task(agent(), skip_if=lambda _ctx: False)})
    events, _ = await drain(WorkflowExecutor(workflow, registry=registry))
    assert "task:skip" not in types(events)
    assert "task:complete" in types(events)


async def test_skip_if_raising_is_a_terminal_task_error_with_attempt_zero(
    registry: RunnerRegistry,
) -> None:
    errors: list[tuple[str, Any, int]] = []

    def boom(_ctx: Any) -> bool:
        raise ValueError("predicate broke")

    workflow = define_workflow(
        name="s",
        tasks={"a": task(agent(), skip_if=boom)},
        hooks=WorkflowHooks(on_task_error=lambda n, e, a: errors.append((n, e, a))),
    )
    events, error = await drain(WorkflowExecutor(workflow, registry=registry))
    assert isinstance(error, ValueError)
    task_error = [e for e in events if e.type == "task:error"][0]
    assert (task_error.attempt, task_error.terminal) == (0, True)
    assert task_error.error.message == "predicate broke"
    assert events[-1].type == "workflow:error"
    assert errors[0][0] == "a" and errors[0][2] == 0


async def test_unclassified_failure_reports_attempt_one_to_on_task_error(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    attempts: list[int] = []
    runner.respond = lambda _a: (_ for _ in ()).throw(KeyError("weird"))
    workflow = define_workflow(
        name="w",
        tasks={"a": task(agent())},
        hooks=WorkflowHooks(on_task_error=lambda _n, _e, attempt: attempts.append(attempt)),
    )
    with pytest.raises(KeyError):
        await WorkflowExecutor(workflow, registry=registry).run()
    assert attempts == [1]


async def test_checkpoint_approved_by_stream_handler(registry: RunnerRegistry) -> None:
    hook_calls: list[str] = []
    workflow = define_workflow(
        name="c",
        tasks={"a": task(agent(), hitl=Checkpoint("Go?"))},
        hooks=WorkflowHooks(on_checkpoint=lambda name, _m: hook_calls.append(name)),
    )
    handled: list[Any] = []

    def approve(event: Any) -> bool:
        handled.append(event)
        return True

    events, error = await drain(
        WorkflowExecutor(workflow, registry=registry), on_checkpoint=approve
    )
    assert error is None
    assert [e.message for e in events if e.type == "checkpoint"] == ["Go?"]
    assert len(handled) == 1 and hook_calls == []  # the stream handler alone decides
    assert events[-1].type == "workflow:complete"


async def test_checkpoint_rejected_by_stream_handler(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    workflow = define_workflow(name="c", tasks={"a": task(agent(), hitl=Checkpoint())})
    events, error = await drain(
        WorkflowExecutor(workflow, registry=registry), on_checkpoint=lambda _e: False
    )
    assert isinstance(error, HitlRejectedError)
    assert events[-1].type == "workflow:error"
    checkpoint = [e for e in events if e.type == "checkpoint"][0]
    assert checkpoint.message == 'Task "a" requires approval before proceeding.'
    assert runner.calls == []


async def test_checkpoint_without_handler_uses_hook_once(
    registry: RunnerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, str]] = []

    async def approve(name: str, message: str) -> bool:
        calls.append((name, message))
        return True

    workflow = define_workflow(
        name="c",
        tasks={"a": task(agent(), hitl=Checkpoint("ok?"))},
        hooks=WorkflowHooks(on_checkpoint=approve),
    )
    result = await WorkflowExecutor(workflow, registry=registry).run()
    assert calls == [("a", "ok?")]
    assert "a" in result.outputs


async def test_checkpoint_headless_without_approval_fails(
    registry: RunnerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    workflow = define_workflow(name="c", tasks={"a": task(agent(), hitl=Checkpoint())})
    with pytest.raises(HitlNotInteractiveError):
        await WorkflowExecutor(workflow, registry=registry).run()


async def test_prompt_sent_has_user_prompt_schema_instruction_and_prefix(
    registry: RunnerRegistry,
) -> None:
    seen: list[TaskMetrics] = []
    workflow = define_workflow(
        name="p",
        tasks={"a": task(agent(), input=Text(text="hello"))},
        hooks=WorkflowHooks(
            get_system_prompt_prefix=lambda name: f"PREFIX for {name}",
            on_task_complete=lambda _n, _o, m: seen.append(m),
        ),
    )
    await WorkflowExecutor(workflow, registry=registry).run()
    prompt_sent = seen[0].prompt_sent or ""
    assert "say: hello" in prompt_sent
    assert "You MUST respond with valid JSON" in prompt_sent
    assert prompt_sent.index("PREFIX for a") < prompt_sent.index("You MUST respond")


async def test_nothing_is_emitted_after_the_terminal_event(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    release = anyio.Event()

    async def respond(args: RunnerSpawnArgs) -> str:
        if args.task_name == "bad":
            raise RuntimeError("kaput")
        await release.wait()
        return '{"answer": "late"}'

    runner.respond = respond
    workflow = define_workflow(name="w", tasks={"slow": task(agent()), "bad": task(agent())})
    events, error = await drain(WorkflowExecutor(workflow, registry=registry))
    assert isinstance(error, RuntimeError) and str(error) == "kaput"  # not an ExceptionGroup
    assert events[-1].type == "workflow:error"
    assert runner.cancelled == ["slow"]
