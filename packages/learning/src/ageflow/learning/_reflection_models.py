"""The models reflection reads, passes between its tasks and returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ageflow.learning.models import ExecutionTrace, SkillRecord


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReflectionInput(_Model):
    """Everything one reflection reads, gathered before it starts (its durable input)."""

    workflow_name: str
    trace: ExecutionTrace
    history: list[ExecutionTrace] = Field(default_factory=list)
    held_out: list[ExecutionTrace] = Field(default_factory=list)
    dependencies: dict[str, list[str]] = Field(default_factory=dict)
    skills: list[SkillRecord] = Field(default_factory=list)
    threshold: float = Field(ge=0, le=1)
    strategy: Literal["autonomous", "hitl"] = "autonomous"


class TaskEvidence(_Model):
    task: str
    is_agent: bool
    runs: int
    failures: int
    downstream: list[str]
    downstream_failures: list[str]


class Evidence(_Model):
    tasks: list[TaskEvidence]
    judged_negative: bool


class TaskCredit(_Model):
    score: float = Field(ge=0, le=1)
    credit_weight: float = Field(default=0, ge=0, le=1)
    diagnosis: str = ""
    improvement_hint: str = ""


class CreditResult(_Model):
    """The credit agent's answer."""

    workflow_score: float = Field(ge=0, le=1)
    task_scores: dict[str, TaskCredit]
    insight: str | None = None


class CreditRequest(_Model):
    input: ReflectionInput
    evidence: Evidence


class BlamedTask(_Model):
    task: str
    score: float
    diagnosis: str
    improvement_hint: str
    downstream_failures: list[str]


class Blame(_Model):
    blamed: list[BlamedTask]
    # Tasks the credit agent scored low that no failure can be traced to.
    dropped: list[str]


class BlameRequest(_Model):
    evidence: Evidence
    credit: CreditResult
    threshold: float


class DraftRequest(_Model):
    input: ReflectionInput
    blame: Blame


class SkillDraft(_Model):
    agent: str
    name: str
    description: str = ""
    content: str


class SkillDrafts(_Model):
    """The drafting agent's answer."""

    skills: list[SkillDraft]


class SaveRequest(_Model):
    input: ReflectionInput
    blame: Blame
    drafts: SkillDrafts | None


class Saved(_Model):
    skill_ids: list[str]
    created: int
    updated: int
    ignored: list[str]


class ReflectionSummary(_Model):
    """What a reflection found and wrote."""

    trace_id: str
    workflow_name: str
    workflow_score: float
    task_scores: dict[str, float]
    blamed: list[str]
    dropped: list[str]
    skill_ids: list[str]
    skills_created: int
    skills_updated: int
