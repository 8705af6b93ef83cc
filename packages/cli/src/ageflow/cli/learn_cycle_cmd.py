"""``ageflow learn evaluate|promote``: run the skill layer's evaluation and promotion
workflows on a learning store.

``evaluate`` rescores each candidate and active skill by comparing the runs that used it
with those that did not; ``promote`` then activates proven candidates and rolls back
skills that fell behind their lineage's best. Both print what they did.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from ageflow.cli.learn_store import DEFAULT_LEARNING_DB, LearningDb, with_learning_db
from ageflow.cli.loading import load_workflow
from ageflow.cli.output import print_json, stdout_console
from ageflow.cli.params import AsJson
from ageflow.learning import (
    EvaluationSummary,
    PromotionSummary,
    dependency_map,
    run_evaluation,
    run_promotion,
)
from ageflow.learning_sqlite import LearningDatabase


def evaluate(
    workflow: Annotated[
        str | None,
        typer.Option(
            "-w",
            "--workflow",
            metavar="FILE",
            help="The workflow whose DAG judges a task by what it reached downstream "
            "(default: the DAG each trace recorded).",
        ),
    ] = None,
    db: LearningDb = DEFAULT_LEARNING_DB,
    as_json: AsJson = False,
) -> None:
    """Evaluate the candidate and active skills against the traces, and rescore them.

    A skill's runs are compared with its agent's runs without it, each judged on the
    agent's task and the tasks downstream of it; the score moves halfway to the result.
    """
    # Loaded before the store is opened: a bad file fails without touching the store.
    dag = None
    if workflow is not None:
        definition = load_workflow(workflow)
        dag = {definition.name: dependency_map(definition)}

    async def run(store: LearningDatabase) -> EvaluationSummary:
        return await run_evaluation(skill_store=store.skills, trace_store=store.traces, dag=dag)

    summary = with_learning_db(db, run)
    if as_json:
        print_json(summary.model_dump(mode="json"))
        return
    out = stdout_console()
    out.print(f"Evaluated {summary.skills_evaluated} skill(s).")
    for r in summary.results:
        out.print(
            f"  {escape(r.skill_name)} ({escape(r.target_agent)}): "
            f"delta={r.mean_score_delta:+.3f}, improved={r.improved_fraction:.0%}, "
            f"score {r.score_before:.3f} -> {r.score_after:.3f} "
            f"({r.runs_with} run(s) with it, {r.runs_without} without)"
        )


def promote(db: LearningDb = DEFAULT_LEARNING_DB, as_json: AsJson = False) -> None:
    """Run one promotion and rollback pass over the skills.

    A candidate with enough runs and a good enough score replaces its agent's active
    skill; one that scored too low is withdrawn; an active skill far below the best of
    its lineage is rolled back to that best version.
    """

    async def run(store: LearningDatabase) -> PromotionSummary:
        return await run_promotion(skill_store=store.skills)

    summary = with_learning_db(db, run)
    if as_json:
        print_json(summary.model_dump(mode="json"))
        return
    out = stdout_console()
    promoted = sum(1 for a in summary.actions if a.kind == "promote")
    out.print(
        f"Checked {summary.skills_checked} skill(s). Promotions: {promoted}. "
        f"Rollbacks: {summary.rollbacks}. No-ops: {summary.noops}."
    )
    for a in summary.actions:
        retired = a.retired_skill_id or "-"
        activated = a.activated_skill_id or "-"
        out.print(escape(f"  [{a.kind}] {retired} -> {activated}: {a.reason}"))
