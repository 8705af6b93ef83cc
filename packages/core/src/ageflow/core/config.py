"""Per-task policies: retry, human-in-the-loop (HITL), budget and environment.

These are frozen dataclasses: they hold callables and are never sent over a wire.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeAlias, get_args

from ageflow.core.wire import WireModel

RetryErrorKind: TypeAlias = Literal[
    "subprocess_error",
    "output_validation_error",
    "tool_not_used",
    "timeout",
    "rate_limit",
    "provider_unavailable",
    "budget_exceeded",
    "agent_hitl_conflict",
    "mcp_server_start_failed",
    "transient",
    "validation",
]
RETRY_ERROR_KINDS: frozenset[str] = frozenset(get_args(RetryErrorKind))

BackoffStrategy: TypeAlias = Literal["exponential", "linear", "fixed"]
_BACKOFFS: frozenset[str] = frozenset(get_args(BackoffStrategy))


@dataclass(frozen=True)
class RetryConfig:
    """A partial retry policy: each field left as None falls back to the task kind's default.

    ``max`` counts attempts in total (not extra retries). An explicit empty ``on`` means
    "retry nothing" and is kept as such.
    """

    max: int | None = None
    on: Sequence[RetryErrorKind] | None = None
    backoff: BackoffStrategy | None = None
    timeout_ms: int | None = None

    def __post_init__(self) -> None:
        if self.max is not None:
            if not isinstance(self.max, int) or isinstance(self.max, bool):
                raise ValueError(f"retry.max must be an int, got {self.max!r}")
            if self.max < 0:
                # 0 is kept for parity: the task then fails without any attempt.
                raise ValueError(f"retry.max must be >= 0, got {self.max}")
        if self.on is not None:
            if isinstance(self.on, str):
                raise ValueError("retry.on must be a list of error kinds, not a string")
            unknown = [kind for kind in self.on if kind not in RETRY_ERROR_KINDS]
            if unknown:
                raise ValueError(
                    f"retry.on has unknown error kinds {unknown}; "
                    f"known: {sorted(RETRY_ERROR_KINDS)}"
                )
            object.__setattr__(self, "on", tuple(self.on))
        if self.backoff is not None and self.backoff not in _BACKOFFS:
            raise ValueError(f"retry.backoff must be one of {sorted(_BACKOFFS)}")
        if self.timeout_ms is not None and self.timeout_ms <= 0:
            raise ValueError(f"retry.timeout_ms must be positive, got {self.timeout_ms}")


@dataclass(frozen=True)
class ResolvedRetry:
    """A complete retry policy, every field decided."""

    max: int
    on: tuple[RetryErrorKind, ...]
    backoff: BackoffStrategy
    timeout_ms: int | None

    def merged_with(self, partial: RetryConfig | None) -> ResolvedRetry:
        """This policy with each field that ``partial`` sets taken from ``partial``."""
        if partial is None:
            return self
        return ResolvedRetry(
            max=self.max if partial.max is None else partial.max,
            on=self.on if partial.on is None else tuple(partial.on),
            backoff=self.backoff if partial.backoff is None else partial.backoff,
            timeout_ms=self.timeout_ms if partial.timeout_ms is None else partial.timeout_ms,
        )


DEFAULT_AGENT_TIMEOUT_MS = 300_000
DEFAULT_MAX_OUTPUT_BYTES = 1_048_576

AGENT_RETRY_DEFAULTS = ResolvedRetry(
    max=3,
    on=("subprocess_error", "output_validation_error"),
    backoff="exponential",
    timeout_ms=DEFAULT_AGENT_TIMEOUT_MS,
)
FUNCTION_RETRY_DEFAULTS = ResolvedRetry(max=1, on=(), backoff="fixed", timeout_ms=None)


# --- human in the loop -------------------------------------------------------------------


@dataclass(frozen=True)
class HitlOff:
    """No human involvement."""

    mode: ClassVar[Literal["off"]] = "off"


@dataclass(frozen=True)
class HitlPermissions:
    """Deny-by-default tool allowlist: only tools mapped to exactly ``True`` are allowed."""

    permissions: Mapping[str, bool]
    mode: ClassVar[Literal["permissions"]] = "permissions"


@dataclass(frozen=True)
class Checkpoint:
    """Pause before the task until a human (or a handler) approves it."""

    message: str | None = None
    mode: ClassVar[Literal["checkpoint"]] = "checkpoint"

    def message_for(self, task_name: str) -> str:
        """The question shown to the approver; a default names the task."""
        return self.message or f'Task "{task_name}" requires approval before proceeding.'


HitlConfig: TypeAlias = HitlOff | HitlPermissions | Checkpoint
HITL_CONFIG_TYPES: tuple[type, ...] = (HitlOff, HitlPermissions, Checkpoint)


# --- budget ------------------------------------------------------------------------------


class BudgetExceededInfo(WireModel):
    """What a budget's ``on_exceeded`` callback is told."""

    current_cost_usd: float
    max_cost_usd: float
    task_name: str
    workflow_name: str


OnBudgetExceeded: TypeAlias = Callable[[BudgetExceededInfo], Awaitable[None] | None]


@dataclass(frozen=True)
class BudgetConfig:
    """A cost ceiling for one run, in USD.

    ``halt`` fails the run when the total goes strictly over ``max_cost``; ``warn`` emits a
    ``budget:warning`` event instead. ``on_exceeded`` fires once per run when it first crosses.
    """

    max_cost: float
    on_exceed: Literal["halt", "warn"] = "halt"
    on_exceeded: OnBudgetExceeded | None = None

    def __post_init__(self) -> None:
        if math.isnan(self.max_cost):
            # Every comparison with NaN is false: the budget would never trip.
            raise ValueError("budget.max_cost must be a number, got NaN")
        if self.max_cost < 0:
            raise ValueError(f"budget.max_cost must be >= 0, got {self.max_cost}")
        if self.on_exceed not in ("halt", "warn"):
            raise ValueError("budget.on_exceed must be 'halt' or 'warn'")


# --- environment of subprocess runners ---------------------------------------------------

ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class EnvConfig:
    """Which environment variables a subprocess runner hands to its child.

    ``pass_vars`` are passed through; ``scrub`` removes names (exact strings or regexes)
    from what the child would otherwise inherit.
    """

    pass_vars: Sequence[str] = field(default_factory=tuple)
    scrub: Sequence[str | re.Pattern[str]] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "pass_vars", tuple(self.pass_vars))
        object.__setattr__(self, "scrub", tuple(self.scrub))
