"""The whole loop on the report workflow: runs are traced, feedback is given, reflection
drafts a skill for the agent upstream of the failure, the skill is tried, evaluated and
promoted, and the agent's next prompt carries it; a worse version is rolled back."""

from __future__ import annotations

from typing import Any

import pytest

from ageflow.core import NodeMaxRetriesError, RunnerRegistry
from ageflow.core.workflow import WorkflowDef
from ageflow.executor import WorkflowExecutor
from ageflow.learning import (
    Feedback,
    InMemorySkillStore,
    InMemoryTraceStore,
    SkillStatus,
    TraceFilter,
    run_evaluation,
    run_promotion,
    run_reflection,
    with_learning,
)
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio

CITE_SKILL = "Cite every source you used, by its id."
TERSE_SKILL = "Keep your notes short."


def credit(research_score: float) -> dict[str, Any]:
    return {
        "workflow_score": 0.4,
        "task_scores": {
            "research": {"score": research_score, "diagnosis": "no sources listed"},
            "write": {"score": 0.9, "diagnosis": "cited what it had"},
        },
    }


def drafts(name: str, content: str) -> dict[str, Any]:
    return {"skills": [{"agent": "research", "name": name, "content": content}]}


async def test_a_learned_skill_is_promoted_injected_and_a_worse_one_rolled_back(
    report: WorkflowDef,
    registry: RunnerRegistry,
    runner: ScriptedRunner,
    llm: Any,
    report_dag: Any,
) -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    learning = with_learning(report, skill_store=skills, trace_store=traces)

    async def run(topic: str) -> bool:
        try:
            await WorkflowExecutor(learning, registry=registry).run({"topic": topic})
        except NodeMaxRetriesError:
            return False
        return True

    def research_prompt() -> str:
        return runner.calls_for("research")[-1].system_prompt or ""

    # 1. Three runs fail at publish: research lists no sources. One gets feedback.
    assert [await run(t) for t in ("a", "b", "c")] == [False, False, False]
    first = await traces.traces()
    assert len(first) == 3
    await traces.add_feedback(first[-1].id, Feedback(rating="negative", source="ci"))

    # 2. Reflection blames research, upstream of the failure, and drafts a candidate.
    llm.credit, llm.drafts = credit(0.2), drafts("cite-sources", CITE_SKILL)
    reflected = await run_reflection(
        skill_store=skills, trace_store=traces, runner="fake", registry=registry, dag=report_dag
    )
    assert reflected.blamed == ["research"]
    (cite_id,) = reflected.skill_ids

    # 3. The candidate is on trial for three runs: it is in research's prompt, and they pass.
    for topic in ("d", "e", "f"):
        assert await run(topic)
        assert CITE_SKILL in research_prompt()
    trial = await skills.get(cite_id)
    assert trial is not None and (trial.status, trial.run_count) == (SkillStatus.CANDIDATE, 3)

    # 4. Evaluation compares the runs with it against the runs without it.
    evaluation = await run_evaluation(skill_store=skills, trace_store=traces, dag=report_dag)
    (result,) = evaluation.results
    assert evaluation.skills_evaluated == 1
    assert (result.skill_id, result.skill_name, result.target_agent) == (
        cite_id,
        "cite-sources",
        "research",
    )
    # With: 1.0 three times. Without: 2/3, 2/3 and, with the negative feedback, 2/9.
    assert result.mean_score_delta == pytest.approx(1 - (2 / 3 + 2 / 3 + 2 / 9) / 3)
    assert result.improved_fraction == 1.0

    # 5. Promotion activates it, and the next run's prompt carries it as the active skill.
    promotion = await run_promotion(skill_store=skills)
    (action,) = promotion.actions
    assert (action.kind, action.activated_skill_id, action.retired_skill_id) == (
        "promote",
        cite_id,
        None,
    )
    assert (promotion.skills_checked, promotion.rollbacks, promotion.noops) == (1, 0, 0)
    active = await skills.active_for("research", "report")
    assert active is not None and active.id == cite_id
    assert await run("g")
    assert CITE_SKILL in research_prompt()
    newest = (await traces.traces(TraceFilter(limit=1)))[0]
    assert [t.skills_applied for t in newest.task_traces if t.task_name == "research"] == [
        (cite_id,)
    ]

    # 6. Negative feedback on that run leads to a second version, which makes research
    #    drop its sources again: its trial runs fail and score low.
    await traces.add_feedback(newest.id, Feedback(rating="negative", source="human"))
    llm.credit, llm.drafts = credit(0.3), drafts("terse-notes", TERSE_SKILL)
    second = await run_reflection(
        skill_store=skills,
        trace_store=traces,
        runner="fake",
        registry=registry,
        dag=report_dag,
        trace_id=newest.id,
    )
    (terse_id,) = second.skill_ids
    terse = await skills.get(terse_id)
    assert terse is not None and (terse.parent_id, terse.version) == (cite_id, 2)
    for topic in ("h", "i", "j"):
        assert not await run(topic)
        assert TERSE_SKILL in research_prompt() and CITE_SKILL not in research_prompt()

    evaluation = await run_evaluation(skill_store=skills, trace_store=traces, dag=report_dag)
    by_id = {r.skill_id: r for r in evaluation.results}
    assert by_id[terse_id].mean_score_delta < 0 and by_id[terse_id].improved_fraction == 0

    # 7. The rule withdraws it; the first version stays active and is used again.
    promotion = await run_promotion(skill_store=skills)
    (action,) = promotion.actions
    assert (action.kind, action.retired_skill_id, action.activated_skill_id) == (
        "rollback",
        terse_id,
        cite_id,
    )
    assert (await skills.get(terse_id)).status is SkillStatus.ROLLED_BACK  # type: ignore[union-attr]
    assert await run("k")
    assert CITE_SKILL in research_prompt() and TERSE_SKILL not in research_prompt()
