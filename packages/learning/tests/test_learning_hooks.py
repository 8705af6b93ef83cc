"""The learning hooks: a trace of every run, and the agent's skill in the prompt it gets."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from pydantic import BaseModel

from ageflow.core import (
    RetryConfig,
    RunnerRegistry,
    WorkflowHooks,
    define_agent,
    define_workflow,
    task,
)
from ageflow.core.workflow import WorkflowDef
from ageflow.executor import WorkflowExecutor
from ageflow.learning import (
    ExecutionTrace,
    Feedback,
    InMemorySkillStore,
    InMemoryTraceStore,
    LearningConfig,
    SkillRecord,
    SkillStatus,
    TraceFilter,
    run_reflection,
    skill_prompt,
    task_outcome,
    update_score,
    with_learning,
)
from ageflow.testing.scripted_runner import ScriptedRunner

pytestmark = pytest.mark.anyio


class Answer(BaseModel):
    text: str


# What the fake research agent needs in its system prompt to cite sources (conftest).
CITE_SKILL = "Cite every source you used, by its id."


async def run(workflow: WorkflowDef, registry: RunnerRegistry, topic: str) -> Exception | None:
    try:
        await WorkflowExecutor(workflow, registry=registry).run({"topic": topic})
    except Exception as exc:
        return exc
    return None


async def test_every_run_is_traced_failed_ones_too(
    report: WorkflowDef, registry: RunnerRegistry
) -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    learning = with_learning(report, skill_store=skills, trace_store=traces)
    for topic in ("tides", "moss", "ice"):
        error = await run(learning, registry, topic)
        assert error is not None and "cites no sources" in str(error)

    stored = await traces.traces(TraceFilter(workflow_name="report"))
    assert len(stored) == 3
    assert {t.workflow_input["topic"] for t in stored} == {"tides", "moss", "ice"}
    trace = stored[0]
    assert not trace.success and trace.workflow_output is None
    by_task = {t.task_name: t for t in trace.task_traces}
    assert {"research", "style", "write", "publish"} <= set(by_task)
    research = by_task["research"]
    assert research.success and research.agent_runner == "fake"
    assert research.parsed_output == {"notes": "facts", "sources": []}
    assert "Research " in research.prompt and research.skills_applied == ()
    assert (research.tokens_in, research.tokens_out) == (10, 20)
    assert research.spawn_args is not None and research.spawn_args["task_name"] == "research"
    assert research.spawn_args["prompt"].startswith("Research ")
    assert research.spawn_result is not None and research.spawn_result["tokens_out"] == 20
    publish = by_task["publish"]
    assert not publish.success and publish.agent_runner == ""
    assert "cites no sources" in publish.output
    # The DAG says publish lies downstream of research: research's outcome is 2/3.
    deps = {name: node.depends_on for name, node in report.tasks.items()}
    assert task_outcome(trace, "research", deps) == pytest.approx(2 / 3)
    assert task_outcome(trace, "tweet", deps) in (None, 1.0)


async def test_the_active_skill_reaches_the_prompt_the_runner_receives(
    report: WorkflowDef, registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    skill = SkillRecord(
        name="cite", content=CITE_SKILL, agent="research", workflow="report", status="active"
    )
    other = SkillRecord(name="x", content="Only for style.", agent="style", status="draft")
    await skills.save(skill)
    await skills.save(other)
    learning = with_learning(report, skill_store=skills, trace_store=traces)
    assert await run(learning, registry, "tides") is None

    (research_call,) = runner.calls_for("research")
    assert research_call.system_prompt is not None
    assert research_call.system_prompt.startswith(skill_prompt(skill))
    for name in ("style", "write", "tweet"):
        (call,) = runner.calls_for(name)
        assert "## Skill:" not in (call.system_prompt or "")

    (trace,) = await traces.traces()
    assert trace.success
    by_task = {t.task_name: t for t in trace.task_traces}
    assert by_task["research"].skills_applied == (skill.id,)
    assert CITE_SKILL in by_task["research"].prompt
    scored = await skills.get(skill.id)
    assert scored is not None and scored.run_count == 1
    assert scored.score == pytest.approx(update_score(0.5, 1.0))


async def test_a_candidate_on_trial_goes_first_then_the_active_skill(
    report: WorkflowDef, registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    active = SkillRecord(
        name="old", content="Old advice.", agent="research", workflow="report", status="active"
    )
    trial = SkillRecord(
        name="new",
        content=CITE_SKILL,
        agent="research",
        workflow="report",
        status=SkillStatus.CANDIDATE,
        parent_id=active.id,
        version=1,
        score=0.5,
    )
    await skills.save(active)
    await skills.save(trial)
    learning = with_learning(report, skill_store=skills, trace_store=traces)
    for topic in ("a", "b", "c", "d"):
        await run(learning, registry, topic)
    prompts = [call.system_prompt or "" for call in runner.calls_for("research")]
    # Three trial runs (min_runs_before_rollback), then the active skill again.
    assert [CITE_SKILL in p for p in prompts] == [True, True, True, False]
    assert "Old advice." in prompts[3]
    done = await skills.get(trial.id)
    assert done is not None and done.run_count == 3


async def test_own_hooks_still_run_and_their_prefix_comes_first(
    report: WorkflowDef, registry: RunnerRegistry, runner: ScriptedRunner
) -> None:
    seen: list[str] = []
    own = WorkflowHooks(
        on_task_complete=lambda name, output, metrics: seen.append(name),
        get_system_prompt_prefix=lambda name: "House rules." if name == "research" else None,
        on_workflow_error=lambda exc: seen.append("failed"),
    )
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    await skills.save(SkillRecord(name="cite", content="Be exact.", agent="research"))
    await skills.set_status((await skills.list_skills())[0].id, SkillStatus.ACTIVE)
    learning = with_learning(report.with_hooks(own), skill_store=skills, trace_store=traces)
    await run(learning, registry, "x")
    assert "research" in seen and seen[-1] == "failed"
    (call,) = runner.calls_for("research")
    assert call.system_prompt is not None
    assert call.system_prompt.index("House rules.") < call.system_prompt.index("Be exact.")
    assert len(await traces.traces()) == 1


async def test_concurrent_runs_keep_their_own_traces(
    report: WorkflowDef, runner: ScriptedRunner
) -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    learning = with_learning(report, skill_store=skills, trace_store=traces)
    release = anyio.Event()
    answer = runner.respond
    inside = 0

    async def slow(args: Any) -> Any:
        nonlocal inside
        if args.task_name == "research":
            # No research answers before all three runs are inside research at once.
            inside += 1
            if inside == 3:
                release.set()
            await release.wait()
        return answer(args)

    runner.respond = slow
    registry = RunnerRegistry({"fake": runner})
    async with anyio.create_task_group() as group:
        for topic in ("one", "two", "three"):
            group.start_soon(run, learning, registry, topic)
    assert runner.max_running >= 3
    stored = await traces.traces()
    assert len(stored) == 3
    for trace in stored:
        names = [t.task_name for t in trace.task_traces]
        assert names.count("research") == 1 and names.count("style") == 1
        topic = trace.workflow_input["topic"]
        research = next(t for t in trace.task_traces if t.task_name == "research")
        assert topic in research.prompt


async def test_feedback_is_stored_and_weighs_on_the_outcome(
    report: WorkflowDef, registry: RunnerRegistry
) -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    await skills.save(
        SkillRecord(name="cite", content=CITE_SKILL, agent="research", status="active")
    )
    learning = with_learning(report, skill_store=skills, trace_store=traces)
    assert await run(learning, registry, "tides") is None
    (trace,) = await traces.traces()
    deps = {name: node.depends_on for name, node in report.tasks.items()}
    assert task_outcome(trace, "research", deps) == 1.0
    rated = await traces.add_feedback(
        trace.id, Feedback(rating="negative", source="human", comment="wrong facts")
    )
    assert [f.comment for f in rated.feedback] == ["wrong facts"]
    assert (await traces.traces(TraceFilter(has_feedback=True)))[0].id == trace.id
    assert task_outcome(rated, "research", deps) == pytest.approx(1 / 3)


async def test_reflection_runs_on_every_nth_run_as_configured(
    report: WorkflowDef, registry: RunnerRegistry, llm: Any, report_dag: Any
) -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    llm.credit = {
        "workflow_score": 0.2,
        "task_scores": {"research": {"score": 0.1, "diagnosis": "no sources"}},
    }
    llm.drafts = {"skills": [{"agent": "research", "name": "cite", "content": CITE_SKILL}]}
    reflected: list[str] = []

    async def reflect(trace: ExecutionTrace) -> None:
        reflected.append(trace.id)
        await run_reflection(
            skill_store=skills,
            trace_store=traces,
            runner="fake",
            registry=registry,
            dag=report_dag,
            trace_id=trace.id,
        )

    learning = with_learning(
        report,
        skill_store=skills,
        trace_store=traces,
        config=LearningConfig(reflect_every=2),
        reflect=reflect,
    )
    outcomes = [await run(learning, registry, topic) is None for topic in ("a", "b", "c")]
    # Reflection after the second run drafted a candidate: the third run tries it, and passes.
    assert outcomes == [False, False, True]
    oldest_first = [t.id for t in reversed(await traces.traces())]
    assert reflected == [oldest_first[1]]
    (skill,) = await skills.list_skills()
    assert (skill.agent, skill.status) == ("research", SkillStatus.CANDIDATE)


async def test_a_failing_reflection_does_not_fail_the_run(
    report: WorkflowDef, registry: RunnerRegistry
) -> None:
    skills, traces = InMemorySkillStore(), InMemoryTraceStore()
    await skills.save(SkillRecord(name="c", content=CITE_SKILL, agent="research", status="active"))

    async def reflect(trace: ExecutionTrace) -> None:
        raise RuntimeError("model down")

    learning = with_learning(report, skill_store=skills, trace_store=traces, reflect=reflect)
    assert await run(learning, registry, "a") is None
    assert len(await traces.traces()) == 1


async def test_mcp_server_settings_stay_out_of_the_trace(
    runner: ScriptedRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DB_TOKEN", "s3cret-value")
    answer = define_agent(
        runner="fake", input=str, output=Answer, prompt=lambda _: "hi", retry=RetryConfig(max=1)
    )
    workflow = define_workflow(
        name="tools",
        tasks={"ask": task(answer)},
        mcp_servers=[{"name": "db", "command": "db-mcp", "env": {"TOKEN": "${env:DB_TOKEN}"}}],
    )
    runner.respond = lambda args: '{"text": "ok"}'
    traces = InMemoryTraceStore()
    learning = with_learning(workflow, skill_store=InMemorySkillStore(), trace_store=traces)
    await WorkflowExecutor(learning, registry=RunnerRegistry({"fake": runner})).run("q")
    (call,) = runner.calls
    assert call.mcp_servers and call.mcp_servers[0].env == {"TOKEN": "s3cret-value"}
    (trace,) = await traces.traces()
    assert "s3cret-value" not in trace.model_dump_json()
    assert trace.task_traces[0].spawn_args is not None
    assert trace.task_traces[0].spawn_args["prompt"] == "hi"
