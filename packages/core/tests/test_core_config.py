"""Retry, HITL and budget policies: validation and merging."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from ageflow.core import (
    AGENT_RETRY_DEFAULTS,
    FUNCTION_RETRY_DEFAULTS,
    RETRY_ERROR_KINDS,
    BudgetConfig,
    BudgetExceededInfo,
    Checkpoint,
    EnvConfig,
    HitlOff,
    HitlPermissions,
    ResolvedRetry,
    RetryConfig,
)

# --- RetryConfig -------------------------------------------------------------------------


def test_retry_config_fields_default_to_none() -> None:
    retry = RetryConfig()
    assert (retry.max, retry.on, retry.backoff, retry.timeout_ms) == (None, None, None, None)


def test_retry_config_keeps_on_as_a_tuple() -> None:
    kinds = ["timeout", "transient"]
    retry = RetryConfig(on=kinds)
    assert retry.on == ("timeout", "transient")
    kinds.append("rate_limit")  # the config does not share the caller's list
    assert retry.on == ("timeout", "transient")


@pytest.mark.parametrize("maximum", [-1, -10])
def test_retry_negative_max_is_rejected(maximum: int) -> None:
    with pytest.raises(ValueError, match=rf"retry\.max must be >= 0, got {maximum}"):
        RetryConfig(max=maximum)


def test_retry_max_zero_is_kept_for_parity() -> None:
    # Zero attempts: the executor fails the task without running it, as the original did.
    assert RetryConfig(max=0).max == 0


@pytest.mark.parametrize("maximum", [2.5, "3", True])
def test_retry_max_that_is_not_an_int_is_rejected(maximum: Any) -> None:
    with pytest.raises(ValueError, match=r"retry\.max must be an int"):
        RetryConfig(max=maximum)


def test_retry_on_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"unknown error kinds \['flaky'\]") as info:
        RetryConfig(on=["timeout", "flaky"])  # type: ignore[list-item]
    assert "subprocess_error" in str(info.value)  # the message lists the known kinds


def test_retry_on_as_a_string_is_rejected() -> None:
    with pytest.raises(ValueError, match="list of error kinds, not a string"):
        RetryConfig(on="timeout")  # type: ignore[arg-type]


def test_retry_bad_backoff_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"retry\.backoff must be one of"):
        RetryConfig(backoff="random")  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [0, -5])
def test_retry_non_positive_timeout_is_rejected(timeout: int) -> None:
    with pytest.raises(ValueError, match=r"retry\.timeout_ms must be positive"):
        RetryConfig(timeout_ms=timeout)


def test_every_retry_kind_is_accepted() -> None:
    assert len(RETRY_ERROR_KINDS) == 11
    assert set(RetryConfig(on=sorted(RETRY_ERROR_KINDS)).on or ()) == RETRY_ERROR_KINDS  # type: ignore[arg-type]


def test_retry_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        RetryConfig(max=2).max = 3  # type: ignore[misc]


# --- ResolvedRetry.merged_with -----------------------------------------------------------


def test_defaults_of_agents_and_functions() -> None:
    assert (
        ResolvedRetry(
            max=3,
            on=("subprocess_error", "output_validation_error"),
            backoff="exponential",
            timeout_ms=300_000,
        )
        == AGENT_RETRY_DEFAULTS
    )
    assert ResolvedRetry(max=1, on=(), backoff="fixed", timeout_ms=None) == FUNCTION_RETRY_DEFAULTS


def test_merged_with_none_or_empty_partial_keeps_the_defaults() -> None:
    assert AGENT_RETRY_DEFAULTS.merged_with(None) is AGENT_RETRY_DEFAULTS
    assert AGENT_RETRY_DEFAULTS.merged_with(RetryConfig()) == AGENT_RETRY_DEFAULTS


@pytest.mark.parametrize(
    ("partial", "changed"),
    [
        (RetryConfig(max=7), {"max": 7}),
        (RetryConfig(on=["timeout"]), {"on": ("timeout",)}),
        (RetryConfig(backoff="linear"), {"backoff": "linear"}),
        (RetryConfig(timeout_ms=1_000), {"timeout_ms": 1_000}),
    ],
)
def test_merged_with_takes_each_field_on_its_own(
    partial: RetryConfig, changed: dict[str, Any]
) -> None:
    merged = AGENT_RETRY_DEFAULTS.merged_with(partial)
    assert merged == dataclasses.replace(AGENT_RETRY_DEFAULTS, **changed)


def test_merged_with_keeps_an_explicit_empty_on() -> None:
    merged = AGENT_RETRY_DEFAULTS.merged_with(RetryConfig(on=[]))
    assert merged.on == ()
    assert merged.max == 3  # the other fields still come from the defaults


def test_merged_with_every_field_set() -> None:
    partial = RetryConfig(max=2, on=["transient"], backoff="fixed", timeout_ms=50)
    assert FUNCTION_RETRY_DEFAULTS.merged_with(partial) == ResolvedRetry(
        max=2, on=("transient",), backoff="fixed", timeout_ms=50
    )


def test_merged_with_does_not_change_the_defaults() -> None:
    AGENT_RETRY_DEFAULTS.merged_with(RetryConfig(max=9, on=[]))
    assert AGENT_RETRY_DEFAULTS.max == 3
    assert AGENT_RETRY_DEFAULTS.on == ("subprocess_error", "output_validation_error")


# --- HITL --------------------------------------------------------------------------------


def test_checkpoint_message_for_defaults_to_naming_the_task() -> None:
    assert Checkpoint().message_for("deploy") == (
        'Task "deploy" requires approval before proceeding.'
    )


def test_checkpoint_message_for_uses_its_own_message() -> None:
    assert Checkpoint("Ship it?").message_for("deploy") == "Ship it?"


def test_checkpoint_empty_message_falls_back_to_the_default() -> None:
    assert "deploy" in Checkpoint("").message_for("deploy")


def test_hitl_modes() -> None:
    assert HitlOff().mode == "off"
    assert HitlPermissions({"Read": True}).mode == "permissions"
    assert Checkpoint().mode == "checkpoint"
    assert HitlPermissions({"Read": True, "Bash": False}).permissions == {
        "Read": True,
        "Bash": False,
    }


# --- budget ------------------------------------------------------------------------------


def test_budget_defaults_to_halt() -> None:
    budget = BudgetConfig(max_cost=2.0)
    assert (budget.max_cost, budget.on_exceed, budget.on_exceeded) == (2.0, "halt", None)


def test_budget_accepts_warn_zero_and_a_callback() -> None:
    seen: list[BudgetExceededInfo] = []
    budget = BudgetConfig(max_cost=0, on_exceed="warn", on_exceeded=seen.append)
    assert budget.on_exceed == "warn"
    assert budget.on_exceeded is not None
    info = BudgetExceededInfo(
        current_cost_usd=0.5, max_cost_usd=0.0, task_name="a", workflow_name="w"
    )
    budget.on_exceeded(info)
    assert seen == [info]


def test_budget_negative_max_cost_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"budget\.max_cost must be >= 0, got -1"):
        BudgetConfig(max_cost=-1)


def test_budget_nan_max_cost_is_rejected() -> None:
    # Every comparison with NaN is false: such a budget would never trip.
    with pytest.raises(ValueError, match="NaN"):
        BudgetConfig(max_cost=math.nan)


def test_budget_unknown_on_exceed_is_rejected() -> None:
    with pytest.raises(ValueError, match="'halt' or 'warn'"):
        BudgetConfig(max_cost=1, on_exceed="stop")  # type: ignore[arg-type]


def test_budget_exceeded_info_wire_keys() -> None:
    info = BudgetExceededInfo(
        current_cost_usd=1.5, max_cost_usd=1.0, task_name="a", workflow_name="w"
    )
    assert info.to_wire() == {
        "currentCostUsd": 1.5,
        "maxCostUsd": 1.0,
        "taskName": "a",
        "workflowName": "w",
    }


# --- environment -------------------------------------------------------------------------


def test_env_config_keeps_tuples() -> None:
    names = ["HOME"]
    env = EnvConfig(pass_vars=names, scrub=["SECRET"])
    names.append("PATH")
    assert env.pass_vars == ("HOME",)
    assert env.scrub == ("SECRET",)
    assert EnvConfig().pass_vars == ()
