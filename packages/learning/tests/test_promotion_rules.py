"""Promotion and evaluation on stores set up by hand: each rule on its own."""

from __future__ import annotations

import pytest

from ageflow.learning import (
    DEFAULT_THRESHOLDS,
    InMemorySkillStore,
    InMemoryTraceStore,
    LearningConfig,
    LearningThresholds,
    SkillStatus,
    run_evaluation,
    run_promotion,
    should_rollback,
)
from ageflow.learning.testing import at, make_skill, make_task_trace, make_trace

pytestmark = pytest.mark.anyio


async def test_an_active_skill_far_below_its_lineage_best_is_rolled_back() -> None:
    store = InMemorySkillStore()
    best = make_skill(name="v1", score=0.9, status=SkillStatus.RETIRED, version=1)
    worse = make_skill(name="v2", score=0.6, run_count=4, version=2, parent_id=best.id)
    await store.save(best)
    await store.save(worse)
    assert should_rollback(worse.score, best.score, worse.run_count)

    summary = await run_promotion(skill_store=store)

    (action,) = summary.actions
    assert (action.kind, action.retired_skill_id, action.activated_skill_id) == (
        "rollback",
        worse.id,
        best.id,
    )
    assert "0.600" in action.reason and "0.900" in action.reason
    assert (summary.skills_checked, summary.rollbacks, summary.noops) == (1, 1, 0)
    assert (await store.get(worse.id)).status is SkillStatus.ROLLED_BACK  # type: ignore[union-attr]
    assert (await store.get(best.id)).status is SkillStatus.ACTIVE  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("score", "runs", "rolled_back"),
    [
        (0.6, 2, False),  # too few runs to judge
        (0.76, 4, False),  # within the margin (0.9 - 0.15 = 0.75)
        (0.74, 3, True),  # just past it, on enough runs
    ],
)
async def test_the_rollback_rule_decides(score: float, runs: int, rolled_back: bool) -> None:
    store = InMemorySkillStore()
    best = make_skill(name="v1", score=0.9, status=SkillStatus.RETIRED)
    current = make_skill(name="v2", score=score, run_count=runs, version=1, parent_id=best.id)
    await store.save(best)
    await store.save(current)
    summary = await run_promotion(skill_store=store)
    assert summary.rollbacks == int(rolled_back)
    assert summary.noops == int(not rolled_back)
    status = (await store.get(current.id)).status  # type: ignore[union-attr]
    assert status is (SkillStatus.ROLLED_BACK if rolled_back else SkillStatus.ACTIVE)


async def test_thresholds_come_from_the_config() -> None:
    store = InMemorySkillStore()
    best = make_skill(name="v1", score=0.9, status=SkillStatus.RETIRED)
    current = make_skill(name="v2", score=0.6, run_count=4, version=1, parent_id=best.id)
    await store.save(best)
    await store.save(current)
    lenient = LearningConfig(thresholds=LearningThresholds(rollback_margin=0.5))
    assert (await run_promotion(skill_store=store, config=lenient)).rollbacks == 0
    assert (await run_promotion(skill_store=store)).rollbacks == 1


async def test_a_proven_candidate_replaces_the_active_skill_one_on_trial_waits() -> None:
    store = InMemorySkillStore()
    old = make_skill(name="v1", agent="research", workflow="report", score=0.75)
    proven = make_skill(
        name="v2",
        agent="research",
        workflow="report",
        status=SkillStatus.CANDIDATE,
        score=0.8,
        run_count=DEFAULT_THRESHOLDS.min_runs_before_rollback,
        version=1,
        parent_id=old.id,
    )
    on_trial = make_skill(
        name="w1", agent="write", status=SkillStatus.CANDIDATE, score=0.9, run_count=1
    )
    for skill in (old, proven, on_trial):
        await store.save(skill)

    summary = await run_promotion(skill_store=store)

    assert [(a.kind, a.activated_skill_id, a.retired_skill_id) for a in summary.actions] == [
        ("promote", proven.id, old.id)
    ]
    assert (summary.skills_checked, summary.noops) == (3, 2)
    assert (await store.get(old.id)).status is SkillStatus.RETIRED  # type: ignore[union-attr]
    active = await store.active_for("research", "report")
    assert active is not None and active.id == proven.id
    assert (await store.get(on_trial.id)).status is SkillStatus.CANDIDATE  # type: ignore[union-attr]


async def test_a_candidate_below_the_reflection_threshold_is_withdrawn() -> None:
    store = InMemorySkillStore()
    weak = make_skill(status=SkillStatus.CANDIDATE, score=0.65, run_count=5)
    await store.save(weak)
    (action,) = (await run_promotion(skill_store=store)).actions
    assert (action.kind, action.retired_skill_id, action.activated_skill_id) == (
        "rollback",
        weak.id,
        None,
    )
    assert (await store.get(weak.id)).status is SkillStatus.ROLLED_BACK  # type: ignore[union-attr]


async def test_evaluation_judges_a_task_over_what_its_output_reached() -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    skill = make_skill(agent="research", workflow="report", score=0.5)
    other = make_skill(name="idle", agent="nobody", workflow="report", score=0.5)
    await skills.save(skill)
    await skills.save(other)

    for minute, applied, write_ok in [(1, False, False), (2, False, True), (3, True, True)]:
        await traces.save_trace(
            make_trace(
                run_at=at(minute),
                success=write_ok,
                task_traces=(
                    make_task_trace(
                        task_name="research", skills_applied=(skill.id,) if applied else ()
                    ),
                    make_task_trace(task_name="write", success=write_ok),
                ),
            )
        )
    dag = {"report": {"research": [], "write": ["research"]}}

    summary = await run_evaluation(skill_store=skills, trace_store=traces, dag=dag)

    by_id = {r.skill_id: r for r in summary.results}
    assert summary.skills_evaluated == 2
    judged = by_id[skill.id]
    # With the skill: 1.0. Without it: write failed once below research, 0.5 and 1.0.
    assert judged.mean_score_delta == pytest.approx(0.25)
    assert judged.improved_fraction == 1.0 and (judged.runs_with, judged.runs_without) == (1, 2)
    assert judged.score_after == pytest.approx(0.5 + 0.5 * 0.25)
    assert (await skills.get(skill.id)).score == pytest.approx(0.625)  # type: ignore[union-attr]
    # An agent that never ran has nothing to compare: unchanged.
    assert (by_id[other.id].mean_score_delta, by_id[other.id].improved_fraction) == (0.0, 0.0)

    # Without the DAG, research is judged on itself alone: it never failed, no difference.
    skills2 = InMemorySkillStore()
    await skills2.save(skill)
    flat = await run_evaluation(skill_store=skills2, trace_store=traces)
    assert flat.results[0].mean_score_delta == 0.0

    # Traces that carry their DAG (the hooks record it) are judged on it without ``dag``.
    recorded = InMemoryTraceStore()
    for trace in await traces.traces():
        await recorded.save_trace(trace.model_copy(update={"dependencies": dag["report"]}))
    skills3 = InMemorySkillStore()
    await skills3.save(skill)
    own = await run_evaluation(skill_store=skills3, trace_store=recorded)
    assert own.results[0].mean_score_delta == pytest.approx(0.25)


async def test_drafts_and_retired_skills_are_not_evaluated() -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    for status in (SkillStatus.DRAFT, SkillStatus.RETIRED, SkillStatus.ROLLED_BACK):
        await skills.save(make_skill(status=status))
    summary = await run_evaluation(skill_store=skills, trace_store=traces)
    assert (summary.skills_evaluated, summary.results) == (0, [])
