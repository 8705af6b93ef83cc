"""Builders for the contract tests, and for a backend's own tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ageflow.learning.models import ExecutionTrace, Feedback, SkillRecord, SkillStatus, TaskTrace

BASE_TIME = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """A fixed time, ``minutes`` after a base time (so orderings are deterministic)."""
    return BASE_TIME + timedelta(minutes=minutes)


def make_skill(**fields: Any) -> SkillRecord:
    values: dict[str, Any] = {
        "name": "be-precise",
        "content": "Answer with exact figures.",
        "agent": "writer",
        "status": SkillStatus.ACTIVE,
        "created_at": at(0),
    }
    values.update(fields)
    return SkillRecord(**values)


def make_task_trace(**fields: Any) -> TaskTrace:
    values: dict[str, Any] = {
        "task_name": "write",
        "agent_runner": "scripted",
        "prompt": "Write a summary.",
        "output": '{"text": "ok"}',
        "parsed_output": {"text": "ok"},
        "success": True,
    }
    values.update(fields)
    return TaskTrace(**values)


def make_trace(**fields: Any) -> ExecutionTrace:
    values: dict[str, Any] = {
        "workflow_name": "report",
        "run_at": at(0),
        "success": True,
        "task_traces": (make_task_trace(),),
    }
    values.update(fields)
    return ExecutionTrace(**values)


def rich_trace(**fields: Any) -> ExecutionTrace:
    """A trace with every field set, nested values and non-ASCII text included."""
    values: dict[str, Any] = {
        "workflow_name": "report",
        "run_at": datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
        "success": False,
        "total_duration_ms": 1234.5,
        "task_traces": (
            make_task_trace(
                task_name="research",
                prompt="Find the facts — all of them: «ünïcode»",
                skills_applied=("s-1", "s-2"),
                tokens_in=120,
                tokens_out=45,
                duration_ms=800.25,
                retry_count=2,
                spawn_args={"prompt": "p", "tools": ["read", "grep"]},
                spawn_result={"stdout": "x", "tokens": {"in": 120}},
            ),
            make_task_trace(task_name="write", success=False, parsed_output=None),
        ),
        "workflow_input": {"topic": "q3", "depth": [1, 2, {"deep": None}]},
        "workflow_output": ["a", 1, 2.5, True],
        "feedback": (Feedback(rating="mixed", source="ci", comment="flaky", at=at(5)),),
        "dependencies": {"research": (), "write": ("research",)},
    }
    values.update(fields)
    return ExecutionTrace(**values)
