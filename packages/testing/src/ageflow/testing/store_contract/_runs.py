"""The RunStore contract, part one: records, inputs, listing and deleting."""

from __future__ import annotations

from typing import Any

import pytest

from ageflow.server import RunStore, RunStoreError, StoredInput
from ageflow.testing.store_contract._builders import make_record, make_step, rich_record, stored


class RunsContract:
    """Records and inputs round-trip; listings filter and order; deletes forget."""

    # -- records and inputs -------------------------------------------------------------

    async def test_create_then_get_round_trips_every_field(self, store: RunStore) -> None:
        record = rich_record("r1")
        await store.create_run(record, {"q": "hello", "n": [1, 2.5, None]})

        got = await stored(store, "r1")

        assert got == record
        assert got is not record
        assert got.result is not None
        assert got.result.outputs["classify"] == {"label": "bug", "urgent": True}
        assert got.policy.extra == {"hitl": "elicit", "ttl": {"ms": 1000}}
        assert (got.owner, got.lease_until) == ("proc-a", 5_000)
        assert await store.get_input("r1") == StoredInput({"q": "hello", "n": [1, 2.5, None]})

    async def test_records_are_copies_not_shared_objects(self, store: RunStore) -> None:
        record = make_record("r1", progress={"n": 1})
        await store.create_run(record, None)
        record.progress["n"] = 2
        (await stored(store, "r1")).progress["n"] = 3

        assert (await stored(store, "r1")).progress == {"n": 1}

    async def test_unknown_run_reads_as_none(self, store: RunStore) -> None:
        assert await store.get_run("nope") is None
        assert await store.get_input("nope") is None
        assert await store.get_steps("nope") == {}

    async def test_duplicate_create_raises_and_keeps_the_first(self, store: RunStore) -> None:
        await store.create_run(make_record("r1", state="running"), {"first": True})

        with pytest.raises(RunStoreError, match="r1"):
            await store.create_run(make_record("r1", state="done"), {"second": True})

        assert (await stored(store, "r1")).state == "running"
        assert await store.get_input("r1") == StoredInput({"first": True})
        assert [r.run_id for r in await store.list_runs()] == ["r1"]

    async def test_none_input_is_stored_and_distinct_from_a_missing_run(
        self, store: RunStore
    ) -> None:
        await store.create_run(make_record("r1"), None)

        stored = await store.get_input("r1")

        assert stored == StoredInput(None)
        assert stored is not None
        assert await store.get_input("r2") is None

    async def test_save_run_never_changes_the_input(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {"q": "keep me"})

        assert await store.save_run(make_record("r1", state="done", last_event_at=5_000))
        assert await store.save_run(make_record("r1", state="failed", last_event_at=6_000))

        assert await store.get_input("r1") == StoredInput({"q": "keep me"})

    async def test_save_run_replaces_the_record_state_and_last_event(self, store: RunStore) -> None:
        await store.create_run(make_record("r1", created_at=1_000), {})
        await store.create_run(make_record("r2", created_at=2_000), {})
        saved = make_record("r1", state="done", last_event_at=3_000, progress={"x": 1})

        assert await store.save_run(saved) is True

        assert await store.get_run("r1") == saved
        assert [r.run_id for r in await store.list_runs()] == ["r1", "r2"]
        assert [r.run_id for r in await store.list_runs(states=["done"])] == ["r1"]
        assert [r.run_id for r in await store.list_runs(states=["running"])] == ["r2"]

    async def test_save_run_of_an_unknown_run_returns_false(self, store: RunStore) -> None:
        assert await store.save_run(make_record("ghost")) is False
        assert await store.get_run("ghost") is None

    async def test_save_run_never_changes_owner_or_lease(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})
        assert await store.claim_run("r1", "a", lease_until=500, now=100)

        await store.save_run(make_record("r1", state="done", owner="b", lease_until=9))

        got = await stored(store, "r1")
        assert (got.state, got.owner, got.lease_until) == ("done", "a", 500)

    async def test_owned_save_refuses_when_another_owner_holds_the_run(
        self, store: RunStore
    ) -> None:
        await store.create_run(make_record("r1"), {})

        # Nobody holds it yet: an owned write is refused too (the caller never claimed it).
        assert await store.save_run(make_record("r1", state="done"), owner="a") is False
        assert await store.claim_run("r1", "a", lease_until=500, now=100)
        assert await store.save_run(make_record("r1", last_event_at=2), owner="a") is True
        assert await store.claim_run("r1", "b", lease_until=1_000, now=600)  # a's lease lapsed

        late = make_record("r1", state="done", last_event_at=3)
        assert await store.save_run(late, owner="a") is False
        assert await store.save_run(make_record("ghost"), owner="a") is False

        got = await stored(store, "r1")
        assert (got.state, got.last_event_at, got.owner) == ("running", 2, "b")

    async def test_save_run_journals_steps_with_the_record(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {"q": 1})
        await store.append_step("r1", make_step("a", 1))
        last = [make_step("b", {"text": 'quote " and é'}), make_step("a", 10)]

        done = make_record("r1", state="done", last_event_at=7)
        assert await store.save_run(done, steps=last) is True

        assert await store.get_run("r1") == done
        got = await store.get_steps("r1")
        assert list(got) == ["a", "b"]  # a replaced step keeps its place
        assert got["a"].output == 10
        assert got["b"] == last[0]
        assert await store.get_input("r1") == StoredInput({"q": 1})

    async def test_a_refused_save_journals_none_of_its_steps(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})
        assert await store.claim_run("r1", "a", lease_until=500, now=100)

        late = make_record("r1", state="done", last_event_at=3)
        assert await store.save_run(late, owner="b", steps=[make_step("x", 1)]) is False
        assert await store.save_run(make_record("ghost"), steps=[make_step("x", 1)]) is False

        assert await store.get_steps("r1") == {}
        assert await store.get_steps("ghost") == {}
        got = await stored(store, "r1")
        assert got is not None
        assert got.state == "running"
        assert await store.save_run(late, owner="a", steps=[make_step("x", 1)]) is True
        assert list(await store.get_steps("r1")) == ["x"]

    # -- listing and deleting ---------------------------------------------------------

    async def test_list_runs_newest_first_with_filters_and_limit(self, store: RunStore) -> None:
        await store.create_run(make_record("old", last_event_at=1), {})
        await store.create_run(make_record("new", last_event_at=3), {})
        await store.create_run(
            make_record("mid", workflow="other", state="done", last_event_at=2), {}
        )
        await store.create_run(make_record("tie", workflow="other", last_event_at=3), {})

        def ids(records: list[Any]) -> list[str]:
            return [r.run_id for r in records]

        # Ties keep insertion order ("new" was created before "tie").
        assert ids(await store.list_runs()) == ["new", "tie", "mid", "old"]
        assert ids(await store.list_runs(workflow_names=["wf"])) == ["new", "old"]
        both = {"wf", "other"}
        assert ids(await store.list_runs(workflow_names=both)) == ["new", "tie", "mid", "old"]
        assert ids(await store.list_runs(states=["running"])) == ["new", "tie", "old"]
        assert ids(await store.list_runs(workflow_names=["other"], states=["done"])) == ["mid"]
        assert ids(await store.list_runs(limit=2)) == ["new", "tie"]
        assert ids(await store.list_runs(states=["running"], limit=1)) == ["new"]
        assert ids(await store.list_runs(limit=0)) == []
        assert ids(await store.list_runs(workflow_names=[])) == []
        assert ids(await store.list_runs(states=[])) == []
        assert ids(await store.list_runs(workflow_names=["nope"])) == []

    async def test_list_runs_returns_owner_and_lease(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})
        await store.claim_run("r1", "me", lease_until=77, now=0)

        (listed,) = await store.list_runs()

        assert (listed.owner, listed.lease_until) == ("me", 77)

    async def test_delete_run_removes_record_input_and_steps(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {"q": 1})
        await store.create_run(make_record("r2"), {"q": 2})
        await store.append_step("r1", make_step("a"))
        await store.append_step("r2", make_step("b"))

        await store.delete_run("r1")
        await store.delete_run("r1")  # unknown: no error

        assert await store.get_run("r1") is None
        assert await store.get_input("r1") is None
        assert await store.get_steps("r1") == {}
        assert list(await store.get_steps("r2")) == ["b"]
        # The id can be used again, with nothing left over from the deleted run.
        await store.create_run(make_record("r1"), {"q": "again"})
        assert await store.get_input("r1") == StoredInput({"q": "again"})
        assert await store.get_steps("r1") == {}

    async def test_delete_finished_before_only_deletes_old_finished_runs(
        self, store: RunStore
    ) -> None:
        await store.create_run(make_record("done-old", state="done", last_event_at=10), {})
        await store.create_run(make_record("failed-old", state="failed", last_event_at=20), {})
        await store.create_run(
            make_record("cancelled-old", state="cancelled", last_event_at=30), {}
        )
        await store.create_run(make_record("running-old", state="running", last_event_at=10), {})
        await store.create_run(
            make_record("waiting-old", state="awaiting-checkpoint", last_event_at=10), {}
        )
        await store.create_run(make_record("done-at-cutoff", state="done", last_event_at=100), {})
        await store.create_run(make_record("done-new", state="done", last_event_at=200), {})
        await store.append_step("done-old", make_step("a"))

        deleted = await store.delete_finished_before(100)

        assert deleted == ["done-old", "failed-old", "cancelled-old"]
        assert sorted(r.run_id for r in await store.list_runs()) == [
            "done-at-cutoff",
            "done-new",
            "running-old",
            "waiting-old",
        ]
        assert await store.get_input("done-old") is None
        assert await store.get_steps("done-old") == {}
        assert await store.delete_finished_before(100) == []
