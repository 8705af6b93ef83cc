"""The RunStore contract, part two: the step journal, ownership leases and closing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from ageflow.server import RunStore, RunStoreError, StoreClosedError
from ageflow.testing.store_contract._builders import make_record, make_step, stored


class JournalContract:
    """Steps are journaled in order and atomically; leases have one holder; close ends all."""

    # -- step journal -----------------------------------------------------------------

    async def test_steps_round_trip_in_first_journaled_order(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})
        steps = [make_step("b"), make_step("loop[0]/a", {"n": [1, 2]}), make_step("loop[1]/a", 3)]
        for step in steps:
            await store.append_step("r1", step)

        got = await store.get_steps("r1")

        assert list(got) == ["b", "loop[0]/a", "loop[1]/a"]
        assert list(got.values()) == steps
        assert got["loop[0]/a"].metrics.latency_ms == 1.5

    async def test_a_step_with_the_same_key_replaces_the_old_one_in_place(
        self, store: RunStore
    ) -> None:
        await store.create_run(make_record("r1"), {})
        await store.append_step("r1", make_step("a", 1))
        await store.append_step("r1", make_step("b", 2))

        await store.append_step("r1", make_step("a", 10))

        got = await store.get_steps("r1")
        assert list(got) == ["a", "b"]
        assert (got["a"].output, got["b"].output) == (10, 2)

    async def test_a_batch_of_steps_is_journaled_together(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})
        await store.append_step("r1", make_step("a", 1))
        await store.append_steps("r1", [make_step("b", 2), make_step("a", 10), make_step("c", 3)])

        got = await store.get_steps("r1")
        assert list(got) == ["a", "b", "c"]
        assert [step.output for step in got.values()] == [10, 2, 3]
        with pytest.raises(RunStoreError, match="ghost"):
            await store.append_steps("ghost", [make_step("x")])
        assert await store.get_steps("ghost") == {}

    async def test_steps_of_runs_are_kept_apart(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})
        await store.create_run(make_record("r2"), {})
        await store.append_step("r1", make_step("a", 1))
        await store.append_step("r2", make_step("a", 2))

        assert (await store.get_steps("r1"))["a"].output == 1
        assert (await store.get_steps("r2"))["a"].output == 2

    async def test_a_step_of_an_unknown_run_is_refused(self, store: RunStore) -> None:
        with pytest.raises(RunStoreError, match="ghost"):
            await store.append_step("ghost", make_step("a"))

        assert await store.get_steps("ghost") == {}

    async def test_concurrent_steps_are_all_journaled(self, store: RunStore) -> None:
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

    async def test_claim_run_semantics(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})

        assert await store.claim_run("ghost", "a", lease_until=500, now=100) is False
        assert await store.claim_run("r1", "a", lease_until=500, now=100) is True  # free
        assert await store.claim_run("r1", "a", lease_until=800, now=200) is True  # mine: extends
        assert await store.claim_run("r1", "b", lease_until=900, now=300) is False  # live lease
        assert await store.claim_run("r1", "b", lease_until=900, now=800) is False  # not yet lapsed
        got = await stored(store, "r1")
        assert (got.owner, got.lease_until) == ("a", 800)

        assert await store.claim_run("r1", "b", lease_until=2_000, now=801) is True  # lapsed

        got = await stored(store, "r1")
        assert (got.owner, got.lease_until) == ("b", 2_000)

    async def test_a_created_owner_without_lease_counts_as_lapsed(self, store: RunStore) -> None:
        await store.create_run(make_record("r1", owner="a"), {})

        assert await store.claim_run("r1", "b", lease_until=10, now=1) is True

    async def test_concurrent_claims_have_exactly_one_winner(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})
        wins: list[str] = []

        async def claim(owner: str) -> None:
            if await store.claim_run("r1", owner, lease_until=10_000, now=100):
                wins.append(owner)

        async with anyio.create_task_group() as group:
            for n in range(10):
                group.start_soon(claim, f"owner-{n % 2}-{n}")

        assert len(wins) == 1
        assert (await stored(store, "r1")).owner == wins[0]

    async def test_renew_leases_returns_only_the_runs_still_held(self, store: RunStore) -> None:
        for run_id in ("r1", "r2", "r3"):
            await store.create_run(make_record(run_id), {})
        await store.claim_run("r1", "a", lease_until=100, now=0)
        await store.claim_run("r2", "a", lease_until=100, now=0)
        await store.claim_run("r2", "b", lease_until=300, now=200)  # a lost r2

        held = await store.renew_leases("a", ["r1", "r2", "r3", "ghost"], lease_until=1_000)

        assert held == {"r1"}
        assert (await stored(store, "r1")).lease_until == 1_000
        assert (await stored(store, "r2")).lease_until == 300
        assert await store.renew_leases("a", [], lease_until=5) == set()

    async def test_release_runs_frees_only_the_callers_runs(self, store: RunStore) -> None:
        for run_id in ("r1", "r2"):
            await store.create_run(make_record(run_id), {})
        await store.claim_run("r1", "a", lease_until=1_000, now=0)
        await store.claim_run("r2", "b", lease_until=1_000, now=0)

        await store.release_runs("a", ["r1", "r2", "ghost"])

        r1, r2 = await stored(store, "r1"), await stored(store, "r2")
        assert (r1.owner, r1.lease_until) == (None, None)
        assert (r2.owner, r2.lease_until) == ("b", 1_000)
        assert await store.claim_run("r1", "c", lease_until=2_000, now=10) is True
        await store.release_runs("a", [])

    async def test_list_claimable(self, store: RunStore) -> None:
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

    async def test_every_call_raises_after_close(self, store: RunStore) -> None:
        await store.create_run(make_record("r1"), {})
        await store.close()
        await store.close()  # idempotent

        calls: dict[str, Callable[[], Awaitable[Any]]] = {
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
            try:
                await call()
            except StoreClosedError:
                continue
            pytest.fail(f"{name} did not raise after close()")
