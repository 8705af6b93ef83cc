"""What only a real file shows: settings, persistence, migrations, a newer file refused,
indexes used, serialised writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiosqlite
import anyio
import pytest

from ageflow.learning import Feedback, LearningStoreError, SkillStatus, TraceFilter
from ageflow.learning.testing import at, make_skill, make_trace, rich_trace
from ageflow.learning_sqlite import SCHEMA_VERSION, LearningDatabase, SchemaVersionError
from ageflow.learning_sqlite.schema import migrate

pytestmark = pytest.mark.anyio


def _pragma(path: Path, name: str) -> object:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def _version(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0])


async def test_file_is_wal_and_synchronous_normal(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "learning.sqlite"
    async with LearningDatabase(path) as db:
        assert _pragma(path, "journal_mode") == "wal"
        rows = await db.read("PRAGMA synchronous")
        assert rows[0][0] == 1  # NORMAL
    assert _version(path) == SCHEMA_VERSION


async def test_records_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "learning.sqlite"
    skill = make_skill(score=0.75, run_count=3)
    trace = rich_trace()
    async with LearningDatabase(path) as db:
        await db.skills.save(skill)
        await db.traces.save_trace(trace)
        await db.traces.add_feedback(trace.id, Feedback(rating="positive", source="human"))
    async with LearningDatabase(path) as db:
        assert await db.skills.get(skill.id) == skill
        reread = await db.traces.get_trace(trace.id)
        assert reread is not None
        assert [f.rating for f in reread.feedback] == ["mixed", "positive"]


def _make_v1_file(path: Path) -> None:
    async def build() -> None:
        async with aiosqlite.connect(path, isolation_level=None) as conn:
            await migrate(conn, str(path), target=1)
            payload_with = make_trace(
                id="rated", feedback=(Feedback(rating="negative", source="ci"),)
            ).model_dump_json()
            payload_without = make_trace(id="plain", run_at=at(1)).model_dump_json()
            await conn.execute(
                "INSERT INTO traces (id, workflow_name, run_at, payload) VALUES (?, ?, ?, ?)",
                ("rated", "report", 0, payload_with),
            )
            await conn.execute(
                "INSERT INTO traces (id, workflow_name, run_at, payload) VALUES (?, ?, ?, ?)",
                ("plain", "report", 60_000_000, payload_without),
            )

    anyio.run(build)


async def test_version_1_file_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    await anyio.to_thread.run_sync(_make_v1_file, path)
    assert _version(path) == 1
    async with LearningDatabase(path) as db:
        rated = await db.traces.traces(TraceFilter(has_feedback=True))
        assert [t.id for t in rated] == ["rated"]
        unrated = await db.traces.traces(TraceFilter(has_feedback=False))
        assert [t.id for t in unrated] == ["plain"]
    assert _version(path) == SCHEMA_VERSION
    with sqlite3.connect(path) as conn:
        indexes = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
    assert "idx_traces_feedback" in indexes


async def test_newer_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    async with LearningDatabase(path) as db:
        await db.skills.save(make_skill())
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db = LearningDatabase(path)
    with pytest.raises(SchemaVersionError) as caught:
        await db.open()
    assert isinstance(caught.value, LearningStoreError)
    assert (caught.value.found, caught.value.supported) == (99, SCHEMA_VERSION)
    assert "schema version 99" in str(caught.value)
    assert f"up to version {SCHEMA_VERSION}" in str(caught.value)
    assert _version(path) == 99
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM skills").fetchone()[0] == 1


async def test_reopening_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "learning.sqlite"
    async with LearningDatabase(path):
        pass
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await migrate(conn, str(path)) == SCHEMA_VERSION


def _plan(path: Path, sql: str, params: tuple[object, ...]) -> str:
    with sqlite3.connect(path) as conn:
        rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
    return " | ".join(str(row[-1]) for row in rows)


async def test_queries_use_their_indexes(tmp_path: Path) -> None:
    path = tmp_path / "learning.sqlite"
    async with LearningDatabase(path):
        pass
    active = _plan(
        path,
        "SELECT payload FROM skills WHERE agent = ? AND status = ? ORDER BY score DESC",
        ("writer", "active"),
    )
    assert "idx_skills_agent" in active
    children = _plan(path, "SELECT id FROM skills WHERE parent_id = ?", ("x",))
    assert "idx_skills_parent" in children
    by_workflow = _plan(
        path,
        "SELECT payload FROM traces WHERE workflow_name = ? ORDER BY run_at DESC, id DESC",
        ("report",),
    )
    assert "idx_traces_workflow" in by_workflow
    assert "TEMP B-TREE" not in by_workflow
    rated = _plan(
        path,
        "SELECT payload FROM traces WHERE has_feedback = ? ORDER BY run_at DESC, id DESC",
        (1,),
    )
    assert "idx_traces_feedback" in rated


async def test_concurrent_feedback_is_all_kept(tmp_path: Path) -> None:
    async with LearningDatabase(tmp_path / "learning.sqlite") as db:
        trace = make_trace()
        await db.traces.save_trace(trace)

        async def give(n: int) -> None:
            await db.traces.add_feedback(
                trace.id, Feedback(rating="positive", source="ci", comment=str(n))
            )

        async with anyio.create_task_group() as tg:
            for n in range(40):
                tg.start_soon(give, n)
        stored = await db.traces.get_trace(trace.id)
        assert stored is not None
        assert sorted(int(f.comment or "") for f in stored.feedback) == list(range(40))


async def test_two_databases_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "learning.sqlite"
    async with LearningDatabase(path) as first, LearningDatabase(path) as second:
        skill = make_skill()
        await first.skills.save(skill)
        await second.skills.set_status(skill.id, SkillStatus.RETIRED)
        reread = await first.skills.get(skill.id)
        assert reread is not None
        assert reread.status is SkillStatus.RETIRED


async def test_closed_database_refuses_use(tmp_path: Path) -> None:
    db = LearningDatabase(tmp_path / "learning.sqlite")
    await db.open()
    await db.skills.close()
    await db.traces.close()  # closing twice is harmless
    with pytest.raises(LearningStoreError, match="closed"):
        await db.skills.get("x")
    with pytest.raises(LearningStoreError, match="closed"):
        await db.open()


async def test_unopenable_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "not-a-db.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LearningStoreError, match="cannot open the learning store"):
        await LearningDatabase(path).open()


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_trio_is_refused_plainly(tmp_path: Path) -> None:
    with pytest.raises(LearningStoreError, match="asyncio backend"):
        await LearningDatabase(tmp_path / "x.sqlite").open()


async def test_failed_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ageflow.learning_sqlite import schema

    path = tmp_path / "old.sqlite"
    await anyio.to_thread.run_sync(_make_v1_file, path)

    async def broken(conn: aiosqlite.Connection) -> None:
        await conn.execute("ALTER TABLE traces ADD COLUMN has_feedback INTEGER")
        await conn.execute("THIS IS NOT SQL")

    monkeypatch.setitem(schema.MIGRATIONS, 2, broken)
    with pytest.raises(LearningStoreError, match="cannot open the learning store"):
        await LearningDatabase(path).open()
    assert _version(path) == 1
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(traces)")}
    assert "has_feedback" not in columns


async def test_directory_that_cannot_be_made_is_one_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LearningStoreError, match="cannot create its directory"):
        await LearningDatabase(blocker / "sub" / "learning.sqlite").open()
