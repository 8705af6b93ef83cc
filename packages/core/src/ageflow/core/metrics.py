"""Cost and timing figures of tasks and runs."""

from __future__ import annotations

from typing import Any

from ageflow.core.wire import WireModel


class TaskMetrics(WireModel):
    """One task's figures. ``retries`` is the 0-based index of the successful attempt."""

    tokens_in: int = 0
    tokens_out: int = 0
    latency_ms: float = 0
    retries: int = 0
    estimated_cost: float = 0.0
    prompt_sent: str | None = None


class WorkflowMetrics(WireModel):
    """A run's totals over its top-level tasks (``task_count`` counts agents and functions)."""

    total_latency_ms: float = 0
    total_tokens_in: int = 0
    total_tokens_out: int = 0
    total_estimated_cost: float = 0.0
    task_count: int = 0


class WorkflowResult(WireModel):
    """A finished run: each top-level task's output by name (skipped tasks map to None)."""

    outputs: dict[str, Any]
    metrics: WorkflowMetrics
