"""A skill learned and used, offline: ``python examples/learning/learn.py [--db FILE]``.

Customer questions run through ``order_answer`` (workflow.py) with learning hooks. The
first two fail their check, since ``lookup`` drops the order id. Reflection blames ``lookup``
(upstream of the failed check) and drafts a skill; three trial runs with the skill pass;
evaluation compares them with the runs without it; promotion activates it, and the next
run's prompt carries it. Skills and traces are kept in a SQLite file (a temporary one
unless ``--db`` names one).
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from pathlib import Path
from typing import Any

import anyio

from ageflow.core import NodeMaxRetriesError
from ageflow.executor import WorkflowExecutor
from ageflow.learning import (
    dependency_map,
    run_evaluation,
    run_promotion,
    run_reflection,
    with_learning,
)
from ageflow.learning_sqlite import LearningDatabase


def _load_example() -> Any:
    """workflow.py beside this file, loaded by path (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(
        "order_answer_example", Path(__file__).with_name("workflow.py")
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()
workflow = example.workflow
QUESTIONS = [
    "Where is my order #1042?",
    "Has #2210 left the warehouse?",
    "Any news on order #3307?",
    "Did #4471 ship yet?",
    "When does #5123 arrive?",
]


async def main(db_path: Path) -> None:
    registry, llm = example.house_registry()
    dag = {workflow.name: dependency_map(workflow)}
    async with LearningDatabase(db_path) as db:
        learning = with_learning(workflow, skill_store=db.skills, trace_store=db.traces)

        async def ask(question: str) -> str:
            try:
                result = await WorkflowExecutor(learning, registry=registry).run({"text": question})
            except NodeMaxRetriesError as exc:
                return f"failed: {exc.attempts[-1].error}"
            return f"ok: {result.outputs['check'].text}"

        print("1. before learning")
        for question in QUESTIONS[:2]:
            print(f"   {question} -> {await ask(question)}")

        summary = await run_reflection(
            skill_store=db.skills,
            trace_store=db.traces,
            runner="house-llm",
            registry=registry,
            dag=dag,
        )
        skill = await db.skills.get(summary.skill_ids[0])
        assert skill is not None
        print(f"2. reflection blamed {summary.blamed}; drafted {skill.name!r} ({skill.status})")

        print("3. trial runs with the candidate skill")
        for question in QUESTIONS[2:]:
            print(f"   {question} -> {await ask(question)}")

        evaluation = await run_evaluation(skill_store=db.skills, trace_store=db.traces, dag=dag)
        for item in evaluation.results:
            print(
                f"4. evaluation of {item.skill_name!r}: delta {item.mean_score_delta:+.2f}, "
                f"improved {item.improved_fraction:.0%}"
            )
        promotion = await run_promotion(skill_store=db.skills)
        for action in promotion.actions:
            activated = await db.skills.get(action.activated_skill_id or "")
            print(f"5. promotion: {action.kind} {activated.name if activated else None!r}")

        print("6. after learning")
        print(f"   Is #6000 on its way? -> {await ask('Is #6000 on its way?')}")
        lookup = [call for call in llm.calls if call.task_name == "lookup"][-1]
        system = lookup.system_prompt or ""
        print("   lookup's system prompt starts with:")
        print("   " + system.splitlines()[0])
        print("   " + system.splitlines()[2][:60] + "...")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="the SQLite file for skills and traces")
    options = parser.parse_args()
    path = options.db or Path(tempfile.mkdtemp()) / "learning.sqlite"
    anyio.run(main, path)
