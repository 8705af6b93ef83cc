import anyio
import pytest

from ageflow.mcp_server.concurrency import (
    ConcurrencyConfig,
    ConcurrencyController,
    ResolvedConcurrencyConfig,
    WorkflowConcurrencyConfig,
    WorkflowLimits,
    resolve_concurrency_config,
    single_workflow_concurrency_config,
)
from ageflow.mcp_server.errors import ErrorCode, McpServerError


def busy(call):
    with pytest.raises(McpServerError) as info:
        call()
    assert info.value.code is ErrorCode.BUSY
    return info.value


# --- resolution -------------------------------------------------------------------------


def test_defaults_are_one_start_and_unlimited_jobs():
    assert resolve_concurrency_config() == ResolvedConcurrencyConfig(1, None, {})


def test_server_starts_fall_back_to_jobs_and_explicit_none_is_unlimited():
    assert resolve_concurrency_config(ConcurrencyConfig(max_concurrent_jobs=3)) == (
        ResolvedConcurrencyConfig(3, 3, {})
    )
    resolved = resolve_concurrency_config(ConcurrencyConfig(max_concurrent_starts=None))
    assert (resolved.max_concurrent_starts, resolved.max_concurrent_jobs) == (None, None)


def test_resolved_config_is_returned_unchanged():
    resolved = ResolvedConcurrencyConfig(2, 5, {})
    assert resolve_concurrency_config(resolved) is resolved


def test_workflow_limits_and_per_workflow_override():
    resolved = resolve_concurrency_config(
        ConcurrencyConfig(
            workflows={
                "a": WorkflowConcurrencyConfig(max_concurrent_jobs_per_workflow=2),
                "b": WorkflowConcurrencyConfig(max_concurrent_starts=1, max_concurrent_jobs=4),
            },
            per_workflow={"b": 3, "c": None},
        )
    )
    assert resolved.workflows == {
        "a": WorkflowLimits(max_concurrent_starts=2),
        "b": WorkflowLimits(max_concurrent_starts=3, max_concurrent_jobs=4),
        "c": WorkflowLimits(max_concurrent_starts=None),
    }


@pytest.mark.parametrize(
    ("config", "path"),
    [
        (ConcurrencyConfig(max_concurrent_jobs=0), "maxConcurrentJobs"),
        (ConcurrencyConfig(max_concurrent_starts=-2), "maxConcurrentStarts"),
        (ConcurrencyConfig(max_concurrent_starts=1.5), "maxConcurrentStarts"),
        (ConcurrencyConfig(max_concurrent_starts=True), "maxConcurrentStarts"),
        (ConcurrencyConfig(per_workflow={"w": 0}), "perWorkflow.w"),
        (
            ConcurrencyConfig(workflows={"w": WorkflowConcurrencyConfig(max_concurrent_starts=0)}),
            "workflows.w.maxConcurrentStarts",
        ),
        (
            ConcurrencyConfig(workflows={"w": WorkflowConcurrencyConfig(max_concurrent_jobs=-1)}),
            "workflows.w.maxConcurrentJobs",
        ),
        (
            ConcurrencyConfig(
                workflows={"w": WorkflowConcurrencyConfig(max_concurrent_jobs_per_workflow=2.0)}
            ),
            "workflows.w.maxConcurrentJobsPerWorkflow",
        ),
    ],
)
def test_invalid_values_name_their_setting(config, path):
    with pytest.raises(ValueError, match="must be a positive integer") as info:
        resolve_concurrency_config(config)
    assert str(info.value).startswith(path + " ")


def test_unknown_workflow_names_are_refused_when_names_are_known():
    config = ConcurrencyConfig(per_workflow={"missing": 1})
    with pytest.raises(ValueError, match="unknown workflow name: missing"):
        resolve_concurrency_config(config, known_workflows={"greet"})
    assert "missing" in resolve_concurrency_config(config).workflows


def test_single_workflow_wrapper():
    assert single_workflow_concurrency_config("ask") == ResolvedConcurrencyConfig(1, None, {})
    resolved = single_workflow_concurrency_config(
        "ask", ConcurrencyConfig(max_concurrent_jobs=2, max_concurrent_jobs_per_workflow=1)
    )
    assert resolved.max_concurrent_starts == 2
    assert resolved.max_concurrent_jobs == 2
    assert resolved.workflows == {"ask": WorkflowLimits(max_concurrent_starts=1)}
    only_starts = single_workflow_concurrency_config("ask", max_concurrent_starts=4)
    assert (only_starts.max_concurrent_starts, only_starts.max_concurrent_jobs) == (4, 4)


# --- controller -------------------------------------------------------------------------


def test_default_controller_admits_one_start_at_a_time():
    controller = ConcurrencyController()
    first = controller.acquire_start("ask")
    err = busy(lambda: controller.acquire_start("ask"))
    assert err.message == "Server start concurrency limit reached (limit=1)"
    assert err.context == {"scope": "server", "kind": "start", "limit": 1, "active": 1}
    first.release()
    controller.acquire_start("ask").release()
    assert controller.active("start") == 0


def test_jobs_are_unlimited_by_default():
    controller = ConcurrencyController()
    permits = [controller.acquire_job("ask") for _ in range(50)]
    assert controller.active("job") == 50
    for permit in permits:
        permit.release()
    assert controller.active("job") == 0


def test_workflow_limit_rejects_before_the_server_limit():
    controller = ConcurrencyController(
        single_workflow_concurrency_config(
            "ask", ConcurrencyConfig(max_concurrent_jobs=2, max_concurrent_jobs_per_workflow=1)
        )
    )
    controller.acquire_start("ask")
    err = busy(lambda: controller.acquire_start("ask"))
    assert err.context == {
        "scope": "workflow",
        "kind": "start",
        "limit": 1,
        "active": 1,
        "workflowName": "ask",
    }
    assert err.message == 'Workflow "ask" start concurrency limit reached (limit=1)'


def test_server_limit_rejection_leaves_the_workflow_counter_untouched():
    controller = ConcurrencyController(
        ConcurrencyConfig(
            max_concurrent_jobs=1, workflows={"a": WorkflowConcurrencyConfig(max_concurrent_jobs=5)}
        )
    )
    controller.acquire_job("b")
    err = busy(lambda: controller.acquire_job("a"))
    assert err.context["scope"] == "server"
    assert err.context["kind"] == "job"
    assert controller.active("job", "a") == 0


def test_server_wide_limits_hold_across_workflows():
    controller = ConcurrencyController(ConcurrencyConfig(max_concurrent_starts=2))
    controller.acquire_start("a")
    controller.acquire_start("b")
    err = busy(lambda: controller.acquire_start("c"))
    assert err.context == {"scope": "server", "kind": "start", "limit": 2, "active": 2}


def test_per_workflow_job_limit_and_unlimited_workflow_counter():
    controller = ConcurrencyController(
        ConcurrencyConfig(
            max_concurrent_starts=None,
            workflows={"a": WorkflowConcurrencyConfig(max_concurrent_jobs=1)},
            per_workflow={"b": None},
        )
    )
    controller.acquire_job("a")
    assert busy(lambda: controller.acquire_job("a")).context["scope"] == "workflow"
    for _ in range(10):
        controller.acquire_start("b")
    assert controller.active("start", "b") == 10
    assert controller.active("start") == 10


def test_release_is_idempotent_and_never_goes_negative():
    controller = ConcurrencyController(ConcurrencyConfig(per_workflow={"a": 1}))
    permit = controller.acquire_start("a")
    permit.release()
    permit.release()
    assert permit.released
    assert controller.active("start") == 0
    assert controller.active("start", "a") == 0
    with controller.acquire_start("a") as held:
        assert controller.active("start", "a") == 1
    assert held.released
    assert controller.active("start", "a") == 0


@pytest.mark.anyio
async def test_concurrent_tasks_never_exceed_the_limit():
    controller = ConcurrencyController(ConcurrencyConfig(max_concurrent_starts=3))
    go = anyio.Event()
    admitted: list[int] = []
    rejected: list[ErrorCode] = []
    all_tried = anyio.Event()

    async def call(i: int) -> None:
        try:
            permit = controller.acquire_start("wf")
        except McpServerError as exc:
            rejected.append(exc.code)
        else:
            admitted.append(i)
            await go.wait()
            permit.release()
        if len(admitted) + len(rejected) == 8:
            all_tried.set()

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(call, i)
        await all_tried.wait()
        assert len(admitted) == 3
        assert rejected == [ErrorCode.BUSY] * 5
        assert controller.active("start") == 3
        go.set()
    assert controller.active("start") == 0
    controller.acquire_start("wf").release()
