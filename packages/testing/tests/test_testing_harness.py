"""The test harness: canned answers per task, call statistics, registry isolation."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from ageflow.core import (
    Checkpoint,
    RetryConfig,
    RunnerSpawnArgs,
    RunnerSpawnResult,
    WorkflowHooks,
    default_registry,
    define_agent,
    define_function,
    define_workflow,
    loop,
    task,
)
from ageflow.executor import HitlRejectedError
from ageflow.testing import MockRaw, MockThrow, create_test_harness
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Issues(BaseModel):
    issues: list[str]


class Result(BaseModel):
    result: str


def analyze_agent(**kw: Any) -> Any:
    return define_agent(
        runner="harness-claude", input=dict, output=Issues, prompt=lambda _x: "analyze", **kw
    )


def result_agent(**kw: Any) -> Any:
    return define_agent(
        runner="harness-claude", input=dict, output=Result, prompt=lambda _x: "go", **kw
    )


class SubprocessFailure(Exception):
    code = "subprocess_error"


async def test_one_mocked_task_output() -> None:
    workflow = define_workflow(name="h", tasks={"analyze": task(analyze_agent())})
    harness = create_test_harness(workflow).mock_agent("analyze", {"issues": ["a"]})
    result = await harness.run()
    assert result.outputs["analyze"] == Issues(issues=["a"])
    stats = harness.get_task("analyze")
    assert (stats.call_count, stats.retry_count, stats.outputs) == (1, 0, [{"issues": ["a"]}])


async def test_dependent_tasks_and_untouched_stats() -> None:
    workflow = define_workflow(
        name="h",
        tasks={
            "analyze": task(analyze_agent()),
            "fix": task(result_agent(), depends_on=["analyze"]),
        },
    )
    harness = create_test_harness(workflow)
    assert harness.get_task("fix").call_count == 0
    harness.mock_agent("analyze", {"issues": []}).mock_agent("fix", {"result": "patched"})
    result = await harness.run()
    assert result.outputs["fix"] == Result(result="patched")
    assert harness.get_task("never").outputs == []


async def test_queues_are_per_task_and_last_answer_repeats() -> None:
    workflow = define_workflow(
        name="h", tasks={name: task(result_agent()) for name in ("a", "b", "c")}
    )
    harness = create_test_harness(workflow)
    for name in ("a", "b", "c"):
        harness.mock_agent(name, [{"result": "first"}, {"result": "second"}])
    result = await harness.run()
    assert all(result.outputs[n] == Result(result="first") for n in ("a", "b", "c"))
    await harness.run()
    await harness.run()
    assert harness.get_task("a").outputs == [
        {"result": "first"},
        {"result": "second"},
        {"result": "second"},
    ]
    harness.reset()
    assert harness.get_task("a").call_count == 0


async def test_throw_then_recover_counts_a_retry() -> None:
    async def no_sleep(_s: float) -> None:
        return None

    workflow = define_workflow(
        name="h",
        tasks={"t": task(result_agent(retry=RetryConfig(max=2, on=["subprocess_error"])))},
    )
    harness = create_test_harness(workflow).mock_agent(
        "t", [{"throws": SubprocessFailure("exit 1")}, {"result": "recovered"}]
    )
    executor = harness.executor()
    executor.sleep = no_sleep
    result = await executor.run()
    assert result.outputs["t"] == Result(result="recovered")
    stats = harness.get_task("t")
    assert (stats.call_count, stats.retry_count) == (2, 1)
    assert stats.outputs == [{"result": "recovered"}]


async def test_throw_without_retry_fails_the_run() -> None:
    workflow = define_workflow(name="h", tasks={"t": task(result_agent())})
    harness = create_test_harness(workflow).mock_agent("t", MockThrow(RuntimeError("fatal error")))
    with pytest.raises(RuntimeError, match="fatal error"):
        await harness.run()


async def test_raw_unparseable_answer_is_an_output_validation_failure() -> None:
    from ageflow.core import NodeMaxRetriesError

    workflow = define_workflow(name="h", tasks={"t": task(result_agent(retry=RetryConfig(max=1)))})
    harness = create_test_harness(workflow).mock_agent("t", MockRaw("not json"))
    with pytest.raises(NodeMaxRetriesError, match="Could not parse JSON"):
        await harness.run()


async def test_no_mock_answers_empty_object_and_empty_list_falls_back_too() -> None:
    class Empty(BaseModel):
        pass

    agent = define_agent(runner="harness-claude", input=dict, output=Empty, prompt=lambda _x: "")
    workflow = define_workflow(name="h", tasks={"a": task(agent), "b": task(agent)})
    harness = create_test_harness(workflow).mock_agent("b", [])
    result = await harness.run()
    assert result.outputs == {"a": Empty(), "b": Empty()}


async def test_process_registry_is_never_touched() -> None:
    real = ScriptedRunner()
    default_registry.register("real-runner-preserved", real)
    try:
        workflow = define_workflow(name="h", tasks={"t": task(result_agent())})
        harness = create_test_harness(workflow).mock_agent("t", {"result": "x"})
        await harness.run()
        assert "harness-claude" not in default_registry
        harness.mock_agent("t", MockThrow(RuntimeError("boom")))
        with pytest.raises(RuntimeError):
            await harness.run()
        assert "harness-claude" not in default_registry
        assert default_registry.get("real-runner-preserved") is real
    finally:
        default_registry.unregister("real-runner-preserved")


async def test_two_harnesses_with_the_same_runner_name_run_concurrently() -> None:
    workflow = define_workflow(name="h", tasks={"t": task(result_agent())})
    first = create_test_harness(workflow).mock_agent("t", {"result": "one"})
    second = create_test_harness(workflow).mock_agent("t", {"result": "two"})
    results: dict[str, Any] = {}

    async def go(label: str, harness: Any) -> None:
        results[label] = await harness.run()

    async with anyio.create_task_group() as group:
        group.start_soon(go, "one", first)
        group.start_soon(go, "two", second)
    assert results["one"].outputs["t"] == Result(result="one")
    assert results["two"].outputs["t"] == Result(result="two")


async def test_every_hook_is_forwarded() -> None:
    seen: list[str] = []
    hooks = WorkflowHooks(
        on_workflow_start=lambda inp: seen.append(f"start:{inp}"),
        on_task_spawn_args=lambda name, args: seen.append(
            f"args:{name}:{type(args.prompt).__name__}"
        ),
        on_task_spawn_result=lambda name, res: seen.append(f"result:{name}:{res.stdout}"),
        on_task_skip=lambda name, _r: seen.append(f"skip:{name}"),
        get_system_prompt_prefix=lambda name: seen.append(f"prefix:{name}") or None,
    )
    workflow = define_workflow(
        name="h",
        tasks={
            "analyze": task(analyze_agent()),
            "skipped": task(result_agent(), skip_if=lambda _c: True),
        },
        hooks=hooks,
    )
    harness = create_test_harness(workflow).mock_agent("analyze", {"issues": []})
    await harness.run({"repo": "x"})
    assert seen[0] == "start:{'repo': 'x'}"
    assert 'result:analyze:{"issues":[]}' in seen
    assert "args:analyze:str" in seen and "skip:skipped" in seen and "prefix:analyze" in seen


async def test_function_tasks_and_loops_with_inner_names() -> None:
    evaluator = define_agent(
        runner="harness-codex", input=dict, output=Result, prompt=lambda _x: "eval"
    )
    workflow = define_workflow(
        name="h",
        tasks={
            "prep": task(define_function(lambda x: x, input=int, output=int), input=3),
            "fix_loop": loop(
                tasks={"fix": task(result_agent()), "eval": task(evaluator, depends_on=["fix"])},
                max=3,
                until=lambda ctx: ctx["eval"].output.result == "satisfied",
            ),
        },
    )
    harness = create_test_harness(workflow)
    harness.mock_agent("fix", [{"result": "attempt1"}, {"result": "attempt2"}])
    harness.mock_agent("eval", [{"result": "unsatisfied"}, {"result": "satisfied"}])
    result = await harness.run()
    assert result.outputs["prep"] == 3
    assert harness.get_task("fix").call_count == 2
    assert harness.get_task("eval").call_count == 2
    assert result.outputs["fix_loop"]["fix"].output == Result(result="attempt2")


async def test_checkpoints_are_not_approved_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    workflow = define_workflow(
        name="h", tasks={"t": task(result_agent(), hitl=Checkpoint("ship it?"))}
    )
    from ageflow.executor import HitlNotInteractiveError

    with pytest.raises(HitlNotInteractiveError):
        await create_test_harness(workflow).run()
    approved = create_test_harness(workflow, approve_checkpoints=True)
    approved.mock_agent("t", {"result": "shipped"})
    assert (await approved.run()).outputs["t"] == Result(result="shipped")
    rejected = create_test_harness(workflow, approve_checkpoints=False)
    with pytest.raises(HitlRejectedError):
        await rejected.run()
    assert rejected.get_task("t").call_count == 0


async def test_scripted_runner_records_results() -> None:
    runner = ScriptedRunner(lambda a: RunnerSpawnResult(stdout=a.prompt, tokens_in=1))
    result = await runner.spawn(RunnerSpawnArgs(prompt="{}", task_name="x"))
    assert result.tokens_in == 1 and runner.calls_for("x")[0].prompt == "{}"
    assert (await runner.validate()).ok
