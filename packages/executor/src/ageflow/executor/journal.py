"""Steps: what a finished task leaves behind so a later process can restore it.

A run journal maps step keys to steps. A step key is deterministic: the task's name at
the top level, ``loop[2]/task`` for a task in iteration 2 of a loop (nested loops chain).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic_core import to_json

from ageflow.core.metrics import TaskMetrics
from ageflow.core.schemas import schema_adapter

StepSource = Literal["agent", "function"]


@dataclass(frozen=True)
class StepRecord:
    """A completed agent or function task, in JSON-ready form.

    ``output`` is the validated output dumped to JSON types; restoring validates it again
    against the task's output schema, so a model comes back as a model.
    """

    step_key: str
    task_name: str
    source: StepSource
    output: Any
    metrics: TaskMetrics
    session_token: str | None = None
    session_handle: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "stepKey": self.step_key,
            "taskName": self.task_name,
            "source": self.source,
            "output": self.output,
            # A plain dump (not to_wire): this runs once per step on the durable hot path.
            "metrics": self.metrics.model_dump(mode="json", by_alias=True),
            "sessionToken": self.session_token,
            "sessionHandle": self.session_handle,
        }

    def to_json_text(self) -> str:
        """The step as JSON text, as stores keep it (pydantic's encoder: fast on hot paths)."""
        return to_json(self.to_json()).decode()

    @classmethod
    def from_json_text(cls, text: str | bytes) -> StepRecord:
        return cls.from_json(json.loads(text))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRecord:
        return cls(
            step_key=data["stepKey"],
            task_name=data["taskName"],
            source=data["source"],
            output=data.get("output"),
            metrics=TaskMetrics.model_validate(data.get("metrics") or {}),
            session_token=data.get("sessionToken"),
            session_handle=data.get("sessionHandle"),
        )


Journal = Mapping[str, StepRecord]
OnStepComplete = Callable[[StepRecord], Awaitable[None]]
OnStepsComplete = Callable[[list[StepRecord]], Awaitable[None]]
# Takes the steps that end a run, to be stored with the run's final state (not awaited).
OnLastSteps = Callable[[list[StepRecord]], None]


def step_key(prefix: str, task_name: str) -> str:
    """The key of ``task_name`` inside the task map whose keys start with ``prefix``."""
    return f"{prefix}{task_name}"


def loop_iteration_prefix(loop_key: str, iteration: int) -> str:
    """The prefix of the step keys of one loop iteration."""
    return f"{loop_key}[{iteration}]/"


def dump_output(schema: Any, output: Any) -> Any:
    """A validated output in JSON types, for the journal."""
    return schema_adapter(schema).dump_python(output, mode="json")


def load_output(schema: Any, data: Any) -> Any:
    """A journaled output validated back into the schema's Python type."""
    return schema_adapter(schema).validate_python(data)
