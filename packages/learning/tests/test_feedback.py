"""Delayed feedback is stored on the run and moves the scores of the skills it applied."""

from __future__ import annotations

import pytest

from ageflow.learning import (
    Feedback,
    InMemorySkillStore,
    InMemoryTraceStore,
    LearningConfig,
    LearningThresholds,
    UnknownTraceError,
    record_feedback,
    update_score,
)
from ageflow.learning.testing import make_skill, make_task_trace, make_trace

pytestmark = pytest.mark.anyio


async def test_feedback_scores_the_applied_skills_with_the_delayed_weight() -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    used = make_skill(name="used", score=0.8)
    unused = make_skill(name="unused", score=0.8)
    gone = make_skill(name="gone")
    for skill in (used, unused):
        await skills.save(skill)
    trace = make_trace(
        task_traces=(
            make_task_trace(task_name="write", skills_applied=(used.id, gone.id)),
            make_task_trace(task_name="check", skills_applied=(used.id,)),
        )
    )
    await traces.save_trace(trace)

    rated = await record_feedback(
        trace_store=traces,
        skill_store=skills,
        trace_id=trace.id,
        feedback=Feedback(rating="negative", source="ci", comment="broke the build"),
    )

    assert [f.comment for f in rated.feedback] == ["broke the build"]
    assert (await traces.get_trace(trace.id)).feedback == rated.feedback  # type: ignore[union-attr]
    # Applied twice in the run, scored once: 0.5 * 0 + 0.5 * 0.8.
    expected = update_score(0.8, 0.0, delayed_feedback=True)
    assert expected == pytest.approx(0.4)
    assert (await skills.get(used.id)).score == pytest.approx(expected)  # type: ignore[union-attr]
    assert (await skills.get(unused.id)).score == 0.8  # type: ignore[union-attr]

    heavy = LearningConfig(thresholds=LearningThresholds(feedback_alpha=1.0))
    await record_feedback(
        trace_store=traces,
        skill_store=skills,
        trace_id=trace.id,
        feedback=Feedback(rating="positive", source="human"),
        config=heavy,
    )
    assert (await skills.get(used.id)).score == 1.0  # type: ignore[union-attr]


async def test_feedback_on_an_unknown_run() -> None:
    with pytest.raises(UnknownTraceError, match="no trace with id 'nope'"):
        await record_feedback(
            trace_store=InMemoryTraceStore(),
            skill_store=InMemorySkillStore(),
            trace_id="nope",
            feedback=Feedback(rating="mixed", source="monitoring"),
        )
