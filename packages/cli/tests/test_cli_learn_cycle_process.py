"""``ageflow learn evaluate`` and ``ageflow learn promote`` as real processes, on real
learning store files: the scores and statuses they leave in the store are read back."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from learn_process import ageflow, assert_one_line_failure, seed, stored_skills

from ageflow.learning import DEFAULT_THRESHOLDS, SkillStatus
from ageflow.learning.testing import at, make_skill, make_task_trace, make_trace

RESEARCH = make_skill(name="dig-deeper", agent="research", workflow="report", score=0.5)


def research_traces() -> tuple:  # type: ignore[type-arg]
    """Runs of "report": without the skill the downstream "write" failed once, with it
    (the last run) everything succeeded."""
    runs = [(1, False, False), (2, False, True), (3, True, True)]
    return tuple(
        make_trace(
            run_at=at(minute),
            success=write_ok,
            task_traces=(
                make_task_trace(
                    task_name="research", skills_applied=(RESEARCH.id,) if applied else ()
                ),
                make_task_trace(task_name="write", success=write_ok),
            ),
        )
        for minute, applied, write_ok in runs
    )


REPORT_WORKFLOW = textwrap.dedent(
    """
    from ageflow.core import define_function, define_workflow, task

    step = define_function(lambda x: x, input=str, output=str, name="step")
    workflow = define_workflow(
        name="report",
        tasks={
            "research": task(step, input="q"),
            "write": task(step, depends_on=["research"], input="q"),
        },
    )
    """
)


def test_evaluate_with_the_workflow_judges_a_task_by_what_it_reached(tmp_path: Path) -> None:
    db = tmp_path / "learning.db"
    seed(db, RESEARCH, traces=research_traces())
    (tmp_path / "report.py").write_text(REPORT_WORKFLOW)

    done = ageflow(tmp_path, "learn", "evaluate", "--db", str(db), "-w", "report.py", "--json")

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["skills_evaluated"] == 1
    (result,) = summary["results"]
    assert result["skill_id"] == RESEARCH.id
    # With the skill 1.0; without it 0.5 (write failed below research) and 1.0.
    assert result["mean_score_delta"] == pytest.approx(0.25)
    assert (result["runs_with"], result["runs_without"]) == (1, 2)
    (stored,) = stored_skills(db)
    assert stored.score == pytest.approx(0.625)  # moved halfway to the result


def test_evaluate_without_a_dag_judges_the_task_alone_and_prints_a_line_per_skill(
    tmp_path: Path,
) -> None:
    db = tmp_path / "learning.db"
    seed(db, RESEARCH, traces=research_traces())

    done = ageflow(tmp_path, "learn", "evaluate", "--db", str(db))

    assert done.returncode == 0, done.stderr
    assert "Evaluated 1 skill(s)." in done.stdout
    assert "dig-deeper (research): delta=+0.000" in done.stdout
    (stored,) = stored_skills(db)
    assert stored.score == pytest.approx(0.5)  # research itself never failed


def test_promote_rolls_back_a_worse_version_and_activates_a_proven_candidate(
    tmp_path: Path,
) -> None:
    db = tmp_path / "learning.db"
    best = make_skill(name="cite-v1", agent="writer", score=0.9, status=SkillStatus.RETIRED)
    worse = make_skill(
        name="cite-v2", agent="writer", score=0.6, run_count=4, version=2, parent_id=best.id
    )
    old = make_skill(name="dig-v1", agent="research", workflow="report", score=0.75)
    proven = make_skill(
        name="dig-v2",
        agent="research",
        workflow="report",
        status=SkillStatus.CANDIDATE,
        score=0.8,
        run_count=DEFAULT_THRESHOLDS.min_runs_before_rollback,
        version=1,
        parent_id=old.id,
    )
    seed(db, best, worse, old, proven)

    done = ageflow(tmp_path, "learn", "promote", "--db", str(db))

    assert done.returncode == 0, done.stderr
    assert "Promotions: 1. Rollbacks: 1." in done.stdout
    assert f"[rollback] {worse.id} -> {best.id}" in done.stdout
    assert f"[promote] {old.id} -> {proven.id}" in done.stdout
    status = {s.name: s.status for s in stored_skills(db)}
    assert status == {
        "cite-v1": SkillStatus.ACTIVE,
        "cite-v2": SkillStatus.ROLLED_BACK,
        "dig-v1": SkillStatus.RETIRED,
        "dig-v2": SkillStatus.ACTIVE,
    }
    # A second pass finds nothing more to do.
    again = json.loads(ageflow(tmp_path, "learn", "promote", "--db", str(db), "--json").stdout)
    assert again["actions"] == [] and again["rollbacks"] == 0


def test_evaluate_with_a_missing_workflow_file_is_one_line_and_keeps_the_scores(
    tmp_path: Path,
) -> None:
    db = tmp_path / "learning.db"
    seed(db, RESEARCH, traces=research_traces())
    done = ageflow(tmp_path, "learn", "evaluate", "--db", str(db), "-w", "nowhere.py")
    assert_one_line_failure(done, "nowhere.py")
    (stored,) = stored_skills(db)
    assert stored.score == pytest.approx(0.5)


@pytest.mark.parametrize("command", ["evaluate", "promote"])
def test_a_missing_store_is_one_line_and_is_not_created(tmp_path: Path, command: str) -> None:
    done = ageflow(tmp_path, "learn", command, "--db", "absent.db")
    assert_one_line_failure(done, "absent.db")
    assert not (tmp_path / "absent.db").exists()
