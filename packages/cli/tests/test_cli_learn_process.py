"""``ageflow learn`` and ``ageflow feedback`` as real processes, on real SQLite store files.

Stores are seeded and read back with ``ageflow.learning_sqlite``; every command runs the
installed ``ageflow`` script.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from learn_process import (
    ageflow,
    assert_one_line_failure,
    seed,
    stored_skills,
    stored_trace,
)

from ageflow.learning import ExecutionTrace, SkillRecord, SkillStatus, TaskTrace
from ageflow.learning_sqlite import SCHEMA_VERSION


def at(minute: int) -> datetime:
    return datetime(2026, 3, 1, 12, minute, tzinfo=UTC)


# A lineage of the writer's "cite" skill: root (retired) -> v1 (retired) -> v2 (active);
# an active skill of another agent for one workflow; a draft that status must not show.
ROOT = SkillRecord(
    id="aaaaaaaa-0000-4000-8000-000000000000",
    name="cite",
    content="Cite sources.",
    agent="writer",
    version=0,
    status=SkillStatus.RETIRED,
    score=0.55,
    run_count=4,
    best_in_lineage=False,
    created_at=at(0),
)
MIDDLE = ROOT.model_copy(
    update={
        "id": "bbbbbbbb-0000-4000-8000-000000000000",
        "version": 1,
        "parent_id": ROOT.id,
        "content": "Cite a source for every claim.",
        "score": 0.6,
        "created_at": at(1),
    }
)
ACTIVE = ROOT.model_copy(
    update={
        "id": "cccccccc-0000-4000-8000-000000000000",
        "version": 2,
        "parent_id": MIDDLE.id,
        "status": SkillStatus.ACTIVE,
        "content": "Cite a source for every claim.\n---\nLink it inline.\n",
        "description": 'Sources: "inline", with links.\nSecond line.',
        "score": 0.8125,
        "run_count": 7,
        "best_in_lineage": True,
        "created_at": at(2),
    }
)
REVIEWER = SkillRecord(
    id="dddddddd-0000-4000-8000-000000000000",
    name="check numbers",
    content="Check every figure against the input.",
    agent="reviewer",
    workflow="report",
    status=SkillStatus.ACTIVE,
    score=0.7,
    run_count=3,
    created_at=at(3),
)
DRAFT = SkillRecord(
    id="eeeeeeee-0000-4000-8000-000000000000",
    name="terse",
    content="Be brief.",
    agent="writer",
    created_at=at(4),
)
ALL = (ROOT, MIDDLE, ACTIVE, REVIEWER, DRAFT)

TRACE = ExecutionTrace(
    id="trace-1",
    workflow_name="report",
    success=False,
    run_at=at(5),
    task_traces=(
        TaskTrace(task_name="write", agent_runner="fake", prompt="p", output="o", success=False),
    ),
)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "learning.db"
    seed(path, *ALL, traces=(TRACE,))
    return path


# -- status ------------------------------------------------------------------------------------


def test_status_shows_active_skills_with_scores_runs_and_lineage(
    tmp_path: Path, store: Path
) -> None:
    result = ageflow(tmp_path, "learn", "status", "--db", str(store))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID", "NAME", "AGENT", "WORKFLOW", "SCORE", "RUNS", "VERSION", "LINEAGE", "BEST",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    # Active skills only, by agent: the reviewer's first.
    assert list(rows) == [REVIEWER.id, ACTIVE.id]
    assert rows[ACTIVE.id] == [ACTIVE.id, "cite", "writer", "-", "0.812", "7", "2",
                               "aaaaaaaa", ">", "bbbbbbbb", "yes"]  # fmt: skip
    assert rows[REVIEWER.id] == [REVIEWER.id, "check", "numbers", "reviewer", "report",
                                 "0.700", "3", "0", "-", "yes"]  # fmt: skip
    assert DRAFT.id not in result.stdout and ROOT.id not in result.stdout


def test_status_json_lists_active_records_with_their_ancestors(tmp_path: Path, store: Path) -> None:
    result = ageflow(tmp_path, "learn", "status", "--db", str(store), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [item["id"] for item in document] == [REVIEWER.id, ACTIVE.id]
    writer = document[1]
    assert writer["ancestors"] == [MIDDLE.id, ROOT.id]
    assert writer["score"] == 0.8125 and writer["run_count"] == 7
    assert writer["status"] == "active" and writer["best_in_lineage"] is True
    del writer["ancestors"]
    assert SkillRecord.model_validate(writer) == ACTIVE


def test_status_reads_the_default_store_file_and_says_when_none_is_active(
    tmp_path: Path,
) -> None:
    seed(tmp_path / "ageflow-learning.db", DRAFT)
    result = ageflow(tmp_path, "learn", "status")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No active skills in ageflow-learning.db."
    assert json.loads(ageflow(tmp_path, "learn", "status", "--json").stdout) == []


# -- export and import -------------------------------------------------------------------------


def test_export_then_import_into_a_new_store_round_trips_every_skill(
    tmp_path: Path, store: Path
) -> None:
    out = tmp_path / "exported"
    result = ageflow(tmp_path, "learn", "export", "-o", str(out), "--db", str(store), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["directory"] == str(out.resolve())
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "cite-v0-aaaaaaaa.skill.md",
            "cite-v1-bbbbbbbb.skill.md",
            "cite-v2-cccccccc.skill.md",
            "check-numbers-v0-dddddddd.skill.md",
            "terse-v0-eeeeeeee.skill.md",
        ]
    )
    assert {f["id"] for f in document["files"]} == {s.id for s in ALL}
    # The content follows the block byte for byte, its own "---" line included.
    text = (out / "cite-v2-cccccccc.skill.md").read_text(encoding="utf-8")
    assert text.endswith("---\nCite a source for every claim.\n---\nLink it inline.\n")

    fresh = tmp_path / "other" / "fresh.db"
    for entry in document["files"]:
        imported = ageflow(tmp_path, "learn", "import", entry["path"], "--db", str(fresh))
        assert imported.returncode == 0, imported.stderr
        assert f'"{entry["name"]}" ({entry["id"]}, new)' in imported.stdout
    first_file = document["files"][0]["path"]
    into_new = ageflow(tmp_path, "learn", "import", first_file, "--db", str(tmp_path / "n.db"))
    assert "a new store" in into_new.stdout
    by_id = {s.id: s for s in stored_skills(fresh)}
    assert by_id == {s.id: s for s in ALL}

    # Importing again replaces the record with the same id; nothing is duplicated.
    again = ageflow(tmp_path, "learn", "import", str(out / "terse-v0-eeeeeeee.skill.md"),
                    "--db", str(fresh), "--json")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["replaced"] is True
    assert len(stored_skills(fresh)) == len(ALL)


def test_export_writes_to_skills_under_the_current_directory_by_default(
    tmp_path: Path, store: Path
) -> None:
    result = ageflow(tmp_path, "learn", "export", "--db", str(store))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Exported 5 skill(s) to {tmp_path / 'skills'}"
    assert len(list((tmp_path / "skills").glob("*.skill.md"))) == 5


def test_import_reads_a_hand_written_file_in_the_originals_format(tmp_path: Path) -> None:
    path = tmp_path / "review.skill.md"
    path.write_text(
        "---\nname: careful-review\ndescription: Review: slowly\ntargetAgent: reviewer\n"
        "targetWorkflow: report\nversion: 3\nstatus: active\nscore: 0.75\nrunCount: 12\n"
        "bestInLineage: true\ncreatedAt: 2026-02-01T10:00:00.000Z\n---\nRead twice.\n",
        encoding="utf-8",
    )
    db = tmp_path / "learning.db"
    result = ageflow(tmp_path, "learn", "import", str(path), "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    [skill] = stored_skills(db)
    assert json.loads(result.stdout)["skill"]["id"] == skill.id
    assert (skill.name, skill.description, skill.agent, skill.workflow) == (
        "careful-review", "Review: slowly", "reviewer", "report",
    )  # fmt: skip
    assert (skill.version, skill.status, skill.score, skill.run_count) == (
        3, SkillStatus.ACTIVE, 0.75, 12,
    )  # fmt: skip
    assert skill.created_at == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert skill.content == "Read twice.\n"


# -- feedback ----------------------------------------------------------------------------------


def test_feedback_is_appended_to_the_stored_trace(tmp_path: Path, store: Path) -> None:
    first = ageflow(tmp_path, "feedback", TRACE.id, "--rating", "negative",
                    "--comment", "missed the deadline", "--db", str(store))  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(
        f"Feedback recorded for trace {TRACE.id}: negative (source: human)"
    )
    second = ageflow(tmp_path, "feedback", TRACE.id, "--rating", "mixed", "--source", "ci",
                     "--db", str(store), "--json")  # fmt: skip
    assert second.returncode == 0, second.stderr
    document = json.loads(second.stdout)
    assert document["trace_id"] == TRACE.id
    assert [f["rating"] for f in document["feedback"]] == ["negative", "mixed"]

    trace = stored_trace(store, TRACE.id)
    assert trace is not None
    assert [(f.rating, f.source, f.comment) for f in trace.feedback] == [
        ("negative", "human", "missed the deadline"),
        ("mixed", "ci", None),
    ]
    assert trace.task_traces == TRACE.task_traces  # the rest of the trace is kept


def test_feedback_uses_the_default_store_file(tmp_path: Path) -> None:
    seed(tmp_path / "ageflow-learning.db", traces=(TRACE,))
    result = ageflow(tmp_path, "feedback", TRACE.id, "--rating", "positive")
    assert result.returncode == 0, result.stderr
    trace = stored_trace(tmp_path / "ageflow-learning.db", TRACE.id)
    assert trace is not None and [f.rating for f in trace.feedback] == ["positive"]


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("learn", "status"),
        ("learn", "export"),
        ("feedback", "trace-1", "--rating", "positive"),
    ],
)
def test_a_missing_store_is_one_line_and_is_not_created(tmp_path: Path, args: tuple[str]) -> None:
    missing = tmp_path / "nowhere.db"
    result = ageflow(tmp_path, *args, "--db", str(missing))
    assert_one_line_failure(result, f'no learning store at "{missing}"', "--db")
    assert not missing.exists()
    assert not (tmp_path / "skills").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--rating", "good"), "--rating must be one of: positive | negative | mixed, got: 'good'"),
        (("--rating", "positive", "--source", "robot"),
         "--source must be one of: human | ci | monitoring, got: 'robot'"),
    ],
)  # fmt: skip
def test_feedback_refuses_a_bad_value_and_stores_nothing(
    tmp_path: Path, store: Path, extra: tuple[str, ...], message: str
) -> None:
    result = ageflow(tmp_path, "feedback", TRACE.id, *extra, "--db", str(store))
    assert_one_line_failure(result, message)
    trace = stored_trace(store, TRACE.id)
    assert trace is not None and trace.feedback == ()


def test_feedback_on_an_unknown_trace_is_one_line(tmp_path: Path, store: Path) -> None:
    result = ageflow(tmp_path, "feedback", "no-such-trace", "--rating", "mixed", "--db", str(store))
    assert_one_line_failure(result, f'no trace "no-such-trace" in {store}')
    trace = stored_trace(store, TRACE.id)
    assert trace is not None and trace.feedback == ()


def test_feedback_without_a_rating_is_a_usage_error(tmp_path: Path, store: Path) -> None:
    result = ageflow(tmp_path, "feedback", TRACE.id, "--db", str(store))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--rating" in result.stderr


GOOD_BLOCK = 'name: "cite"\nagent: "writer"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Cite sources.\n", "does not start with a --- front-matter line"),
        (f"---\n{GOOD_BLOCK}Cite sources.\n", "has no closing --- line"),
        (f"---\n{GOOD_BLOCK}just words\n---\nx", "line 4: expected `key: value`"),
        (f"---\n{GOOD_BLOCK}colour: blue\n---\nx", "line 4: unknown field 'colour'"),
        (f"---\n{GOOD_BLOCK}name: other\n---\nx", "line 4: 'name' is given twice"),
        (f'---\n{GOOD_BLOCK}description: "open\n---\nx', "line 4: the quoted value is not"),
        (f"---\n{GOOD_BLOCK}score: high\n---\nx", "score: Input should be a valid number"),
        (f"---\n{GOOD_BLOCK}score: 1.5\n---\nx", "score: Input should be less than or equal"),
        (f"---\n{GOOD_BLOCK}status: shiny\n---\nx", "status: Input should be 'draft'"),
        ('---\nname: "cite"\n---\nx', "agent: Field required"),
    ],
)
def test_import_refuses_a_malformed_skill_file_and_creates_no_store(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.skill.md"
    path.write_text(text, encoding="utf-8")
    db = tmp_path / "learning.db"
    result = ageflow(tmp_path, "learn", "import", str(path), "--db", str(db))
    assert_one_line_failure(result, f'"{path}" is not a valid .skill.md file', message)
    assert not db.exists()


def test_import_of_a_missing_or_binary_file_is_one_line(tmp_path: Path, store: Path) -> None:
    before = stored_skills(store)
    missing = tmp_path / "gone.skill.md"
    assert_one_line_failure(
        ageflow(tmp_path, "learn", "import", str(missing), "--db", str(store)),
        f'no file "{missing}"',
    )
    binary = tmp_path / "binary.skill.md"
    binary.write_bytes(b"---\nname: \xff\xfe\n---\n")
    assert_one_line_failure(
        ageflow(tmp_path, "learn", "import", str(binary), "--db", str(store)),
        f'"{binary}" is not UTF-8 text',
    )
    assert stored_skills(store) == before


def _jobs_like_database(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY)")
    conn.close()


@pytest.mark.parametrize("command", ["status", "export", "import", "feedback"])
def test_a_file_that_is_not_a_learning_store_is_refused_and_left_untouched(
    tmp_path: Path, command: str
) -> None:
    skill_file = tmp_path / "ok.skill.md"
    skill_file.write_text(f"---\n{GOOD_BLOCK}---\nCite.\n", encoding="utf-8")
    args: dict[str, tuple[str, ...]] = {
        "status": ("learn", "status"),
        "export": ("learn", "export"),
        "import": ("learn", "import", str(skill_file)),
        "feedback": ("feedback", "trace-1", "--rating", "positive"),
    }
    other_db = tmp_path / "jobs.sqlite"
    _jobs_like_database(other_db)
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a database, " * 200, encoding="utf-8")
    before = {p: p.read_bytes() for p in (other_db, text_file)}

    result = ageflow(tmp_path, *args[command], "--db", str(other_db))
    assert_one_line_failure(result, f'"{other_db}" is an SQLite database but not a learning store')
    result = ageflow(tmp_path, *args[command], "--db", str(text_file))
    assert_one_line_failure(result, f'"{text_file}" is not a learning store')
    result = ageflow(tmp_path, *args[command], "--db", str(tmp_path))
    assert_one_line_failure(result, f'"{tmp_path}" is not a file')
    assert {p: p.read_bytes() for p in before} == before
    assert not (tmp_path / "jobs.sqlite-wal").exists()


def test_a_store_of_a_newer_schema_is_refused(tmp_path: Path, store: Path) -> None:
    with sqlite3.connect(store) as conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),)
        )
    conn.close()
    result = ageflow(tmp_path, "learn", "status", "--db", str(store))
    assert_one_line_failure(result, f"schema version {SCHEMA_VERSION + 1}", "upgrade")


def test_export_into_a_path_that_is_a_file_is_one_line(tmp_path: Path, store: Path) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("mine", encoding="utf-8")
    result = ageflow(tmp_path, "learn", "export", "-o", str(blocker), "--db", str(store))
    assert_one_line_failure(result, f'cannot write skills to "{blocker}"')
    assert blocker.read_text(encoding="utf-8") == "mine"


def test_export_never_writes_two_skills_to_one_file(tmp_path: Path) -> None:
    db = tmp_path / "learning.db"
    one = SkillRecord(id="writer-cite-a", name="cite", content="A.", agent="writer")
    two = one.model_copy(update={"id": "writer-cite-b", "content": "B."})
    seed(db, one, two)
    result = ageflow(tmp_path, "learn", "export", "--db", str(db), "--json")
    assert result.returncode == 0, result.stderr
    files = {f["id"]: Path(f["path"]).name for f in json.loads(result.stdout)["files"]}
    assert files == {
        "writer-cite-a": "cite-v0-writer-c.skill.md",
        "writer-cite-b": "cite-v0-writer-cite-b.skill.md",
    }
    assert len(list((tmp_path / "skills").iterdir())) == 2


def test_a_store_another_process_keeps_locked_fails_in_one_line_and_loses_nothing(
    tmp_path: Path, store: Path
) -> None:
    holder = sqlite3.connect(store, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held past the busy timeout
        result = ageflow(tmp_path, "feedback", TRACE.id, "--rating", "mixed", "--db", str(store))
        assert_one_line_failure(result, "database is locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    trace = stored_trace(store, TRACE.id)
    assert trace is not None and trace.feedback == ()
    again = ageflow(tmp_path, "feedback", TRACE.id, "--rating", "mixed", "--db", str(store))
    assert again.returncode == 0, again.stderr
