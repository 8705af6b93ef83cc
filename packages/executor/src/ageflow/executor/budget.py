"""Estimated spend of a run, and its budget checks.

Costs are estimates from token counts and a static price table (USD per million tokens);
models that are not in the table are priced at the ``_default`` row.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from ageflow.core.config import BudgetConfig, BudgetExceededInfo
from ageflow.core.errors import BudgetExceededError

__all__ = ["DEFAULT_PRICE_KEY", "PRICES", "BudgetTracker", "ModelPrice"]

logger = logging.getLogger("ageflow")


class ModelPrice(NamedTuple):
    """USD per million tokens, for prompt (input) and completion (output) tokens."""

    input_per_million: float
    output_per_million: float


DEFAULT_PRICE_KEY = "_default"
"""The row of :data:`PRICES` used for models the table does not list (and for no model)."""

PRICES: Mapping[str, ModelPrice] = MappingProxyType(
    {
        "claude-opus-4-6": ModelPrice(15.00, 75.00),
        "claude-sonnet-4-6": ModelPrice(3.00, 15.00),
        "claude-haiku-4-5": ModelPrice(0.80, 4.00),
        "o4-mini": ModelPrice(1.10, 4.40),
        "o3": ModelPrice(10.00, 40.00),
        DEFAULT_PRICE_KEY: ModelPrice(3.00, 15.00),
    }
)
"""Model id (exact match) -> price. Read-only; pass ``prices=`` to a tracker to change it."""


class BudgetTracker:
    """Accumulates the estimated cost of a run and applies a :class:`BudgetConfig`.

    One tracker belongs to one executor: its total carries over from run to run of that
    executor. ``initial_cost`` pre-loads spend (a resumed run starts from what it had spent
    before), and ``exceeded_notified`` whether ``on_exceeded`` already fired for it.
    """

    def __init__(
        self,
        initial_cost: float = 0.0,
        *,
        prices: Mapping[str, ModelPrice] | None = None,
        exceeded_notified: bool = False,
    ) -> None:
        if not math.isfinite(initial_cost) or initial_cost < 0:
            raise ValueError(f"initial_cost must be a finite amount >= 0, got {initial_cost}")
        table = PRICES if prices is None else prices
        if DEFAULT_PRICE_KEY not in table:
            raise ValueError(f"a price table needs a {DEFAULT_PRICE_KEY!r} row for unknown models")
        self._prices = table
        self._total = float(initial_cost)
        self._exceeded_notified = exceeded_notified

    def cost_for(self, model: str | None, tokens_in: int, tokens_out: int) -> float:
        """Estimated USD cost of one call; unknown (or no) model uses the default price."""
        price = self._prices.get(model or DEFAULT_PRICE_KEY) or self._prices[DEFAULT_PRICE_KEY]
        return (
            tokens_in / 1_000_000 * price.input_per_million
            + tokens_out / 1_000_000 * price.output_per_million
        )

    def add_cost(self, model: str | None, tokens_in: int, tokens_out: int) -> float:
        """Add one call's cost to the total; returns the cost added."""
        cost = self.cost_for(model, tokens_in, tokens_out)
        self._total += cost
        return cost

    @property
    def total(self) -> float:
        """Everything spent so far, in USD."""
        return self._total

    @property
    def current_cost(self) -> float:
        """The same as :attr:`total` (reads better next to a limit)."""
        return self._total

    @property
    def exceeded_notified(self) -> bool:
        """Whether ``on_exceeded`` has fired for this tracker (it fires at most once)."""
        return self._exceeded_notified

    def exceeded(self, config: BudgetConfig) -> bool:
        """Whether the total is strictly over ``config.max_cost`` (equal is within budget)."""
        return self._total > config.max_cost

    def check_budget(self, config: BudgetConfig) -> None:
        """Raise BudgetExceededError when the budget halts and the total is over it.

        A ``warn`` budget never raises; the caller reports it instead.
        """
        if config.on_exceed == "halt" and self.exceeded(config):
            raise BudgetExceededError(config.max_cost, self._total)

    async def fire_on_exceeded(
        self, config: BudgetConfig, task_name: str, workflow_name: str
    ) -> None:
        """Tell ``config.on_exceeded`` (sync or async) that the budget is exceeded.

        Does nothing without a callback, within budget, or when it already fired on this
        tracker. The flag is set before the call, so a callback that fails is not retried;
        its exception is logged and swallowed (a notification must not fail the run).
        """
        callback = config.on_exceeded
        if callback is None or not self.exceeded(config) or self._exceeded_notified:
            return
        self._exceeded_notified = True
        info = BudgetExceededInfo(
            current_cost_usd=self._total,
            max_cost_usd=config.max_cost,
            task_name=task_name,
            workflow_name=workflow_name,
        )
        try:
            result = callback(info)
            if inspect.isawaitable(result):
                await result
        except Exception:
            logger.warning(
                "budget on_exceeded callback failed (task %r, workflow %r)",
                task_name,
                workflow_name,
                exc_info=True,
            )
