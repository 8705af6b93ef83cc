"""The SkillStore half of the contract."""

from __future__ import annotations

import pytest

from ageflow.learning.models import SkillStatus
from ageflow.learning.stores import SkillStore, UnknownSkillError
from ageflow.learning.testing._builders import at, make_skill


@pytest.mark.anyio
class SkillStoreContract:
    """Subclasses provide a ``skill_store`` fixture yielding a fresh, empty store."""

    async def test_is_a_skill_store(self, skill_store: SkillStore) -> None:
        assert isinstance(skill_store, SkillStore)

    async def test_saved_skill_reads_back_equal(self, skill_store: SkillStore) -> None:
        skill = make_skill(
            description="precision",
            workflow="report",
            version=3,
            parent_id="p-1",
            score=0.8125,
            run_count=7,
            best_in_lineage=False,
            status=SkillStatus.CANDIDATE,
            content="Line one\nLine «two»",
        )
        await skill_store.save(skill)
        assert await skill_store.get(skill.id) == skill

    async def test_unknown_id_reads_none(self, skill_store: SkillStore) -> None:
        assert await skill_store.get("missing") is None
        assert await skill_store.best_in_lineage("missing") is None

    async def test_save_replaces_same_id(self, skill_store: SkillStore) -> None:
        skill = make_skill()
        await skill_store.save(skill)
        changed = skill.model_copy(update={"score": 0.9, "run_count": 4})
        await skill_store.save(changed)
        assert await skill_store.get(skill.id) == changed
        assert [s.id for s in await skill_store.list_skills()] == [skill.id]

    async def test_list_is_oldest_first(self, skill_store: SkillStore) -> None:
        late = make_skill(name="late", created_at=at(10))
        early = make_skill(name="early", created_at=at(1))
        await skill_store.save(late)
        await skill_store.save(early)
        assert [s.name for s in await skill_store.list_skills()] == ["early", "late"]

    async def test_for_agent_is_best_first_and_filters(self, skill_store: SkillStore) -> None:
        low = make_skill(name="low", score=0.2, workflow="report")
        high = make_skill(name="high", score=0.9, status=SkillStatus.RETIRED, workflow="report")
        other_workflow = make_skill(name="elsewhere", score=0.5, workflow="digest")
        other_agent = make_skill(name="critic", agent="critic", score=1.0)
        for skill in (low, high, other_workflow, other_agent):
            await skill_store.save(skill)
        every = await skill_store.for_agent("writer")
        assert [s.name for s in every] == ["high", "elsewhere", "low"]
        in_report = await skill_store.for_agent("writer", "report")
        assert [s.name for s in in_report] == ["high", "low"]
        assert list(await skill_store.for_agent("nobody")) == []

    async def test_active_for_picks_best_active(self, skill_store: SkillStore) -> None:
        await skill_store.save(make_skill(name="retired", score=1.0, status=SkillStatus.RETIRED))
        await skill_store.save(make_skill(name="draft", score=0.95, status=SkillStatus.DRAFT))
        await skill_store.save(make_skill(name="ok", score=0.6, workflow="report"))
        await skill_store.save(make_skill(name="better", score=0.7, workflow="digest"))
        best = await skill_store.active_for("writer")
        assert best is not None
        assert best.name == "better"
        scoped = await skill_store.active_for("writer", "report")
        assert scoped is not None
        assert scoped.name == "ok"
        assert await skill_store.active_for("writer", "nowhere") is None
        assert await skill_store.active_for("critic") is None

    async def test_score_ties_go_to_newer_version(self, skill_store: SkillStore) -> None:
        await skill_store.save(make_skill(name="v1", version=1, score=0.5))
        await skill_store.save(make_skill(name="v2", version=2, score=0.5))
        best = await skill_store.active_for("writer")
        assert best is not None
        assert best.name == "v2"

    async def test_best_in_lineage_walks_up_and_down(self, skill_store: SkillStore) -> None:
        root = make_skill(name="root", version=0, score=0.4, status=SkillStatus.RETIRED)
        child = make_skill(name="child", version=1, parent_id=root.id, score=0.9)
        grandchild = make_skill(name="grand", version=2, parent_id=child.id, score=0.3)
        sibling = make_skill(name="sibling", version=1, parent_id=root.id, score=0.5)
        stranger = make_skill(name="stranger", score=1.0)
        for skill in (root, child, grandchild, sibling, stranger):
            await skill_store.save(skill)
        for start in (root, child, grandchild, sibling):
            best = await skill_store.best_in_lineage(start.id)
            assert best is not None, start.name
            assert best.name == "child", start.name
        alone = await skill_store.best_in_lineage(stranger.id)
        assert alone is not None
        assert alone.name == "stranger"

    async def test_lineage_survives_a_deleted_root(self, skill_store: SkillStore) -> None:
        root = make_skill(name="root", score=1.0)
        a = make_skill(name="a", parent_id=root.id, score=0.2)
        b = make_skill(name="b", parent_id=root.id, score=0.6)
        for skill in (root, a, b):
            await skill_store.save(skill)
        assert await skill_store.delete(root.id) is True
        best = await skill_store.best_in_lineage(a.id)
        assert best is not None
        assert best.name == "b"
        kept = await skill_store.get(a.id)
        assert kept is not None
        assert kept.parent_id == root.id

    async def test_lineage_cycle_ends(self, skill_store: SkillStore) -> None:
        # Records are saved as given, so a bad parent chain must not hang a lookup.
        a = make_skill(id="a", name="a", parent_id="b", score=0.3)
        b = make_skill(id="b", name="b", parent_id="a", score=0.6)
        child = make_skill(id="c", name="c", parent_id="b", score=0.1)
        for skill in (a, b, child):
            await skill_store.save(skill)
        for start in ("a", "b", "c"):
            best = await skill_store.best_in_lineage(start)
            assert best is not None, start
            assert best.name == "b", start

    async def test_set_status(self, skill_store: SkillStore) -> None:
        skill = make_skill()
        await skill_store.save(skill)
        updated = await skill_store.set_status(skill.id, SkillStatus.ROLLED_BACK)
        assert updated == skill.model_copy(update={"status": SkillStatus.ROLLED_BACK})
        assert await skill_store.get(skill.id) == updated
        assert await skill_store.active_for("writer") is None

    async def test_set_status_unknown_raises(self, skill_store: SkillStore) -> None:
        with pytest.raises(UnknownSkillError) as caught:
            await skill_store.set_status("missing", SkillStatus.RETIRED)
        assert caught.value.skill_id == "missing"

    async def test_delete(self, skill_store: SkillStore) -> None:
        skill = make_skill()
        await skill_store.save(skill)
        assert await skill_store.delete(skill.id) is True
        assert await skill_store.get(skill.id) is None
        assert await skill_store.delete(skill.id) is False
        assert list(await skill_store.list_skills()) == []
