"""BudgetTracker: pricing, accumulation, halt/warn checks and the once-only callback."""

from __future__ import annotations

import logging

import anyio
import pytest

from ageflow.core.config import BudgetConfig, BudgetExceededInfo
from ageflow.core.errors import BudgetExceededError
from ageflow.executor.budget import DEFAULT_PRICE_KEY, PRICES, BudgetTracker, ModelPrice

MILLION = 1_000_000


def test_price_table_rows():
    assert PRICES["claude-opus-4-6"] == ModelPrice(15.0, 75.0)
    assert PRICES["claude-sonnet-4-6"] == ModelPrice(3.0, 15.0)
    assert PRICES["claude-haiku-4-5"] == ModelPrice(0.8, 4.0)
    assert PRICES["o4-mini"] == ModelPrice(1.1, 4.4)
    assert PRICES["o3"] == ModelPrice(10.0, 40.0)
    assert PRICES[DEFAULT_PRICE_KEY] == ModelPrice(3.0, 15.0)


def test_price_table_is_read_only():
    with pytest.raises(TypeError):
        PRICES["free"] = ModelPrice(0, 0)  # type: ignore[index]


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("claude-sonnet-4-6", 18.0),
        ("claude-opus-4-6", 90.0),
        ("claude-haiku-4-5", 4.8),
        ("o4-mini", 5.5),
        ("o3", 50.0),
    ],
)
def test_cost_of_a_million_tokens_each_way(model, expected):
    assert BudgetTracker().cost_for(model, MILLION, MILLION) == pytest.approx(expected)


def test_cost_of_a_small_call():
    assert BudgetTracker().cost_for("claude-sonnet-4-6", 1000, 500) == pytest.approx(0.0105)


def test_input_and_output_tokens_use_their_own_prices():
    tracker = BudgetTracker()
    assert tracker.cost_for("claude-opus-4-6", MILLION, 0) == pytest.approx(15.0)
    assert tracker.cost_for("claude-opus-4-6", 0, MILLION) == pytest.approx(75.0)


def test_unknown_model_and_no_model_cost_the_default():
    tracker = BudgetTracker()
    sonnet = tracker.cost_for("claude-sonnet-4-6", 1234, 5678)
    assert tracker.cost_for("some-unknown-model", 1234, 5678) == pytest.approx(sonnet)
    assert tracker.cost_for(None, 1234, 5678) == pytest.approx(sonnet)
    assert tracker.cost_for("_default", 1234, 5678) == pytest.approx(sonnet)


def test_zero_tokens_cost_nothing():
    assert BudgetTracker().cost_for("claude-opus-4-6", 0, 0) == 0


def test_total_starts_at_zero_and_accumulates_across_models():
    tracker = BudgetTracker()
    assert tracker.total == 0
    added = tracker.add_cost("claude-sonnet-4-6", MILLION, 0)
    assert added == pytest.approx(3.0)
    tracker.add_cost("claude-sonnet-4-6", 0, MILLION)
    assert tracker.total == pytest.approx(18.0)
    tracker.add_cost("claude-opus-4-6", MILLION, MILLION)
    assert tracker.total == pytest.approx(108.0)
    assert tracker.current_cost == tracker.total


def test_initial_cost_preloads_the_total():
    tracker = BudgetTracker(initial_cost=2.5)
    assert tracker.total == 2.5
    tracker.add_cost("claude-sonnet-4-6", MILLION, 0)
    assert tracker.total == pytest.approx(5.5)


@pytest.mark.parametrize("bad", [-0.01, float("nan"), float("inf")])
def test_initial_cost_must_be_a_finite_non_negative_amount(bad):
    with pytest.raises(ValueError, match="initial_cost"):
        BudgetTracker(initial_cost=bad)


def test_custom_price_table():
    prices = {"cheap": ModelPrice(1.0, 2.0), DEFAULT_PRICE_KEY: ModelPrice(10.0, 10.0)}
    tracker = BudgetTracker(prices=prices)
    assert tracker.cost_for("cheap", MILLION, MILLION) == pytest.approx(3.0)
    assert tracker.cost_for("claude-sonnet-4-6", MILLION, 0) == pytest.approx(10.0)


def test_custom_price_table_needs_a_default_row():
    with pytest.raises(ValueError, match="_default"):
        BudgetTracker(prices={"cheap": ModelPrice(1.0, 2.0)})


def test_halt_over_limit_raises_with_limit_and_actual_cost():
    tracker = BudgetTracker()
    tracker.add_cost("claude-sonnet-4-6", MILLION, MILLION)  # 18.00
    with pytest.raises(BudgetExceededError) as info:
        tracker.check_budget(BudgetConfig(max_cost=10.0, on_exceed="halt"))
    assert info.value.max_cost == 10.0
    assert info.value.actual_cost > 10.0
    assert info.value.actual_cost == pytest.approx(18.0)


def test_halt_under_limit_does_not_raise():
    tracker = BudgetTracker()
    tracker.add_cost("claude-sonnet-4-6", 1000, 500)
    tracker.check_budget(BudgetConfig(max_cost=10.0, on_exceed="halt"))


def test_warn_over_limit_does_not_raise():
    tracker = BudgetTracker(initial_cost=100.0)
    tracker.check_budget(BudgetConfig(max_cost=10.0, on_exceed="warn"))
    assert tracker.exceeded(BudgetConfig(max_cost=10.0, on_exceed="warn"))


def test_halt_at_exactly_the_limit_does_not_raise():
    BudgetTracker().check_budget(BudgetConfig(max_cost=0.0, on_exceed="halt"))
    BudgetTracker(initial_cost=5.0).check_budget(BudgetConfig(max_cost=5.0, on_exceed="halt"))


def test_exceeded_is_strictly_greater():
    config = BudgetConfig(max_cost=5.0, on_exceed="warn")
    assert not BudgetTracker(initial_cost=4.99).exceeded(config)
    assert not BudgetTracker(initial_cost=5.0).exceeded(config)
    assert BudgetTracker(initial_cost=5.01).exceeded(config)


@pytest.mark.anyio
async def test_fire_on_exceeded_passes_the_spend_and_names():
    received: list[BudgetExceededInfo] = []
    config = BudgetConfig(max_cost=5.0, on_exceed="warn", on_exceeded=received.append)
    tracker = BudgetTracker()
    tracker.add_cost("claude-sonnet-4-6", MILLION, MILLION)
    await tracker.fire_on_exceeded(config, "summarize", "pipeline")
    assert len(received) == 1
    info = received[0]
    assert info.current_cost_usd == pytest.approx(18.0)
    assert info.max_cost_usd == 5.0
    assert info.task_name == "summarize"
    assert info.workflow_name == "pipeline"
    assert tracker.exceeded_notified


@pytest.mark.anyio
async def test_fire_on_exceeded_not_called_within_budget():
    received: list[BudgetExceededInfo] = []
    config = BudgetConfig(max_cost=5.0, on_exceed="halt", on_exceeded=received.append)
    tracker = BudgetTracker(initial_cost=5.0)
    await tracker.fire_on_exceeded(config, "t", "w")
    assert received == []
    assert not tracker.exceeded_notified


@pytest.mark.anyio
async def test_async_callback_is_awaited_before_returning():
    done = anyio.Event()

    async def on_exceeded(info: BudgetExceededInfo) -> None:
        await anyio.lowlevel.checkpoint()
        done.set()

    config = BudgetConfig(max_cost=1.0, on_exceed="halt", on_exceeded=on_exceeded)
    await BudgetTracker(initial_cost=2.0).fire_on_exceeded(config, "t", "w")
    assert done.is_set()


@pytest.mark.anyio
async def test_callback_exception_is_logged_and_swallowed(caplog):
    calls: list[str] = []

    def on_exceeded(info: BudgetExceededInfo) -> None:
        calls.append(info.task_name)
        raise RuntimeError("notifier down")

    config = BudgetConfig(max_cost=1.0, on_exceed="warn", on_exceeded=on_exceeded)
    tracker = BudgetTracker(initial_cost=2.0)
    with caplog.at_level(logging.WARNING, logger="ageflow"):
        await tracker.fire_on_exceeded(config, "t", "w")
    assert calls == ["t"]
    assert "on_exceeded" in caplog.text
    assert "notifier down" in caplog.text
    # The failed callback is not retried on the next crossing check.
    await tracker.fire_on_exceeded(config, "t2", "w")
    assert calls == ["t"]


@pytest.mark.anyio
async def test_async_callback_exception_is_swallowed():
    async def on_exceeded(info: BudgetExceededInfo) -> None:
        raise RuntimeError("boom")

    config = BudgetConfig(max_cost=1.0, on_exceed="warn", on_exceeded=on_exceeded)
    await BudgetTracker(initial_cost=2.0).fire_on_exceeded(config, "t", "w")


@pytest.mark.anyio
async def test_no_callback_is_a_no_op():
    tracker = BudgetTracker(initial_cost=2.0)
    await tracker.fire_on_exceeded(BudgetConfig(max_cost=1.0, on_exceed="warn"), "t", "w")
    assert not tracker.exceeded_notified


@pytest.mark.anyio
async def test_fires_only_once_per_tracker():
    received: list[str] = []
    config = BudgetConfig(
        max_cost=1.0, on_exceed="warn", on_exceeded=lambda info: received.append(info.task_name)
    )
    tracker = BudgetTracker()
    tracker.add_cost("claude-opus-4-6", MILLION, 0)
    for name in ("a", "b", "c"):
        tracker.add_cost("claude-opus-4-6", MILLION, 0)
        await tracker.fire_on_exceeded(config, name, "w")
    assert received == ["a"]


@pytest.mark.anyio
async def test_restored_notified_flag_suppresses_the_callback():
    received: list[str] = []
    config = BudgetConfig(
        max_cost=1.0, on_exceed="warn", on_exceeded=lambda info: received.append(info.task_name)
    )
    tracker = BudgetTracker(initial_cost=2.0, exceeded_notified=True)
    await tracker.fire_on_exceeded(config, "t", "w")
    assert received == []


@pytest.mark.anyio
async def test_cancellation_inside_the_callback_is_not_swallowed():
    async def on_exceeded(info: BudgetExceededInfo) -> None:
        await anyio.sleep_forever()

    config = BudgetConfig(max_cost=1.0, on_exceed="warn", on_exceeded=on_exceeded)
    tracker = BudgetTracker(initial_cost=2.0)
    reached_after = False
    with anyio.move_on_after(0) as scope:
        await tracker.fire_on_exceeded(config, "t", "w")
        reached_after = True
    assert scope.cancelled_caught
    assert not reached_after
