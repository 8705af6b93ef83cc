"""Delayed feedback: store it on the run, and let it move the scores of the skills used."""

from __future__ import annotations

from ageflow.learning.config import DEFAULT_CONFIG, LearningConfig
from ageflow.learning.models import ExecutionTrace, Feedback
from ageflow.learning.scoring import feedback_signal, update_score
from ageflow.learning.stores import SkillStore, TraceStore

__all__ = ["record_feedback"]


async def record_feedback(
    *,
    trace_store: TraceStore,
    skill_store: SkillStore,
    trace_id: str,
    feedback: Feedback,
    config: LearningConfig = DEFAULT_CONFIG,
) -> ExecutionTrace:
    """Append ``feedback`` to the trace and score every skill the run applied on it, with
    the delayed-feedback weight (``feedback_alpha``). Returns the updated trace;
    UnknownTraceError for an unknown id. A skill deleted since the run is skipped."""
    trace = await trace_store.add_feedback(trace_id, feedback)
    applied = dict.fromkeys(s for t in trace.task_traces for s in t.skills_applied)
    signal = feedback_signal(feedback)
    for skill_id in applied:
        skill = await skill_store.get(skill_id)
        if skill is None:
            continue
        score = update_score(
            skill.score, signal, delayed_feedback=True, thresholds=config.thresholds
        )
        await skill_store.save(skill.model_copy(update={"score": score}))
    return trace
