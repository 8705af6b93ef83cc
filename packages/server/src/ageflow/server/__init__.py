"""ageflow.server: an embeddable runner with durable, resumable runs."""

from ageflow.core.events import RunHandle, RunState
from ageflow.executor import HitlRejectedError
from ageflow.server.errors import (
    CheckpointTimeoutError,
    InvalidRunStateError,
    RunDeadlineExceededError,
    RunNotFoundError,
    RunOwnedElsewhereError,
    RunOwnershipLostError,
    RunStoreError,
    StoreClosedError,
    TurnsExceededError,
    UnknownWorkflowError,
)
from ageflow.server.gc_tuning import tune_gc_for_serving
from ageflow.server.memory_store import InMemoryRunStore
from ageflow.server.records import (
    UNFINISHED_STATES,
    CheckpointDecision,
    CheckpointPolicy,
    RunPolicy,
    RunRecord,
)
from ageflow.server.runner import (
    RunnerConfig,
    RunStream,
    WorkflowRunner,
    create_runner,
    generate_run_id,
)
from ageflow.server.store import RunStore, StoredInput

__all__ = [
    "UNFINISHED_STATES",
    "CheckpointDecision",
    "CheckpointPolicy",
    "CheckpointTimeoutError",
    "HitlRejectedError",
    "InMemoryRunStore",
    "InvalidRunStateError",
    "RunDeadlineExceededError",
    "RunHandle",
    "RunNotFoundError",
    "RunOwnedElsewhereError",
    "RunOwnershipLostError",
    "RunPolicy",
    "RunRecord",
    "RunState",
    "RunStore",
    "RunStoreError",
    "RunStream",
    "RunnerConfig",
    "StoreClosedError",
    "StoredInput",
    "TurnsExceededError",
    "UnknownWorkflowError",
    "WorkflowRunner",
    "create_runner",
    "generate_run_id",
    "tune_gc_for_serving",
]
