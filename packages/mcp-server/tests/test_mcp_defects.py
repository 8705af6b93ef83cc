"""The original's MCP defects (reference §11) that no other test pins down, each shown
fixed here. Each test names the behaviour; the comment names the defect."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp_calls import call, connected
from mcp_greeting import Greeting, Person, greeting_workflow
from pydantic import BaseModel

from ageflow.core import (
    RetryConfig,
    RunnerRegistry,
    define_agent,
    define_function,
    define_workflow,
    task,
)
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef, WorkflowHooks
from ageflow.mcp_server import (
    CliCeilings,
    ConcurrencyConfig,
    ErrorCode,
    McpServer,
    McpServerError,
    WorkflowConcurrencyConfig,
    create_mcp_server,
)
from ageflow.mcp_server.concurrency import spread_per_workflow_limit
from ageflow.server_sqlite import SqliteRunStore
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio

greet_workflow = greeting_workflow


class Question(BaseModel):
    question: str


class Answer(BaseModel):
    answer: str


def hanging_workflow(name: str = "hang") -> WorkflowDef:
    async def hang(person: Person) -> Greeting:
        await anyio.sleep_forever()
        raise AssertionError

    return define_workflow(
        name=name, tasks={"hang": task(define_function(hang, input=Person, output=Greeting))}
    )


async def start(client: Any, name: str, args: dict[str, Any]) -> str:
    failed, content = await call(client, f"start_{name}", args)
    assert not failed, content
    return str(content["jobId"])


def runner_of(server: McpServer) -> Any:
    assert server.runner is not None
    return server.runner


# --- D24: a rejected sync checkpoint never prompts on the server's terminal ------------------


class _TerminalStdin:
    """A stdin that claims to be a terminal and fails the test if anything reads it."""

    def isatty(self) -> bool:
        return True

    def read(self, *_: Any) -> str:
        raise AssertionError("the server read its terminal")

    readline = read

    def fileno(self) -> int:
        raise AssertionError("the server used its terminal")


async def test_rejected_sync_checkpoint_is_hitl_denied_even_with_a_terminal_stdin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # D24: with a TTY stdin the original blocked on "press Enter", which then approved.
    monkeypatch.setattr(sys, "stdin", _TerminalStdin())
    server = create_mcp_server(greet_workflow(checkpoint=True), hitl="fail")
    async with connected(server) as client:
        failed, content = await call(client, "greet", {"name": "Ann"})
    assert failed and content["errorCode"] == "HITL_DENIED"
    assert content["context"] == {"taskName": "shout"}


# --- D25: max turns is enforced for async jobs too -----------------------------------------


async def test_async_job_over_max_turns_ends_turns_exceeded() -> None:
    # D25: maxTurns was never enforced; in async mode the job now fails TURNS_EXCEEDED.
    scripted = ScriptedRunner(lambda args: json.dumps({"answer": args.prompt}))
    agent = define_agent(
        runner="scripted",
        input=Question,
        output=Answer,
        prompt=lambda q: f"Q: {q.question}",
        retry=RetryConfig(max=1),
    )
    workflow = define_workflow(
        name="three",
        tasks={
            "a": task(agent),
            "b": task(agent, depends_on=["a"], input=lambda c: Question(question="b")),
        },
    )
    server = create_mcp_server(
        workflow,
        registry=RunnerRegistry({"scripted": scripted}),
        ceilings=CliCeilings(max_turns=1),
        async_mode=True,
        job_db_path=":memory:",
    )
    async with connected(server) as client:
        job_id = await start(client, "three", {"question": "a"})
        await runner_of(server).wait(job_id)
        _, status = await call(client, "get_workflow_status", {"jobId": job_id})
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
    assert status["state"] == "failed"
    assert failed and result["errorCode"] == "TURNS_EXCEEDED"
    assert result["context"]["jobId"] == job_id
    assert [c.task_name for c in scripted.calls] == ["a"]


# --- D27: operator warnings are lines, reported once per workflow ---------------------------


def test_server_ceiling_warnings_are_newline_terminated_and_name_the_workflow() -> None:
    # D27: the original wrote clamp warnings without a trailing newline.
    server = create_mcp_server(
        [greet_workflow("a", max_cost_usd=1.0), greet_workflow("b", max_cost_usd=10.0)],
        ceilings=CliCeilings(max_cost_usd=5.0, max_turns=None),
    )
    warnings = server.ceiling_warnings
    assert warnings, "a clamp above the workflow ceiling must warn"
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in warnings)
    assert any("clamped" in line and "(workflow a)" in line for line in warnings)
    assert not any("max_cost_usd" in line and "(workflow b)" in line for line in warnings)


# --- D28 / D29: expired jobs end once, leave, and never come back ----------------------------


async def test_expired_awaiting_job_fails_then_is_gone_for_good() -> None:
    # D28: an awaiting job past the checkpoint TTL was JOB_NOT_FOUND, then came back failed.
    # D29: nothing about a reaped job stays behind in the server.
    server = create_mcp_server(
        greet_workflow(checkpoint=True),
        async_mode=True,
        job_db_path=":memory:",
        job_ttl_ms=60_000,
        job_checkpoint_ttl_ms=1_000,
    )
    async with connected(server) as client:
        runner = runner_of(server)
        job_id = await start(client, "greet", {"name": "Ann"})
        await runner.wait_for(job_id, "awaiting-checkpoint")

        # A reaper pass after the checkpoint TTL (its clock is passed in, nobody sleeps).
        await runner.sweep(now_ms() + 1_001)
        await runner.wait(job_id)
        failed, status = await call(client, "get_workflow_status", {"jobId": job_id})
        assert not failed, status
        assert status["state"] == "failed"
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
        assert failed and result["errorCode"] == "HITL_CANCELLED"
        assert result["context"]["error"]["name"] == "CheckpointTimeoutError"
        failed, resumed = await call(client, "resume_workflow", {"jobId": job_id, "approved": True})
        assert failed and resumed["errorCode"] == "INVALID_RUN_STATE"

        # Past the job TTL the failed job is deleted, and later passes do not revive it.
        for later in (70_000, 80_000):
            await runner.sweep(now_ms() + later)
            for tool in ("get_workflow_status", "get_workflow_result", "cancel_workflow"):
                failed, content = await call(client, tool, {"jobId": job_id})
                assert failed and content["errorCode"] == "JOB_NOT_FOUND", tool
            assert await runner.store.get_run(job_id) is None
            assert job_id not in runner._live  # the runner holds nothing more of it


# --- D30: observers never write, on the SQLite store ----------------------------------------

STORE_WRITES = (
    "create_run",
    "save_run",
    "delete_run",
    "delete_finished_before",
    "append_step",
    "append_steps",
    "claim_run",
    "release_runs",
    "renew_leases",
)


def count_writes(store: SqliteRunStore) -> list[str]:
    writes: list[str] = []
    for name in STORE_WRITES:
        original = getattr(store, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            writes.append(_name)
            return _original(*args, **kw)

        setattr(store, name, counted)
    return writes


async def test_observers_never_write_the_sqlite_store(tmp_path: Path) -> None:
    # D30: every status/result poll of a live job rewrote its row.
    async with SqliteRunStore(tmp_path / "jobs.sqlite") as store:
        writes = count_writes(store)
        server = create_mcp_server(
            [greet_workflow(checkpoint=True), hanging_workflow(), greet_workflow("quick")],
            async_mode=True,
            job_store=store,
            concurrency=ConcurrencyConfig(max_concurrent_jobs=3),
        )
        async with connected(server) as client:
            runner = runner_of(server)
            waiting = await start(client, "greet", {"name": "Ann"})
            running = await start(client, "hang", {"name": "Bo"})
            done = await start(client, "quick", {"name": "Cy"})
            await runner.wait_for(waiting, "awaiting-checkpoint")
            await runner.wait(done)
            before = list(writes)
            for _ in range(3):
                for job_id in (waiting, running, done):
                    for tool in ("get_workflow_status", "get_workflow_result"):
                        failed, _ = await call(client, tool, {"jobId": job_id})
                        assert not failed
                # Refused (the job is done), and a refusal writes nothing either.
                failed, refused = await call(client, "cancel_workflow", {"jobId": done})
                assert failed and refused["errorCode"] == "INVALID_RUN_STATE"
            assert writes == before
            await call(client, "cancel_workflow", {"jobId": running})


# --- D31: the async duration ceiling ---------------------------------------------------------


def watched_deadlines(runner) -> int:
    """How many runs the runner's deadline watch still times."""
    return len(runner._deadlines)


async def test_async_duration_ceiling_ends_the_job_duration_exceeded_and_clears_its_timer() -> None:
    # D31: the timer was never cleared and a timeout surfaced as JOB_CANCELLED.
    server = create_mcp_server(
        [hanging_workflow(), greet_workflow()],
        async_mode=True,
        job_db_path=":memory:",
        ceilings=CliCeilings(max_duration_sec=0.2),
        concurrency=ConcurrencyConfig(max_concurrent_jobs=2),
    )
    async with connected(server) as client:
        runner = runner_of(server)
        slow = await start(client, "hang", {"name": "Ann"})
        assert watched_deadlines(runner) == 1  # the in-flight job is being timed
        await runner.wait(slow)
        _, status = await call(client, "get_workflow_status", {"jobId": slow})
        assert status["state"] == "failed"
        failed, result = await call(client, "get_workflow_result", {"jobId": slow})
        assert failed and result["errorCode"] == "DURATION_EXCEEDED"
        assert result["context"]["error"]["name"] == "RunDeadlineExceededError"

        quick = await start(client, "greet", {"name": "Bo"})
        await runner.wait(quick)
        _, status = await call(client, "get_workflow_status", {"jobId": quick})
        assert status["state"] == "done"
        # The finished job's timer went with it; nothing waits for its deadline.
        assert watched_deadlines(runner) == 0


# --- D32 and per-workflow limits in async mode ---------------------------------------------


async def test_server_wide_job_limit_holds_across_workflows_of_one_server() -> None:
    # D32: each workflow had its own controller, so "server-wide" limits were per workflow.
    server = create_mcp_server(
        [greet_workflow("first", checkpoint=True), greet_workflow("second", checkpoint=True)],
        async_mode=True,
        job_db_path=":memory:",
        concurrency=ConcurrencyConfig(max_concurrent_jobs=1),
    )
    async with connected(server) as client:
        first = await start(client, "first", {"name": "Ann"})
        await runner_of(server).wait_for(first, "awaiting-checkpoint")
        failed, busy = await call(client, "start_second", {"name": "Bo"})
        assert failed and busy["errorCode"] == "BUSY"
        assert busy["context"]["scope"] == "server"
        assert busy["context"]["limit"] == 1

        await call(client, "cancel_workflow", {"jobId": first})
        await runner_of(server).wait(first)
        await start(client, "second", {"name": "Bo"})


async def test_max_concurrent_jobs_per_workflow_is_busy_with_workflow_context() -> None:
    server = create_mcp_server(
        [greet_workflow("first", checkpoint=True), greet_workflow("second", checkpoint=True)],
        async_mode=True,
        job_db_path=":memory:",
        concurrency=ConcurrencyConfig(max_concurrent_jobs=2, max_concurrent_jobs_per_workflow=1),
    )
    async with connected(server) as client:
        runner = runner_of(server)
        first = await start(client, "first", {"name": "Ann"})
        await runner.wait_for(first, "awaiting-checkpoint")
        failed, busy = await call(client, "start_first", {"name": "Bo"})
        assert failed and busy["errorCode"] == "BUSY"
        assert busy["context"] == {
            "scope": "workflow",
            "kind": "start",
            "limit": 1,
            "active": 1,
            "workflowName": "first",
        }
        # The other workflow has its own slot under the server limit of two.
        second = await start(client, "second", {"name": "Cy"})
        await runner.wait_for(second, "awaiting-checkpoint")
        failed, busy = await call(client, "start_second", {"name": "Di"})
        assert failed and busy["context"]["workflowName"] == "second"

        # A finished job gives its workflow's slot back.
        await call(client, "resume_workflow", {"jobId": first, "approved": True})
        await runner.wait(first)
        await start(client, "first", {"name": "Ed"})


async def test_workflow_job_limit_is_busy_with_job_kind() -> None:
    server = create_mcp_server(
        [greet_workflow("first", checkpoint=True), greet_workflow("second")],
        async_mode=True,
        job_db_path=":memory:",
        concurrency=ConcurrencyConfig(
            max_concurrent_jobs=3,
            workflows={"first": WorkflowConcurrencyConfig(max_concurrent_jobs=1)},
        ),
    )
    async with connected(server) as client:
        first = await start(client, "first", {"name": "Ann"})
        await runner_of(server).wait_for(first, "awaiting-checkpoint")
        failed, busy = await call(client, "start_first", {"name": "Bo"})
        assert failed and busy["errorCode"] == "BUSY"
        assert busy["context"]["scope"] == "workflow"
        assert busy["context"]["kind"] == "job"
        # The refused start gave its start slot back: the other workflow still starts.
        await start(client, "second", {"name": "Cy"})
        assert server.concurrency.active("start") == 2


def test_spread_per_workflow_limit_keeps_the_workflows_own_limits() -> None:
    config = ConcurrencyConfig(
        max_concurrent_jobs_per_workflow=2,
        per_workflow={"a": 5},
        workflows={"b": WorkflowConcurrencyConfig(max_concurrent_starts=3)},
    )
    spread = spread_per_workflow_limit(config, ["a", "b", "c"])
    assert dict(spread.per_workflow) == {"a": 5, "c": 2}
    with pytest.raises(ValueError, match="maxConcurrentJobsPerWorkflow must be a positive"):
        spread_per_workflow_limit(ConcurrencyConfig(max_concurrent_jobs_per_workflow=0), ["a"])


# --- D35: on_hitl and the workflow's own hook decide async checkpoints ---------------------


async def test_async_checkpoint_rejected_by_on_hitl_fails_and_own_hook_may_approve() -> None:
    # D35: in async mode on_hitl was never called and every checkpoint was rejected.
    asked: list[str] = []

    async def refuse(task_name: str, message: str) -> bool:
        asked.append(task_name)
        return False

    refusing = create_mcp_server(
        greet_workflow(checkpoint=True), async_mode=True, job_db_path=":memory:", on_hitl=refuse
    )
    async with connected(refusing) as client:
        job_id = await start(client, "greet", {"name": "Ann"})
        await runner_of(refusing).wait(job_id)
        _, status = await call(client, "get_workflow_status", {"jobId": job_id})
    assert status["state"] == "failed"
    assert asked == ["shout"]

    approving_hook = greet_workflow(checkpoint=True).with_hooks(
        WorkflowHooks(on_checkpoint=lambda task_name, message: True)
    )
    hooked = create_mcp_server(approving_hook, async_mode=True, job_db_path=":memory:", hitl="fail")
    async with connected(hooked) as client:
        job_id = await start(client, "greet", {"name": "Bo"})
        await runner_of(hooked).wait(job_id)
        failed, result = await call(client, "get_workflow_result", {"jobId": job_id})
    assert not failed and result["output"] == {"greeting": "HELLO, BO!"}


# --- D36 / D20: several workflows, one set of observers over one store ---------------------


async def test_observers_reach_every_workflows_jobs_and_rows_stay_current(tmp_path: Path) -> None:
    # D36: observers were routed to the first workflow only, so cancel/resume of another
    # workflow's job was JOB_NOT_FOUND. D20: per-workflow registries over one shared store
    # held stale copies that could overwrite live rows.
    path = tmp_path / "jobs.sqlite"
    workflows = [
        greet_workflow("first", checkpoint=True),
        greet_workflow("second", checkpoint=True),
    ]
    async with SqliteRunStore(path) as store:
        server = create_mcp_server(
            workflows,
            async_mode=True,
            job_store=store,
            concurrency=ConcurrencyConfig(max_concurrent_jobs=3),
        )
        async with connected(server) as client:
            runner = runner_of(server)
            resumed = await start(client, "second", {"name": "Ann"})
            cancelled = await start(client, "second", {"name": "Bo"})
            other = await start(client, "first", {"name": "Cy"})
            for job_id in (resumed, cancelled, other):
                await runner.wait_for(job_id, "awaiting-checkpoint")
            failed, content = await call(client, "cancel_workflow", {"jobId": cancelled})
            assert not failed and content == {
                "cancelled": True,
                "priorState": "awaiting-checkpoint",
            }
            failed, _ = await call(client, "resume_workflow", {"jobId": resumed, "approved": True})
            assert not failed
            await runner.wait(resumed)
            await call(client, "resume_workflow", {"jobId": other, "approved": False})
            await runner.wait(other)

    # A new server on the file sees each job's final state, as the store holds it.
    again = create_mcp_server(workflows, async_mode=True, job_db_path=path)
    async with connected(again) as client:
        states = {}
        for job_id in (resumed, cancelled, other):
            _, status = await call(client, "get_workflow_status", {"jobId": job_id})
            states[job_id] = status["state"]
        _, result = await call(client, "get_workflow_result", {"jobId": resumed})
    assert states == {resumed: "done", cancelled: "cancelled", other: "failed"}
    assert result["output"] == {"greeting": "HELLO, ANN!"}


# --- D44: mcp=False is refused with the MCP code by the server constructor ------------------


@pytest.mark.parametrize("async_mode", [False, True])
def test_create_mcp_server_refuses_an_opted_out_workflow_with_the_mcp_code(
    async_mode: bool,
) -> None:
    # D44: the constructor raised core's plain error instead of the MCP one.
    opted_out = define_workflow(
        name="private",
        tasks={"t": task(define_function(lambda p: p, input=Person, output=Person))},
        mcp=False,
    )
    with pytest.raises(McpServerError) as caught:
        create_mcp_server([greet_workflow(), opted_out], async_mode=async_mode)
    assert caught.value.code is ErrorCode.WORKFLOW_NOT_MCP_EXPOSABLE
    assert caught.value.context == {"workflowName": "private"}
