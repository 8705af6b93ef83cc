"""ageflow-learning: the typed core of the self-improving skill layer.

Traces of runs, feedback on them and versioned skills for agents; the store protocols;
the scoring, rollback and reflection rules; the DAG helper for credit assignment;
executor hooks that trace runs and inject skills; the reflection, evaluation and
promotion workflows; and in-memory stores for tests.
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
from ageflow.learning.evaluation import (
    EvaluationResult,
    EvaluationSummary,
    evaluation_workflow,
    run_evaluation,
)
from ageflow.learning.feedback import record_feedback
from ageflow.learning.hooks import (
    Reflect,
    learning_hooks,
    pick_skill,
    skill_prompt,
    with_learning,
)
from ageflow.learning.memory import InMemorySkillStore, InMemoryTraceStore
from ageflow.learning.models import (
    ExecutionTrace,
    Feedback,
    SkillRecord,
    SkillStatus,
    TaskTrace,
    TraceFilter,
)
from ageflow.learning.outcome import task_outcome
from ageflow.learning.promotion import (
    PromotionAction,
    PromotionSummary,
    promotion_workflow,
    run_promotion,
)
from ageflow.learning.reflection import (
    ReflectionInput,
    ReflectionSummary,
    build_reflection_input,
    reflection_summary,
    reflection_workflow,
    run_reflection,
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
    "EvaluationResult",
    "EvaluationSummary",
    "ExecutionTrace",
    "Feedback",
    "InMemorySkillStore",
    "InMemoryTraceStore",
    "LearningConfig",
    "LearningStoreError",
    "LearningThresholds",
    "PromotionAction",
    "PromotionSummary",
    "Reflect",
    "ReflectEvery",
    "ReflectionInput",
    "ReflectionSummary",
    "SkillRecord",
    "SkillStatus",
    "SkillStore",
    "TaskTrace",
    "TraceFilter",
    "TraceStore",
    "UnknownSkillError",
    "UnknownTraceError",
    "build_reflection_input",
    "dependency_map",
    "downstream_of",
    "downstream_tasks",
    "evaluation_workflow",
    "feedback_signal",
    "learning_hooks",
    "needs_rewrite",
    "pick_skill",
    "promotion_workflow",
    "record_feedback",
    "reflection_summary",
    "reflection_workflow",
    "run_evaluation",
    "run_promotion",
    "run_reflection",
    "should_reflect",
    "should_rollback",
    "skill_prompt",
    "task_outcome",
    "update_score",
    "with_learning",
]
