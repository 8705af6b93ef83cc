"""The records the skill layer keeps: feedback, task and execution traces, skills.

All are frozen pydantic models. Times must carry a timezone and are kept in UTC, so that
every store orders them the same way.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Feedback(_Record):
    """A judgement of one run, given after it ended (by a person, CI or monitoring)."""

    rating: Literal["positive", "negative", "mixed"]
    source: Literal["human", "ci", "monitoring"]
    comment: str | None = None
    at: UtcDatetime = Field(default_factory=utc_now)


class TaskTrace(_Record):
    """What one task of a run was asked, what it answered, and what that cost."""

    task_name: str
    agent_runner: str
    prompt: str
    output: str
    parsed_output: Any = None
    success: bool
    skills_applied: tuple[str, ...] = ()
    tokens_in: int = Field(default=0, ge=0)
    tokens_out: int = Field(default=0, ge=0)
    duration_ms: float = Field(default=0, ge=0)
    retry_count: int = Field(default=0, ge=0)
    # The runner's spawn arguments and result, when the executor hooks captured them.
    spawn_args: dict[str, Any] | None = None
    spawn_result: dict[str, Any] | None = None


class ExecutionTrace(_Record):
    """One run of a workflow: its tasks' traces, input, output and later feedback."""

    id: str = Field(default_factory=new_id)
    workflow_name: str
    run_at: UtcDatetime = Field(default_factory=utc_now)
    success: bool
    total_duration_ms: float = Field(default=0, ge=0)
    task_traces: tuple[TaskTrace, ...] = ()
    workflow_input: Any = None
    workflow_output: Any = None
    feedback: tuple[Feedback, ...] = ()
    # The workflow's DAG (task: the tasks it depends on), when the learning hooks recorded
    # it, so credit assignment can follow it without being handed the workflow again.
    dependencies: dict[str, tuple[str, ...]] | None = None


class SkillStatus(StrEnum):
    """Where a skill is in its life.

    A draft comes out of reflection; a candidate passed evaluation and waits for
    promotion; an active skill is injected into prompts; a retired one was replaced; a
    rolled-back one was withdrawn because it scored worse than its lineage's best.
    """

    DRAFT = "draft"
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"
    ROLLED_BACK = "rolled-back"


class SkillRecord(_Record):
    """One version of an instruction for an agent.

    Versions of one skill form a lineage: each new version names the one it was derived
    from in ``parent_id``. ``score`` is the quality estimate (0..1) kept by the scoring
    rule; ``run_count`` is how many runs it was scored on.
    """

    id: str = Field(default_factory=new_id)
    name: str
    description: str = ""
    content: str
    agent: str
    workflow: str | None = None
    version: int = Field(default=0, ge=0)
    parent_id: str | None = None
    status: SkillStatus = SkillStatus.DRAFT
    score: float = Field(default=0.5, ge=0, le=1)
    run_count: int = Field(default=0, ge=0)
    best_in_lineage: bool = True
    created_at: UtcDatetime = Field(default_factory=utc_now)


class TraceFilter(_Record):
    """Which traces to list; unset fields do not filter. Listings are newest first."""

    workflow_name: str | None = None
    since: UtcDatetime | None = None
    has_feedback: bool | None = None
    limit: int | None = Field(default=None, ge=0)
