"""ageflow.server: an embeddable runner with durable, resumable runs."""

from ageflow.server.errors import (
    CheckpointTimeoutError,
    InvalidRunStateError,
    RunNotFoundError,
    RunOwnershipLostError,
    RunStoreError,
    StoreClosedError,
    UnknownWorkflowError,
)
from ageflow.server.memory_store import InMemoryRunStore
from ageflow.server.records import (
    UNFINISHED_STATES,
    CheckpointDecision,
    CheckpointPolicy,
    RunPolicy,
    RunRecord,
)
from ageflow.server.store import RunStore, StoredInput

__all__ = [
    "UNFINISHED_STATES",
    "CheckpointDecision",
    "CheckpointPolicy",
    "CheckpointTimeoutError",
    "InMemoryRunStore",
    "InvalidRunStateError",
    "RunNotFoundError",
    "RunOwnershipLostError",
    "RunPolicy",
    "RunRecord",
    "RunStore",
    "RunStoreError",
    "StoreClosedError",
    "StoredInput",
    "UnknownWorkflowError",
]
