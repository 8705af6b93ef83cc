"""ageflow-learning: the typed core of the self-improving skill layer.

Traces of runs, feedback on them and versioned skills for agents; the store protocols;
the scoring, rollback and reflection rules; the DAG helper for credit assignment; and
in-memory stores for tests.
"""

from __future__ import annotations

from ageflow.learning.config import (
    DEFAULT_CONFIG,
    DEFAULT_THRESHOLDS,
    LearningConfig,
    LearningThresholds,
    ReflectEvery,
)
from ageflow.learning.dag import dependency_map, downstream_of, downstream_tasks
from ageflow.learning.memory import InMemorySkillStore, InMemoryTraceStore
from ageflow.learning.models import (
    ExecutionTrace,
    Feedback,
    SkillRecord,
    SkillStatus,
    TaskTrace,
    TraceFilter,
)
from ageflow.learning.scoring import (
    feedback_signal,
    needs_rewrite,
    should_reflect,
    should_rollback,
    update_score,
)
from ageflow.learning.stores import (
    LearningStoreError,
    SkillStore,
    TraceStore,
    UnknownSkillError,
    UnknownTraceError,
)

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_THRESHOLDS",
    "ExecutionTrace",
    "Feedback",
    "InMemorySkillStore",
    "InMemoryTraceStore",
    "LearningConfig",
    "LearningStoreError",
    "LearningThresholds",
    "ReflectEvery",
    "SkillRecord",
    "SkillStatus",
    "SkillStore",
    "TaskTrace",
    "TraceFilter",
    "TraceStore",
    "UnknownSkillError",
    "UnknownTraceError",
    "dependency_map",
    "downstream_of",
    "downstream_tasks",
    "feedback_signal",
    "needs_rewrite",
    "should_reflect",
    "should_rollback",
    "update_score",
]
