"""Reflection: credit follows the DAG to the upstream agent, and drafts become skills."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ageflow.core import NodeMaxRetriesError, RunnerRegistry
from ageflow.core.workflow import WorkflowDef
from ageflow.executor import WorkflowExecutor
from ageflow.learning import (
    InMemorySkillStore,
    InMemoryTraceStore,
    LearningConfig,
    LearningStoreError,
    SkillRecord,
    SkillStatus,
    run_reflection,
    with_learning,
)
from ageflow.learning.reflection import build_reflection_input, gather_evidence
from ageflow.server import create_runner
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio

CITE_SKILL = "Cite every source you used, by its id."

# The credit agent blames research (whose empty source list made publish fail), and also,
# wrongly, tweet (nothing downstream of it failed) and publish (a function: no prompt).
CREDIT = {
    "workflow_score": 0.3,
    "task_scores": {
        "research": {
            "score": 0.2,
            "credit_weight": 0.5,
            "diagnosis": "returned no sources, so write had nothing to cite",
            "improvement_hint": "always list sources",
        },
        "style": {"score": 0.9, "diagnosis": "fine"},
        "write": {"score": 0.8, "diagnosis": "cited what it was given"},
        "publish": {"score": 0.1, "diagnosis": "failed"},
        "tweet": {"score": 0.4, "diagnosis": "bland"},
    },
}
DRAFTS = {
    "skills": [
        {"agent": "research", "name": "cite-sources", "description": "d", "content": CITE_SKILL},
        {"agent": "tweet", "name": "punchier", "content": "Be punchy."},
    ]
}


@pytest.fixture
def stores() -> tuple[InMemorySkillStore, InMemoryTraceStore]:
    return InMemorySkillStore(), InMemoryTraceStore()


async def failing_runs(
    report: WorkflowDef,
    registry: RunnerRegistry,
    skills: InMemorySkillStore,
    traces: InMemoryTraceStore,
    count: int = 3,
) -> None:
    learning = with_learning(report, skill_store=skills, trace_store=traces)
    for i in range(count):
        with pytest.raises(NodeMaxRetriesError, match="cites no sources"):
            await WorkflowExecutor(learning, registry=registry).run({"topic": f"t{i}"})


async def test_a_downstream_failure_blames_the_upstream_agent(
    report: WorkflowDef,
    registry: RunnerRegistry,
    runner: ScriptedRunner,
    llm: Any,
    report_dag: Any,
    stores: tuple[InMemorySkillStore, InMemoryTraceStore],
) -> None:
    skills, traces = stores
    await failing_runs(report, registry, skills, traces)
    llm.credit, llm.drafts = CREDIT, DRAFTS
    newest = (await traces.traces())[0]

    summary = await run_reflection(
        skill_store=skills, trace_store=traces, runner="fake", registry=registry, dag=report_dag
    )

    assert summary.trace_id == newest.id and summary.workflow_name == "report"
    assert summary.blamed == ["research"]
    assert summary.dropped == ["publish", "tweet"]
    assert summary.task_scores["research"] == 0.2 and summary.workflow_score == 0.3
    assert (summary.skills_created, summary.skills_updated) == (1, 0)
    (skill,) = await skills.list_skills()
    assert summary.skill_ids == [skill.id]
    assert (skill.agent, skill.workflow, skill.content) == ("research", "report", CITE_SKILL)
    assert (skill.status, skill.version, skill.parent_id) == (SkillStatus.CANDIDATE, 1, None)

    # The credit agent saw the DAG and, per task, the failures downstream of it.
    (credit_call,) = runner.calls_for("credit")
    request = await build_reflection_input(skill_store=skills, trace_store=traces, dag=report_dag)
    evidence = {item.task: item for item in gather_evidence(request).tasks}
    assert evidence["research"].downstream == ["publish", "write"]
    assert evidence["research"].downstream_failures == ["publish"]
    assert evidence["tweet"].downstream_failures == []
    assert '"downstream_failures": [\n   "publish"\n  ]' in credit_call.prompt
    # The drafting agent saw the blamed task and the downstream failure it caused.
    (draft_call,) = runner.calls_for("draft")
    assert "returned no sources" in draft_call.prompt
    assert "the draft cites no sources" in draft_call.prompt
    blamed_json = draft_call.prompt.split("with the reason:")[1].split("What the blamed")[0]
    assert [item["task"] for item in json.loads(blamed_json)] == ["research"]


async def test_the_dag_recorded_in_the_trace_is_followed_when_none_is_given(
    report: WorkflowDef,
    registry: RunnerRegistry,
    llm: Any,
    stores: tuple[InMemorySkillStore, InMemoryTraceStore],
) -> None:
    skills, traces = stores
    await failing_runs(report, registry, skills, traces, count=1)
    (trace,) = await traces.traces()
    assert trace.dependencies == {name: node.depends_on for name, node in report.tasks.items()}
    llm.credit, llm.drafts = CREDIT, DRAFTS
    summary = await run_reflection(
        skill_store=skills, trace_store=traces, runner="fake", registry=registry
    )
    assert summary.blamed == ["research"]


async def test_without_any_dag_nothing_upstream_is_blamed(
    report: WorkflowDef,
    registry: RunnerRegistry,
    runner: ScriptedRunner,
    llm: Any,
    stores: tuple[InMemorySkillStore, InMemoryTraceStore],
) -> None:
    skills, traces = stores
    await failing_runs(report, registry, skills, traces, count=1)
    # A trace from elsewhere, without the DAG the hooks record.
    (trace,) = await traces.traces()
    await traces.save_trace(trace.model_copy(update={"dependencies": None}))
    llm.credit = CREDIT  # no drafts scripted: the drafting agent must not be called
    summary = await run_reflection(
        skill_store=skills, trace_store=traces, runner="fake", registry=registry
    )
    # research itself succeeded and, with no DAG, no failure is known to lie below it.
    assert summary.blamed == []
    assert summary.dropped == ["publish", "research", "tweet"]
    assert runner.calls_for("draft") == [] and summary.skill_ids == []
    assert await skills.list_skills() == []


async def test_a_new_version_joins_the_lineage_of_the_active_skill(
    report: WorkflowDef,
    registry: RunnerRegistry,
    llm: Any,
    report_dag: Any,
    stores: tuple[InMemorySkillStore, InMemoryTraceStore],
) -> None:
    skills, traces = stores
    old = SkillRecord(
        name="notes", content="Take notes.", agent="research", workflow="report", version=2
    )
    await skills.save(old.model_copy(update={"status": SkillStatus.ACTIVE}))
    await failing_runs(report, registry, skills, traces, count=2)
    llm.credit, llm.drafts = CREDIT, DRAFTS
    first = await run_reflection(
        skill_store=skills, trace_store=traces, runner="fake", registry=registry, dag=report_dag
    )
    assert (first.skills_created, first.skills_updated) == (0, 1)
    new = await skills.get(first.skill_ids[0])
    assert new is not None and (new.parent_id, new.version) == (old.id, 3)
    # The old version stays active until promotion decides.
    assert (await skills.get(old.id)).status is SkillStatus.ACTIVE  # type: ignore[union-attr]

    # Reflecting on the same trace again writes the same record, not a second one.
    again = await run_reflection(
        skill_store=skills,
        trace_store=traces,
        runner="fake",
        registry=registry,
        dag=report_dag,
        trace_id=first.trace_id,
    )
    assert again.skill_ids == first.skill_ids
    assert len(await skills.list_skills()) == 2


async def test_under_hitl_drafts_wait_for_approval(
    report: WorkflowDef,
    registry: RunnerRegistry,
    llm: Any,
    report_dag: Any,
    stores: tuple[InMemorySkillStore, InMemoryTraceStore],
) -> None:
    skills, traces = stores
    await failing_runs(report, registry, skills, traces, count=1)
    llm.credit, llm.drafts = CREDIT, DRAFTS
    summary = await run_reflection(
        skill_store=skills,
        trace_store=traces,
        runner="fake",
        registry=registry,
        dag=report_dag,
        config=LearningConfig(strategy="hitl"),
    )
    skill = await skills.get(summary.skill_ids[0])
    assert skill is not None and skill.status is SkillStatus.DRAFT


async def test_no_trace_to_reflect_on(
    stores: tuple[InMemorySkillStore, InMemoryTraceStore], registry: RunnerRegistry
) -> None:
    skills, traces = stores
    with pytest.raises(LearningStoreError, match="no trace of workflow 'report'"):
        await run_reflection(
            skill_store=skills, trace_store=traces, workflow_name="report", registry=registry
        )
    with pytest.raises(LearningStoreError, match="no trace with id 'nope'"):
        await run_reflection(
            skill_store=skills, trace_store=traces, trace_id="nope", registry=registry
        )


async def test_reflection_runs_on_the_server_runner(
    report: WorkflowDef,
    registry: RunnerRegistry,
    llm: Any,
    report_dag: Any,
    stores: tuple[InMemorySkillStore, InMemoryTraceStore],
) -> None:
    skills, traces = stores
    await failing_runs(report, registry, skills, traces, count=2)
    llm.credit, llm.drafts = CREDIT, DRAFTS
    async with create_runner(registry=registry) as server:
        summary = await run_reflection(
            skill_store=skills, trace_store=traces, runner="fake", dag=report_dag, run=server.run
        )
        (handle,) = await server.list()
    assert handle.state == "done" and handle.workflow_name == "__ageflow_reflection"
    assert summary.blamed == ["research"] and len(summary.skill_ids) == 1
