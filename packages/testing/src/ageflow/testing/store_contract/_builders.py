"""Records and steps for the contract tests: plain ones, and one using every field."""

from __future__ import annotations

from typing import Any

from ageflow.core.events import CheckpointEvent, ErrorInfo, RunState
from ageflow.core.metrics import TaskMetrics, WorkflowMetrics, WorkflowResult
from ageflow.executor.journal import StepRecord
from ageflow.server import CheckpointDecision, RunPolicy, RunRecord, RunStore


def make_record(
    run_id: str,
    *,
    workflow: str = "wf",
    state: RunState = "running",
    created_at: int = 1_000,
    last_event_at: int | None = None,
    **fields: Any,
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        workflow_name=workflow,
        state=state,
        created_at=created_at,
        last_event_at=created_at if last_event_at is None else last_event_at,
        **fields,
    )


def rich_record(run_id: str = "rich") -> RunRecord:
    """A record using every field, with nested models and JSON outputs."""
    return make_record(
        run_id,
        state="awaiting-checkpoint",
        created_at=10,
        last_event_at=20,
        pending_checkpoint=CheckpointEvent(
            run_id=run_id,
            workflow_name="wf",
            timestamp=15,
            task_name="approve",
            step_key="loop[1]/approve",
            message="Ship it?",
        ),
        decision=CheckpointDecision(step_key="loop[0]/approve", approved=True, decided_at=12),
        result=WorkflowResult(
            outputs={"classify": {"label": "bug", "urgent": True}, "count": 3, "skipped": None},
            metrics=WorkflowMetrics(total_tokens_in=12, total_estimated_cost=0.25, task_count=2),
        ),
        error=ErrorInfo(name="BoomError", message="boom \u2603", code="boom", stack="trace"),
        progress={"done": 2, "of": 5, "notes": ["a", {"b": None}]},
        policy=RunPolicy(
            checkpoint="approve",
            max_cost_usd=1.5,
            deadline_at=99_999,
            max_turns=3,
            extra={"hitl": "elicit", "ttl": {"ms": 1000}},
        ),
        owner="proc-a",
        lease_until=5_000,
    )


def make_step(key: str, output: Any = None, *, task_name: str | None = None) -> StepRecord:
    return StepRecord(
        step_key=key,
        task_name=task_name or key.rsplit("/", 1)[-1],
        source="function",
        output={"value": key} if output is None else output,
        metrics=TaskMetrics(latency_ms=1.5, tokens_in=3),
    )


async def stored(store: RunStore, run_id: str) -> RunRecord:
    """The stored record of a run the test knows exists."""
    record = await store.get_run(run_id)
    assert record is not None, f"run {run_id!r} is not in the store"
    return record
