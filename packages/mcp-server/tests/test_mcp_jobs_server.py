"""Async job mode driven through the SDK's own in-process client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_calls import call, connected
from mcp_greeting import Greeting, Person, greeting_workflow

from ageflow.core import Checkpoint, define_function, define_workflow, task
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server import ConcurrencyConfig, McpServer, create_mcp_server, jobs
from ageflow.server import InMemoryRunStore
from ageflow.server_sqlite import SqliteRunStore

pytestmark = pytest.mark.anyio

greet_workflow = greeting_workflow

OBSERVERS = ["get_workflow_status", "get_workflow_result", "resume_workflow", "cancel_workflow"]


async def start(client: Any, server: McpServer, name: str, args: dict[str, Any]) -> str:
    failed, content = await call(client, f"start_{name}", args)
    assert not failed, content
    assert set(content) == {"jobId"}
    return str(content["jobId"])


async def test_start_then_status_then_result() -> None:
    server = create_mcp_server(greet_workflow(), async_mode=True, job_db_path=":memory:")
    async with connected(server) as client:
        job_id = await start(client, server, "greet", {"name": "Ann"})
        assert len(job_id) == 36
        assert server.runner is not None
        await server.runner.wait(job_id)

        failed, status = await call(client, "get_workflow_status", {"jobId": job_id})
        assert not failed
        assert status["state"] == "done"
        assert status["progress"] == {"tasksCompleted": 2, "tasksTotal": 2}
        assert status["currentTask"] == {"name": "shout", "kind": "task"}
        assert status["lastEventAt"] >= status["createdAt"]

        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert not failed
        assert result["state"] == "done"
        assert result["output"] == {"greeting": "Hello, Ann!".upper()}
        assert result["metrics"]["taskCount"] == 2


async def test_start_validates_input_and_async_off_refuses_job_tools() -> None:
    server = create_mcp_server(greet_workflow(), async_mode=True, job_db_path=":memory:")
    async with connected(server) as client:
        failed, content = await call(client, "start_greet", {"name": 42})
        assert failed and content["errorCode"] == "INPUT_VALIDATION_FAILED"
        failed, content = await call(client, "get_workflow_status", {})
        assert failed and content["errorCode"] == "INPUT_VALIDATION_FAILED"
        assert content["message"] == "missing jobId"

    sync_only = create_mcp_server(greet_workflow())
    async with connected(sync_only) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["greet"]
        failed, content = await call(client, "start_greet", {"name": "Ann"})
        assert failed and content["errorCode"] == "ASYNC_MODE_DISABLED"


async def test_checkpoint_waits_then_resume_approves() -> None:
    server = create_mcp_server(
        greet_workflow(checkpoint=True), async_mode=True, job_db_path=":memory:"
    )
    async with connected(server) as client:
        job_id = await start(client, server, "greet", {"name": "Bo"})
        assert server.runner is not None
        await server.runner.wait_for(job_id, "awaiting-checkpoint")

        _, status = await call(client, "get_workflow_status", {"jobId": job_id})
        assert status["state"] == "awaiting-checkpoint"
        assert status["currentTask"] == {
            "name": "shout",
            "kind": "checkpoint",
            "message": "Shout it?",
        }
        _, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert result == {"pending": True}

        failed, resumed = await call(client, "resume_workflow", {"jobId": job_id, "approved": True})
        assert not failed and resumed == {"resumed": True}
        await server.runner.wait(job_id)
        _, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert result["output"] == {"greeting": "HELLO, BO!"}

        failed, again = await call(client, "resume_workflow", {"jobId": job_id, "approved": True})
        assert failed and again["errorCode"] == "INVALID_RUN_STATE"


async def test_rejected_checkpoint_fails_the_job() -> None:
    server = create_mcp_server(
        greet_workflow(checkpoint=True), async_mode=True, job_db_path=":memory:", hitl="fail"
    )
    async with connected(server) as client:
        job_id = await start(client, server, "greet", {"name": "Cy"})
        assert server.runner is not None
        await server.runner.wait(job_id)
        _, status = await call(client, "get_workflow_status", {"jobId": job_id})
        assert status["state"] == "failed"
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert failed and result["errorCode"] == "WORKFLOW_FAILED"
        assert result["context"]["jobId"] == job_id


async def test_on_hitl_answers_async_checkpoints() -> None:
    asked: list[tuple[str, str]] = []

    async def approve(task_name: str, message: str) -> bool:
        asked.append((task_name, message))
        return True

    server = create_mcp_server(
        greet_workflow(checkpoint=True),
        async_mode=True,
        job_db_path=":memory:",
        on_hitl=approve,
    )
    async with connected(server) as client:
        job_id = await start(client, server, "greet", {"name": "Di"})
        assert server.runner is not None
        await server.runner.wait(job_id)
        _, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert result["output"] == {"greeting": "HELLO, DI!"}
    assert asked == [("shout", "Shout it?")]


async def test_cancel_is_idempotent_and_result_says_cancelled() -> None:
    server = create_mcp_server(
        greet_workflow(checkpoint=True), async_mode=True, job_db_path=":memory:"
    )
    async with connected(server) as client:
        job_id = await start(client, server, "greet", {"name": "Ed"})
        assert server.runner is not None
        await server.runner.wait_for(job_id, "awaiting-checkpoint")
        failed, first = await call(client, "cancel_workflow", {"jobId": job_id})
        assert not failed
        assert first == {"cancelled": True, "priorState": "awaiting-checkpoint"}
        _, status = await call(client, "get_workflow_status", {"jobId": job_id})
        assert status["state"] == "cancelled"
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert failed and result["errorCode"] == "JOB_CANCELLED"
        # A second cancel meets a finished job: an error naming its state, and the job is
        # left as it was.
        failed, second = await call(client, "cancel_workflow", {"jobId": job_id})
        assert failed and second["errorCode"] == "INVALID_RUN_STATE"
        assert second["context"] == {"jobId": job_id, "state": "cancelled"}
        _, status = await call(client, "get_workflow_status", {"jobId": job_id})
        assert status["state"] == "cancelled"


async def test_unknown_job_is_job_not_found_on_every_observer() -> None:
    server = create_mcp_server(greet_workflow(), async_mode=True, job_db_path=":memory:")
    async with connected(server) as client:
        for tool in OBSERVERS:
            failed, content = await call(client, tool, {"jobId": "nope", "approved": True})
            assert failed, tool
            assert content["errorCode"] == "JOB_NOT_FOUND", tool
            assert content["context"] == {"jobId": "nope"}


async def test_second_start_is_busy_while_a_job_lives_and_admitted_after() -> None:
    server = create_mcp_server(
        greet_workflow(checkpoint=True), async_mode=True, job_db_path=":memory:"
    )
    async with connected(server) as client:
        job_id = await start(client, server, "greet", {"name": "Fay"})
        assert server.runner is not None
        await server.runner.wait_for(job_id, "awaiting-checkpoint")
        failed, busy = await call(client, "start_greet", {"name": "Gus"})
        assert failed and busy["errorCode"] == "BUSY"
        assert busy["context"]["kind"] == "start"

        # The permits go back when the job ends, not when it was admitted.
        await call(client, "resume_workflow", {"jobId": job_id, "approved": False})
        await server.runner.wait(job_id)
        next_id = await start(client, server, "greet", {"name": "Gus"})
        assert next_id != job_id


async def test_two_workflows_list_observers_once_and_find_every_job() -> None:
    store = InMemoryRunStore()
    server = create_mcp_server(
        [greet_workflow("first"), greet_workflow("second", checkpoint=True)],
        async_mode=True,
        job_store=store,
        concurrency=ConcurrencyConfig(max_concurrent_jobs=2),
    )
    async with connected(server) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == ["first", "second", "start_first", "start_second", *OBSERVERS]
        first = await start(client, server, "first", {"name": "Hal"})
        second = await start(client, server, "second", {"name": "Ivy"})
        assert server.runner is not None
        await server.runner.wait(first)
        await server.runner.wait_for(second, "awaiting-checkpoint")

        _, result = await call(client, "get_workflow_result", {"jobId": first})
        assert result["output"] == {"greeting": "HELLO, HAL!"}
        failed, _ = await call(client, "resume_workflow", {"jobId": second, "approved": True})
        assert not failed
        await server.runner.wait(second)
        _, result = await call(client, "get_workflow_result", {"jobId": second})
        assert result["output"] == {"greeting": "HELLO, IVY!"}
    await store.close()


async def test_observers_never_write_the_store() -> None:
    store = InMemoryRunStore()
    writes: list[str] = []
    original = store.save_run

    async def counted(*args: Any, **kwargs: Any) -> Any:
        writes.append("update")
        return await original(*args, **kwargs)

    store.save_run = counted  # type: ignore[method-assign]
    server = create_mcp_server(greet_workflow(checkpoint=True), async_mode=True, job_store=store)
    async with connected(server) as client:
        job_id = await start(client, server, "greet", {"name": "Jo"})
        assert server.runner is not None
        await server.runner.wait_for(job_id, "awaiting-checkpoint")
        before = len(writes)
        for _ in range(3):
            await call(client, "get_workflow_status", {"jobId": job_id})
            await call(client, "get_workflow_result", {"jobId": job_id})
        assert len(writes) == before


async def test_restarted_server_resumes_a_waiting_job_with_stored_input_and_strategy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "jobs.sqlite"
    first = create_mcp_server(greet_workflow(checkpoint=True), async_mode=True, job_db_path=path)
    async with connected(first) as client:
        job_id = await start(client, first, "greet", {"name": "Kim"})
        assert first.runner is not None
        await first.runner.wait_for(job_id, "awaiting-checkpoint")
    # Server A is gone; the job waits in the file.

    # Server B is configured to auto-approve, yet the job keeps the strategy it was
    # started with (elicit: wait for resume_workflow), and its stored input.
    second = create_mcp_server(
        greet_workflow(checkpoint=True), async_mode=True, job_db_path=path, hitl="auto"
    )
    async with connected(second) as client:
        assert second.runner is not None
        record = await second.runner.get_record(job_id)
        assert record is not None and record.policy.extra == {"hitl": "elicit"}
        _, status = await call(client, "get_workflow_status", {"jobId": job_id})
        assert status["state"] == "awaiting-checkpoint"

        failed, resumed = await call(client, "resume_workflow", {"jobId": job_id, "approved": True})
        assert not failed and resumed == {"resumed": True}
        await second.runner.wait(job_id)
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert not failed
        assert result["output"] == {"greeting": "HELLO, KIM!"}

    async with SqliteRunStore(path) as store:
        stored = await store.get_input(job_id)
        assert stored is not None and stored.value == {"name": "Kim"}


async def test_non_root_input_task_reads_the_job_input_after_a_restart(tmp_path: Path) -> None:
    def late_workflow() -> WorkflowDef:
        first = define_function(lambda p: Person(name="ignored"), input=Person, output=Person)
        second = define_function(
            lambda p: Greeting(greeting=f"late {p.name}"), input=Person, output=Greeting
        )
        return define_workflow(
            name="late",
            tasks={
                "first": task(first),
                "second": task(second, depends_on=["first"], hitl=Checkpoint("Go on?")),
            },
            mcp={"input_task": "second"},
        )

    path = tmp_path / "jobs.sqlite"
    first = create_mcp_server(late_workflow(), async_mode=True, job_db_path=path)
    async with connected(first) as client:
        job_id = await start(client, first, "late", {"name": "Lu"})
        assert first.runner is not None
        await first.runner.wait_for(job_id, "awaiting-checkpoint")

    second = create_mcp_server(late_workflow(), async_mode=True, job_db_path=path)
    async with connected(second) as client:
        await call(client, "resume_workflow", {"jobId": job_id, "approved": True})
        assert second.runner is not None
        await second.runner.wait(job_id)
        _, result = await call(client, "get_workflow_result", {"jobId": job_id})
    assert result["output"] == {"greeting": "late Lu"}


async def test_jobs_default_to_a_sqlite_file_under_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    server = create_mcp_server(greet_workflow(), async_mode=True)
    async with connected(server) as client:
        job_id = await start(client, server, "greet", {"name": "Max"})
        assert server.runner is not None
        await server.runner.wait(job_id)
    async with SqliteRunStore(tmp_path / ".ageflow" / "jobs.sqlite") as store:
        record = await store.get_run(job_id)
    assert record is not None and record.state == "done"


async def test_job_tools_need_a_running_server() -> None:
    server = create_mcp_server(greet_workflow(), async_mode=True, job_db_path=":memory:")
    async with Client(server.server, mode="legacy") as client:
        failed, content = await call(client, "start_greet", {"name": "Ned"})
    assert failed and content["errorCode"] == "SERVER_SHUTDOWN"


def held_workflow(release: Any) -> WorkflowDef:
    """One async task that finishes when ``release`` (an anyio.Event) is set."""

    async def wait(p: Person) -> Greeting:
        await release.wait()
        return Greeting(greeting=f"Hello, {p.name}!")

    return define_workflow(
        name="held", tasks={"greet": task(define_function(wait, input=Person, output=Greeting))}
    )


async def test_status_waits_briefly_for_a_job_that_is_finishing(monkeypatch) -> None:
    # A status call that lands while a job finishes answers with the outcome (a short
    # long-poll) instead of "running"; the window is widened here so the test is not timed.
    monkeypatch.setattr(jobs, "STATUS_SETTLE_S", 60.0)
    release = anyio.Event()
    server = create_mcp_server(
        held_workflow(release), async_mode=True, job_store=InMemoryRunStore()
    )
    async with connected(server) as client:
        job = await start(client, server, "held", {"name": "Ann"})
        answers: list[dict[str, Any]] = []

        async def poll() -> None:
            answers.append((await call(client, "get_workflow_status", {"jobId": job}))[1])

        async with anyio.create_task_group() as group:
            group.start_soon(poll)
            await anyio.wait_all_tasks_blocked()
            assert answers == []  # still waiting for the job to move on
            release.set()
        assert answers[0]["state"] == "done"


async def test_status_of_a_job_that_keeps_running_says_running(monkeypatch) -> None:
    monkeypatch.setattr(jobs, "STATUS_SETTLE_S", 0.01)
    release = anyio.Event()
    server = create_mcp_server(
        held_workflow(release), async_mode=True, job_store=InMemoryRunStore()
    )
    async with connected(server) as client:
        job = await start(client, server, "held", {"name": "Ann"})
        failed, status = await call(client, "get_workflow_status", {"jobId": job})
        assert not failed and status["state"] == "running"
        release.set()
