"""Applying a RunPolicy's ceilings to one execution of a workflow."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ageflow.core.config import BudgetConfig
from ageflow.core.registry import RunnerRegistry
from ageflow.core.runner import Runner, RunnerSpawnArgs, RunnerSpawnResult, ValidateResult
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.journal import StepRecord
from ageflow.server.errors import TurnsExceededError
from ageflow.server.records import RunPolicy


def with_cost_ceiling(workflow: WorkflowDef, max_cost_usd: float | None) -> WorkflowDef:
    """The workflow with a halting budget no larger than ``max_cost_usd``."""
    if max_cost_usd is None:
        return workflow
    current = workflow.budget
    if current is not None and current.on_exceed == "halt" and current.max_cost <= max_cost_usd:
        return workflow
    budget = BudgetConfig(
        max_cost=max_cost_usd,
        on_exceed="halt",
        on_exceeded=current.on_exceeded if current is not None else None,
    )
    return dataclasses.replace(workflow, budget=budget)


class TurnCounter:
    """Counts agent turns (runner calls) of one run, restored ones included."""

    def __init__(self, limit: int, already_used: int = 0) -> None:
        self.limit = limit
        self.used = already_used

    def take(self) -> None:
        if self.used >= self.limit:
            raise TurnsExceededError(self.limit)
        self.used += 1


class _CountedRunner:
    """A runner that takes a turn from the counter before each call."""

    def __init__(self, inner: Runner, counter: TurnCounter) -> None:
        self._inner = inner
        self._counter = counter

    async def validate(self) -> ValidateResult:
        return await self._inner.validate()

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        self._counter.take()
        return await self._inner.spawn(args)


def turns_used_by(journal: Mapping[str, StepRecord]) -> int:
    """Agent turns the journaled steps took (each retry was a turn too)."""
    return sum(step.metrics.retries + 1 for step in journal.values() if step.source == "agent")


def registry_for(
    registry: RunnerRegistry, policy: RunPolicy, journal: Mapping[str, StepRecord]
) -> RunnerRegistry:
    """The registry this execution uses: turn-counted runners when turns are limited."""
    if policy.max_turns is None:
        return registry
    counter = TurnCounter(policy.max_turns, turns_used_by(journal))
    return registry.overlay(
        {name: _CountedRunner(runner, counter) for name, runner in registry.runners.items()}
    )
