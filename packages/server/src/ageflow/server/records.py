"""What a run store keeps about each run, in its wire (JSON) form."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ageflow.core.events import CheckpointEvent, ErrorInfo, RunHandle, RunState
from ageflow.core.metrics import WorkflowResult
from ageflow.core.wire import WireModel

UNFINISHED_STATES: frozenset[str] = frozenset({"running", "awaiting-checkpoint"})

CheckpointPolicy = Literal["pause", "approve", "reject"]


class RunPolicy(WireModel):
    """The options a run needs to continue exactly as it started, after any restart.

    ``checkpoint`` says what a checkpoint does when no live caller decides: ``pause``
    (wait for ``resume``), ``approve`` or ``reject``. Ceilings: ``max_cost_usd`` (a halt
    budget), ``deadline_at`` (epoch ms after which the run fails), ``max_turns`` (agent
    attempts). ``extra`` belongs to layers above the runner (the MCP server keeps its
    own settings there) and is stored as it is.
    """

    checkpoint: CheckpointPolicy = "pause"
    max_cost_usd: float | None = None
    deadline_at: int | None = None
    max_turns: int | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class CheckpointDecision(WireModel):
    """An answer to a checkpoint, persisted before the run acts on it."""

    step_key: str
    approved: bool
    decided_at: int


class RunRecord(WireModel):
    """One run's stored state. The input is stored apart, written once at creation.

    ``owner`` and ``lease_until`` are read-only here: stores change them only through
    ``claim_run``, ``renew_leases`` and ``release_runs``.
    """

    run_id: str
    workflow_name: str
    state: RunState
    created_at: int
    last_event_at: int
    pending_checkpoint: CheckpointEvent | None = None
    decision: CheckpointDecision | None = None
    result: WorkflowResult | None = None
    error: ErrorInfo | None = None
    progress: dict[str, Any] = Field(default_factory=dict)
    policy: RunPolicy = Field(default_factory=RunPolicy)
    owner: str | None = None
    lease_until: int | None = None

    @property
    def finished(self) -> bool:
        return self.state not in UNFINISHED_STATES

    def to_handle(self) -> RunHandle:
        """The public snapshot: at most one of pending checkpoint, result, error."""
        handle = RunHandle(
            run_id=self.run_id,
            state=self.state,
            workflow_name=self.workflow_name,
            created_at=self.created_at,
            last_event_at=self.last_event_at,
        )
        if self.state == "awaiting-checkpoint" and self.pending_checkpoint is not None:
            return handle.model_copy(update={"pending_checkpoint": self.pending_checkpoint})
        if self.result is not None:
            return handle.model_copy(update={"result": self.result})
        if self.error is not None:
            return handle.model_copy(
                update={"error": self.error.model_copy(update={"stack": None})}
            )
        return handle

    def to_json(self) -> str:
        """The record as stored (owner and lease live in their own columns)."""
        return self.model_dump_json(by_alias=True, exclude={"owner", "lease_until"})

    @classmethod
    def from_json(
        cls, payload: str | bytes, *, owner: str | None = None, lease_until: int | None = None
    ) -> RunRecord:
        record = cls.model_validate_json(payload)
        return record.model_copy(update={"owner": owner, "lease_until": lease_until})
