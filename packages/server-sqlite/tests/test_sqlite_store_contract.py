"""The RunStore contract, run against every store: in memory, SQLite file, SQLite :memory:.

Both stores must behave alike, so the runner can be tested on the in-memory one and
deployed on SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from ageflow.server import (
    InMemoryRunStore,
    RunStore,
    RunStoreError,
    StoreClosedError,
    StoredInput,
)
from ageflow.server_sqlite import SqliteRunStore

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite-file", "sqlite-memory"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunStore]:
    made: RunStore
    if request.param == "memory":
        made = InMemoryRunStore()
    elif request.param == "sqlite-file":
        made = SqliteRunStore(tmp_path / "runs.sqlite")
    else:
        made = SqliteRunStore(":memory:")
    assert isinstance(made, RunStore)
    yield made
    await made.close()


# -- records and inputs -------------------------------------------------------------


async def test_create_then_get_round_trips_every_field(store, rich_record) -> None:
    record = rich_record("r1")
    await store.create_run(record, {"q": "hello", "n": [1, 2.5, None]})

    got = await store.get_run("r1")

    assert got == record
    assert got is not record
    assert got.result.outputs["classify"] == {"label": "bug", "urgent": True}
    assert got.policy.extra == {"hitl": "elicit", "ttl": {"ms": 1000}}
    assert (got.owner, got.lease_until) == ("proc-a", 5_000)
    assert await store.get_input("r1") == StoredInput({"q": "hello", "n": [1, 2.5, None]})


async def test_records_are_copies_not_shared_objects(store, make_record) -> None:
    record = make_record("r1", progress={"n": 1})
    await store.create_run(record, None)
    record.progress["n"] = 2
    (await store.get_run("r1")).progress["n"] = 3

    assert (await store.get_run("r1")).progress == {"n": 1}


async def test_unknown_run_reads_as_none(store) -> None:
    assert await store.get_run("nope") is None
    assert await store.get_input("nope") is None
    assert await store.get_steps("nope") == {}


async def test_duplicate_create_raises_and_keeps_the_first(store, make_record) -> None:
    await store.create_run(make_record("r1", state="running"), {"first": True})

    with pytest.raises(RunStoreError, match="r1"):
        await store.create_run(make_record("r1", state="done"), {"second": True})

    assert (await store.get_run("r1")).state == "running"
    assert await store.get_input("r1") == StoredInput({"first": True})
    assert [r.run_id for r in await store.list_runs()] == ["r1"]


async def test_none_input_is_stored_and_distinct_from_a_missing_run(store, make_record) -> None:
    await store.create_run(make_record("r1"), None)

    stored = await store.get_input("r1")

    assert stored == StoredInput(None)
    assert stored is not None
    assert await store.get_input("r2") is None


async def test_save_run_never_changes_the_input(store, make_record) -> None:
    await store.create_run(make_record("r1"), {"q": "keep me"})

    assert await store.save_run(make_record("r1", state="done", last_event_at=5_000))
    assert await store.save_run(make_record("r1", state="failed", last_event_at=6_000))

    assert await store.get_input("r1") == StoredInput({"q": "keep me"})


async def test_save_run_replaces_the_record_state_and_last_event(store, make_record) -> None:
    await store.create_run(make_record("r1", created_at=1_000), {})
    await store.create_run(make_record("r2", created_at=2_000), {})
    saved = make_record("r1", state="done", last_event_at=3_000, progress={"x": 1})

    assert await store.save_run(saved) is True

    assert await store.get_run("r1") == saved
    assert [r.run_id for r in await store.list_runs()] == ["r1", "r2"]
    assert [r.run_id for r in await store.list_runs(states=["done"])] == ["r1"]
    assert [r.run_id for r in await store.list_runs(states=["running"])] == ["r2"]


async def test_save_run_of_an_unknown_run_returns_false(store, make_record) -> None:
    assert await store.save_run(make_record("ghost")) is False
    assert await store.get_run("ghost") is None


async def test_save_run_never_changes_owner_or_lease(store, make_record) -> None:
    await store.create_run(make_record("r1"), {})
    assert await store.claim_run("r1", "a", lease_until=500, now=100)

    await store.save_run(make_record("r1", state="done", owner="b", lease_until=9))

    got = await store.get_run("r1")
    assert (got.state, got.owner, got.lease_until) == ("done", "a", 500)


async def test_owned_save_refuses_when_another_owner_holds_the_run(store, make_record) -> None:
    await store.create_run(make_record("r1"), {})

    # Nobody holds it yet: an owned write is refused too (the caller never claimed it).
    assert await store.save_run(make_record("r1", state="done"), owner="a") is False
    assert await store.claim_run("r1", "a", lease_until=500, now=100)
    assert await store.save_run(make_record("r1", last_event_at=2), owner="a") is True
    assert await store.claim_run("r1", "b", lease_until=1_000, now=600)  # a's lease lapsed

    late = make_record("r1", state="done", last_event_at=3)
    assert await store.save_run(late, owner="a") is False
    assert await store.save_run(make_record("ghost"), owner="a") is False

    got = await store.get_run("r1")
    assert (got.state, got.last_event_at, got.owner) == ("running", 2, "b")


async def test_save_run_journals_steps_with_the_record(store, make_record, make_step) -> None:
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


async def test_a_refused_save_journals_none_of_its_steps(store, make_record, make_step) -> None:
    await store.create_run(make_record("r1"), {})
    assert await store.claim_run("r1", "a", lease_until=500, now=100)

    late = make_record("r1", state="done", last_event_at=3)
    assert await store.save_run(late, owner="b", steps=[make_step("x", 1)]) is False
    assert await store.save_run(make_record("ghost"), steps=[make_step("x", 1)]) is False

    assert await store.get_steps("r1") == {}
    assert await store.get_steps("ghost") == {}
    got = await store.get_run("r1")
    assert got is not None and got.state == "running"
    assert await store.save_run(late, owner="a", steps=[make_step("x", 1)]) is True
    assert list(await store.get_steps("r1")) == ["x"]


# -- listing and deleting ---------------------------------------------------------


async def test_list_runs_newest_first_with_filters_and_limit(store, make_record) -> None:
    await store.create_run(make_record("old", last_event_at=1), {})
    await store.create_run(make_record("new", last_event_at=3), {})
    await store.create_run(make_record("mid", workflow="other", state="done", last_event_at=2), {})
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


async def test_list_runs_returns_owner_and_lease(store, make_record) -> None:
    await store.create_run(make_record("r1"), {})
    await store.claim_run("r1", "me", lease_until=77, now=0)

    (listed,) = await store.list_runs()

    assert (listed.owner, listed.lease_until) == ("me", 77)


async def test_delete_run_removes_record_input_and_steps(store, make_record, make_step) -> None:
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
    store, make_record, make_step
) -> None:
    await store.create_run(make_record("done-old", state="done", last_event_at=10), {})
    await store.create_run(make_record("failed-old", state="failed", last_event_at=20), {})
    await store.create_run(make_record("cancelled-old", state="cancelled", last_event_at=30), {})
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


# -- step journal -----------------------------------------------------------------


async def test_steps_round_trip_in_first_journaled_order(store, make_record, make_step) -> None:
    await store.create_run(make_record("r1"), {})
    steps = [make_step("b"), make_step("loop[0]/a", {"n": [1, 2]}), make_step("loop[1]/a", 3)]
    for step in steps:
        await store.append_step("r1", step)

    got = await store.get_steps("r1")

    assert list(got) == ["b", "loop[0]/a", "loop[1]/a"]
    assert list(got.values()) == steps
    assert got["loop[0]/a"].metrics.latency_ms == 1.5


async def test_a_step_with_the_same_key_replaces_the_old_one_in_place(
    store, make_record, make_step
) -> None:
    await store.create_run(make_record("r1"), {})
    await store.append_step("r1", make_step("a", 1))
    await store.append_step("r1", make_step("b", 2))

    await store.append_step("r1", make_step("a", 10))

    got = await store.get_steps("r1")
    assert list(got) == ["a", "b"]
    assert (got["a"].output, got["b"].output) == (10, 2)


async def test_a_batch_of_steps_is_journaled_together(store, make_record, make_step) -> None:
    await store.create_run(make_record("r1"), {})
    await store.append_step("r1", make_step("a", 1))
    await store.append_steps("r1", [make_step("b", 2), make_step("a", 10), make_step("c", 3)])

    got = await store.get_steps("r1")
    assert list(got) == ["a", "b", "c"]
    assert [step.output for step in got.values()] == [10, 2, 3]
    with pytest.raises(RunStoreError, match="ghost"):
        await store.append_steps("ghost", [make_step("x")])
    assert await store.get_steps("ghost") == {}


async def test_steps_of_runs_are_kept_apart(store, make_record, make_step) -> None:
    await store.create_run(make_record("r1"), {})
    await store.create_run(make_record("r2"), {})
    await store.append_step("r1", make_step("a", 1))
    await store.append_step("r2", make_step("a", 2))

    assert (await store.get_steps("r1"))["a"].output == 1
    assert (await store.get_steps("r2"))["a"].output == 2


async def test_a_step_of_an_unknown_run_is_refused(store, make_step) -> None:
    with pytest.raises(RunStoreError, match="ghost"):
        await store.append_step("ghost", make_step("a"))

    assert await store.get_steps("ghost") == {}


async def test_concurrent_steps_are_all_journaled(store, make_record, make_step) -> None:
    await store.create_run(make_record("r1"), {})
    failures: list[BaseException] = []

    async def append(i: int, run_id: str) -> None:
        try:
            await store.append_step(run_id, make_step(f"t{i}", i))
        except RunStoreError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as group:
        for i in range(50):
            group.start_soon(append, i, "r1")
        group.start_soon(append, 99, "ghost")  # fails alone, the others still commit

    got = await store.get_steps("r1")
    assert sorted(got) == sorted(f"t{i}" for i in range(50))
    assert all(got[f"t{i}"].output == i for i in range(50))
    assert len(failures) == 1
    assert "ghost" in str(failures[0])


# -- ownership --------------------------------------------------------------------


async def test_claim_run_semantics(store, make_record) -> None:
    await store.create_run(make_record("r1"), {})

    assert await store.claim_run("ghost", "a", lease_until=500, now=100) is False
    assert await store.claim_run("r1", "a", lease_until=500, now=100) is True  # free
    assert await store.claim_run("r1", "a", lease_until=800, now=200) is True  # mine: extends
    assert await store.claim_run("r1", "b", lease_until=900, now=300) is False  # live lease
    assert await store.claim_run("r1", "b", lease_until=900, now=800) is False  # not yet lapsed
    got = await store.get_run("r1")
    assert (got.owner, got.lease_until) == ("a", 800)

    assert await store.claim_run("r1", "b", lease_until=2_000, now=801) is True  # lapsed

    got = await store.get_run("r1")
    assert (got.owner, got.lease_until) == ("b", 2_000)


async def test_a_created_owner_without_lease_counts_as_lapsed(store, make_record) -> None:
    await store.create_run(make_record("r1", owner="a"), {})

    assert await store.claim_run("r1", "b", lease_until=10, now=1) is True


async def test_concurrent_claims_have_exactly_one_winner(store, make_record) -> None:
    await store.create_run(make_record("r1"), {})
    wins: list[str] = []

    async def claim(owner: str) -> None:
        if await store.claim_run("r1", owner, lease_until=10_000, now=100):
            wins.append(owner)

    async with anyio.create_task_group() as group:
        for n in range(10):
            group.start_soon(claim, f"owner-{n % 2}-{n}")

    assert len(wins) == 1
    assert (await store.get_run("r1")).owner == wins[0]


async def test_renew_leases_returns_only_the_runs_still_held(store, make_record) -> None:
    for run_id in ("r1", "r2", "r3"):
        await store.create_run(make_record(run_id), {})
    await store.claim_run("r1", "a", lease_until=100, now=0)
    await store.claim_run("r2", "a", lease_until=100, now=0)
    await store.claim_run("r2", "b", lease_until=300, now=200)  # a lost r2

    held = await store.renew_leases("a", ["r1", "r2", "r3", "ghost"], lease_until=1_000)

    assert held == {"r1"}
    assert (await store.get_run("r1")).lease_until == 1_000
    assert (await store.get_run("r2")).lease_until == 300
    assert await store.renew_leases("a", [], lease_until=5) == set()


async def test_release_runs_frees_only_the_callers_runs(store, make_record) -> None:
    for run_id in ("r1", "r2"):
        await store.create_run(make_record(run_id), {})
    await store.claim_run("r1", "a", lease_until=1_000, now=0)
    await store.claim_run("r2", "b", lease_until=1_000, now=0)

    await store.release_runs("a", ["r1", "r2", "ghost"])

    r1, r2 = await store.get_run("r1"), await store.get_run("r2")
    assert (r1.owner, r1.lease_until) == (None, None)
    assert (r2.owner, r2.lease_until) == ("b", 1_000)
    assert await store.claim_run("r1", "c", lease_until=2_000, now=10) is True
    await store.release_runs("a", [])


async def test_list_claimable(store, make_record) -> None:
    await store.create_run(make_record("free"), {})
    await store.create_run(make_record("waiting", state="awaiting-checkpoint"), {})
    await store.create_run(make_record("held"), {})
    await store.create_run(make_record("lapsed"), {})
    await store.create_run(make_record("done", state="done"), {})
    await store.create_run(make_record("failed", state="failed"), {})
    await store.create_run(make_record("foreign", workflow="other"), {})
    await store.create_run(make_record("mine-held"), {})
    await store.claim_run("held", "b", lease_until=1_000, now=0)
    await store.claim_run("lapsed", "b", lease_until=400, now=0)
    await store.claim_run("mine-held", "a", lease_until=1_000, now=0)

    claimable = await store.list_claimable(["wf"], now=500)

    assert [r.run_id for r in claimable] == ["free", "waiting", "lapsed"]
    assert claimable[2].owner == "b"
    assert [r.run_id for r in await store.list_claimable(["other"], now=500)] == ["foreign"]
    assert await store.list_claimable([], now=500) == []
    assert len(await store.list_claimable(["wf", "other"], now=2_000)) == 6


# -- closing ----------------------------------------------------------------------


async def test_every_call_raises_after_close(store, make_record, make_step) -> None:
    await store.create_run(make_record("r1"), {})
    await store.close()
    await store.close()  # idempotent

    calls = {
        "create_run": lambda: store.create_run(make_record("r2"), {}),
        "get_run": lambda: store.get_run("r1"),
        "get_input": lambda: store.get_input("r1"),
        "save_run": lambda: store.save_run(make_record("r1")),
        "save_run owned": lambda: store.save_run(make_record("r1"), owner="a"),
        "list_runs": lambda: store.list_runs(),
        "list_runs empty filter": lambda: store.list_runs(states=[]),
        "delete_run": lambda: store.delete_run("r1"),
        "delete_finished_before": lambda: store.delete_finished_before(10**15),
        "append_step": lambda: store.append_step("r1", make_step("a")),
        "append_steps": lambda: store.append_steps("r1", [make_step("a")]),
        "get_steps": lambda: store.get_steps("r1"),
        "claim_run": lambda: store.claim_run("r1", "a", 10, 0),
        "renew_leases": lambda: store.renew_leases("a", ["r1"], 10),
        "renew_leases none": lambda: store.renew_leases("a", [], 10),
        "release_runs": lambda: store.release_runs("a", ["r1"]),
        "release_runs none": lambda: store.release_runs("a", []),
        "list_claimable": lambda: store.list_claimable(["wf"], 0),
        "list_claimable none": lambda: store.list_claimable([], 0),
    }
    for name, call in calls.items():
        with pytest.raises(StoreClosedError):
            await call()
            pytest.fail(f"{name} did not raise after close()")
