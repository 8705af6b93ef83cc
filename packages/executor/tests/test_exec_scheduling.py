"""Dependency-driven scheduling, concurrency limits, sessions, cancellation and timeouts."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import BaseModel

from ageflow.core import (
    NodeMaxRetriesError,
    RetryConfig,
    RunnerRegistry,
    RunnerSpawnArgs,
    TaskTimeoutError,
    WorkflowHooks,
    define_agent,
    define_function,
    define_workflow,
    session_token,
    task,
)
from ageflow.executor import OutputTooLargeError, WorkflowAbortedError, WorkflowExecutor
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Answer(BaseModel):
    answer: str


def agent(**overrides: Any) -> Any:
    options: dict[str, Any] = {
        "runner": "fake",
        "input": dict,
        "output": Answer,
        "prompt": lambda _x: "go",
        "retry": RetryConfig(max=1),
    }
    options.update(overrides)
    return define_agent(**options)


async def test_task_starts_when_its_own_dependencies_finish_not_its_level(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    # slow and fast are roots; after_fast depends on fast only. Level-by-level batching
    # would make after_fast wait for slow; dependency scheduling runs it while slow waits.
    release_slow = anyio.Event()
    order: list[str] = []

    async def respond(args: RunnerSpawnArgs) -> str:
        order.append(f"start:{args.task_name}")
        if args.task_name == "slow":
            await release_slow.wait()
        if args.task_name == "after_fast":
            release_slow.set()
        order.append(f"end:{args.task_name}")
        return '{"answer": "x"}'

    runner.respond = respond
    workflow = define_workflow(
        name="eager",
        tasks={
            "slow": task(agent()),
            "fast": task(agent()),
            "after_fast": task(agent(), depends_on=["fast"]),
            "join": task(agent(), depends_on=["slow", "after_fast"]),
        },
    )
    with anyio.fail_after(5):
        result = await WorkflowExecutor(workflow, registry=registry).run()
    assert order.index("start:after_fast") < order.index("end:slow")
    assert order[-1] == "end:join"
    assert set(result.outputs) == {"slow", "fast", "after_fast", "join"}


async def test_concurrency_limit_caps_tasks_in_flight(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    async def respond(_args: RunnerSpawnArgs) -> str:
        await anyio.lowlevel.checkpoint()  # let the others start if they are allowed to
        await anyio.lowlevel.checkpoint()
        return '{"answer": "x"}'

    runner.respond = respond
    workflow = define_workflow(name="wide", tasks={f"t{i}": task(agent()) for i in range(8)})
    await WorkflowExecutor(workflow, registry=registry, max_concurrency=2).run()
    assert runner.max_running == 2
    unlimited = ScriptedRunner(respond)
    await WorkflowExecutor(workflow, registry=RunnerRegistry({"fake": unlimited})).run()
    assert unlimited.max_running == 8


async def test_concurrency_limit_of_one_does_not_deadlock_with_loops(
    registry: RunnerRegistry,
) -> None:
    from ageflow.core import loop

    workflow = define_workflow(
        name="loopy",
        tasks={
            "l": loop(tasks={"inner": task(agent())}, max=2, until=lambda ctx: True),
            "other": task(agent()),
        },
    )
    with anyio.fail_after(5):
        result = await WorkflowExecutor(workflow, registry=registry, max_concurrency=1).run()
    assert "l" in result.outputs


async def test_tasks_sharing_a_session_never_run_at_once(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    async def respond(_args: RunnerSpawnArgs) -> str:
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        return '{"answer": "x"}'

    runner.respond = respond
    token = session_token("conv", "fake")
    workflow = define_workflow(
        name="sessions",
        tasks={"a": task(agent(), session=token), "b": task(agent(), session=token)},
    )
    await WorkflowExecutor(workflow, registry=registry).run()
    assert runner.max_running == 1
    assert [c.task_name for c in runner.calls] == ["a", "b"]  # map order


async def test_stream_cancel_stops_in_flight_spawn_and_ends_aborted(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    started = anyio.Event()

    async def respond(_args: RunnerSpawnArgs) -> str:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    runner.respond = respond
    workflow = define_workflow(
        name="c", tasks={"a": task(agent()), "b": task(agent(), depends_on=["a"])}
    )
    events: list[Any] = []
    with anyio.fail_after(5), pytest.raises(WorkflowAbortedError):
        async with WorkflowExecutor(workflow, registry=registry).stream() as stream:
            async for event in stream:
                events.append(event)
                if event.type == "task:start":
                    await started.wait()
                    stream.cancel()
    assert runner.cancelled == ["a"]
    assert events[-1].type == "workflow:error"
    assert events[-1].error.name == "WorkflowAbortedError"
    assert not runner.calls_for("b")


async def test_signal_set_mid_run_cancels_in_flight_work(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    signal = anyio.Event()

    async def respond(_args: RunnerSpawnArgs) -> str:
        signal.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    runner.respond = respond
    workflow = define_workflow(
        name="c", tasks={"a": task(agent()), "b": task(agent(), depends_on=["a"])}
    )
    with anyio.fail_after(5), pytest.raises(WorkflowAbortedError):
        await WorkflowExecutor(workflow, registry=registry).run(signal=signal)
    assert runner.cancelled == ["a"]
    assert not runner.calls_for("b")


async def test_pre_aborted_signal_emits_start_and_error_only(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    signal = anyio.Event()
    signal.set()
    workflow = define_workflow(name="c", tasks={"a": task(agent())})
    events: list[Any] = []
    with pytest.raises(WorkflowAbortedError):
        async with WorkflowExecutor(workflow, registry=registry).stream(signal=signal) as stream:
            async for event in stream:
                events.append(event)
    assert [e.type for e in events] == ["workflow:start", "workflow:error"]
    assert runner.calls == []


async def test_cancelling_the_callers_scope_reaches_the_spawn(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    started = anyio.Event()

    async def respond(_args: RunnerSpawnArgs) -> str:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    runner.respond = respond
    workflow = define_workflow(name="c", tasks={"a": task(agent())})
    stream = WorkflowExecutor(workflow, registry=registry).stream()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:

            async def consume() -> None:
                async with stream:
                    async for _ in stream:
                        pass

            group.start_soon(consume)
            await started.wait()
            group.cancel_scope.cancel()
    assert runner.cancelled == ["a"]
    assert stream.final_event is not None and stream.final_event.type == "workflow:error"
    assert isinstance(stream.error, WorkflowAbortedError)


async def test_leaving_the_stream_early_cancels_the_run(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    async def respond(_args: RunnerSpawnArgs) -> str:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    runner.respond = respond
    workflow = define_workflow(name="c", tasks={"a": task(agent())})
    with anyio.fail_after(5):
        async with WorkflowExecutor(workflow, registry=registry).stream() as stream:
            async for event in stream:
                if event.type == "task:start":
                    break
    assert runner.cancelled == ["a"]


async def test_attempt_timeout_is_enforced_and_retried_when_policy_says_so(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    calls = {"n": 0}

    async def respond(_args: RunnerSpawnArgs) -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            await anyio.sleep_forever()
        return '{"answer": "second try"}'

    async def no_sleep(_s: float) -> None:
        return None

    runner.respond = respond
    patient = agent(timeout_ms=50, retry=RetryConfig(max=2, on=["timeout"]))
    workflow = define_workflow(name="t", tasks={"a": task(patient)})
    with anyio.fail_after(5):
        result = await WorkflowExecutor(workflow, registry=registry, sleep=no_sleep).run()
    assert result.outputs["a"] == Answer(answer="second try")
    assert runner.cancelled == ["a"]


async def test_attempt_timeout_without_retry_fails_with_task_timeout(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    async def respond(_args: RunnerSpawnArgs) -> str:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    runner.respond = respond
    workflow = define_workflow(name="t", tasks={"a": task(agent(timeout_ms=30))})
    with anyio.fail_after(5), pytest.raises(TaskTimeoutError) as caught:
        await WorkflowExecutor(workflow, registry=registry).run()
    assert caught.value.timeout_ms == 30
    assert caught.value.task_name == "a"


async def test_max_output_bytes_is_enforced(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    runner.respond = lambda _a: '{"answer": "' + "x" * 200 + '"}'
    # Too large counts as invalid output: retried like it, then reported with the attempts.
    workflow = define_workflow(name="big", tasks={"a": task(agent(max_output_bytes=100))})
    with pytest.raises(NodeMaxRetriesError, match="over the limit of 100 bytes") as caught:
        await WorkflowExecutor(workflow, registry=registry).run()
    assert caught.value.attempts[0].error_code == "output_validation_error"
    strict = define_workflow(
        name="big",
        tasks={"a": task(agent(max_output_bytes=100, retry=RetryConfig(max=1, on=[])))},
    )
    with pytest.raises(OutputTooLargeError, match="214 bytes"):
        await WorkflowExecutor(strict, registry=registry).run()


class Ticket(BaseModel):
    text: str


async def test_workflow_input_reaches_root_tasks_validated_and_ctx_input(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    seen: list[Any] = []

    @define_function(input=Ticket, output=Ticket)
    def shout(ticket: Ticket) -> Ticket:
        seen.append(ticket)
        return Ticket(text=ticket.text.upper())

    reader = define_agent(
        runner="fake", input=Ticket, output=Answer, prompt=lambda t: f"ticket={t.text}"
    )
    workflow = define_workflow(
        name="inp",
        tasks={
            "shout": task(shout),
            "read": task(reader),
            "later": task(
                reader,
                depends_on=["shout"],
                input=lambda ctx: Ticket(text=f"{ctx.input['text']}+{ctx['shout'].output.text}"),
            ),
        },
    )
    result = await WorkflowExecutor(workflow, registry=registry).run({"text": "help"})
    assert seen == [Ticket(text="help")]  # a dict was validated into the model
    assert result.outputs["shout"] == Ticket(text="HELP")
    assert runner.calls_for("read")[0].prompt == "ticket=help"
    assert runner.calls_for("later")[0].prompt == "ticket=help+HELP"


async def test_workflow_input_that_does_not_fit_fails_clearly(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    from ageflow.core import ValidationError

    reader = define_agent(runner="fake", input=Ticket, output=Answer, prompt=lambda t: t.text)
    workflow = define_workflow(name="inp", tasks={"read": task(reader)})
    with pytest.raises(ValidationError, match='"read"'):
        await WorkflowExecutor(workflow, registry=registry).run({"nope": 1})
    assert runner.calls == []


async def test_inline_function_chain_still_yields_and_can_be_cancelled(
    registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    # Sync function tasks run inline in the scheduler; they must still let other tasks run
    # and let a cancel stop them part-way.
    signal = anyio.Event()
    ran: list[int] = []

    def step(n: int) -> int:
        ran.append(n)
        if n == 10:
            signal.set()
        return n + 1

    fn = define_function(step, input=int, output=int)
    tasks: dict[str, Any] = {"t0": task(fn, input=0)}
    for i in range(1, 300):
        tasks[f"t{i}"] = task(
            fn, depends_on=[f"t{i - 1}"], input=lambda c, k=i: c[f"t{k - 1}"].output
        )
    agent_started = anyio.Event()

    async def respond(_args: RunnerSpawnArgs) -> str:
        agent_started.set()
        await anyio.sleep_forever()
        raise AssertionError

    runner.respond = respond
    tasks["agent"] = task(agent())
    workflow = define_workflow(name="inline", tasks=tasks)
    with anyio.fail_after(5), pytest.raises(WorkflowAbortedError):
        await WorkflowExecutor(workflow, registry=registry).run(signal=signal)
    assert agent_started.is_set()  # the waiting task ran alongside the inline chain
    assert 10 < len(ran) < 300  # stopped part-way, not after the whole chain
    assert runner.cancelled == ["agent"]


async def test_stream_cancel_reaches_a_workflow_complete_hook_in_flight() -> None:
    in_hook = anyio.Event()

    async def never_done(_outputs: Any, _metrics: Any) -> None:
        in_hook.set()
        await anyio.sleep_forever()

    workflow = define_workflow(
        name="hooked",
        tasks={"a": task(define_function(lambda n: n, input=int, output=int), input=1)},
        hooks=WorkflowHooks(on_workflow_complete=never_done),
    )
    with anyio.fail_after(5), pytest.raises(WorkflowAbortedError):
        async with WorkflowExecutor(workflow).stream() as stream:
            async for event in stream:
                if event.type == "task:complete":
                    await in_hook.wait()
                    stream.cancel()
    assert stream.final_event is not None and stream.final_event.type == "workflow:error"
