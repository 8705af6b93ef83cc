"""Composing a workflow's MCP ceilings with the operator's limits.

The workflow's ceilings are hard: an operator value can only lower one, never raise or
remove it. None on an axis means unlimited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Final, Literal

from ageflow.core.mcp import ResolvedMcpConfig, resolve_mcp_config
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server.errors import ErrorCode, McpServerError
from ageflow.server.records import RunPolicy


class Absent(Enum):
    ABSENT = "ABSENT"


ABSENT: Final = Absent.ABSENT
"""An operator ceiling that was not given (unlike None, which asks for unlimited)."""

Axis = Literal["max_cost_usd", "max_duration_sec", "max_turns"]
AXES: Final[tuple[Axis, ...]] = ("max_cost_usd", "max_duration_sec", "max_turns")


@dataclass(frozen=True, slots=True)
class CliCeilings:
    """The operator's limits (CLI flags or server options), one per axis.

    ``ABSENT`` leaves the workflow's ceiling; None asks for unlimited (``--no-max-…``),
    which cannot remove a ceiling the workflow sets; a number can only lower it.
    """

    max_cost_usd: float | Absent | None = ABSENT
    max_duration_sec: float | Absent | None = ABSENT
    max_turns: int | Absent | None = ABSENT

    def __post_init__(self) -> None:
        for axis in AXES:
            value = getattr(self, axis)
            if value is ABSENT or value is None:
                continue
            bad = isinstance(value, bool) or not isinstance(value, int | float)
            # A cost ceiling of 0 is meaningful (nothing may be spent: only free tasks run);
            # a zero duration or turn count is not.
            if axis == "max_cost_usd":
                if bad or not math.isfinite(value) or value < 0:
                    raise ValueError(
                        f"{axis} must be a non-negative number or None, got: {value!r}"
                    )
            elif bad or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{axis} must be a positive number or None, got: {value!r}")
            if axis == "max_turns" and not isinstance(value, int):
                raise ValueError(f"max_turns must be a positive integer, got: {value!r}")


@dataclass(frozen=True, slots=True)
class EffectiveCeilings:
    """The ceilings one call or job runs under; None = unlimited on that axis."""

    max_cost_usd: float | None
    max_duration_sec: float | None
    max_turns: int | None

    def run_policy_fields(self, started_at_ms: int) -> dict[str, float | int | None]:
        """The RunPolicy fields for a run started at ``started_at_ms`` (epoch ms)."""
        deadline_at = (
            None
            if self.max_duration_sec is None
            else started_at_ms + math.ceil(self.max_duration_sec * 1000)
        )
        return {
            "max_cost_usd": self.max_cost_usd,
            "deadline_at": deadline_at,
            "max_turns": self.max_turns,
        }

    def apply_to(self, policy: RunPolicy, started_at_ms: int) -> RunPolicy:
        """A copy of ``policy`` carrying these ceilings (its other settings kept)."""
        return policy.model_copy(update=self.run_policy_fields(started_at_ms))


@dataclass(frozen=True, slots=True)
class ComposedCeilings:
    """Effective ceilings plus the warnings (each ending in a newline) for the operator."""

    ceilings: EffectiveCeilings
    warnings: tuple[str, ...] = field(default=())


def _number(value: float) -> str:
    # 10.0 prints as 10 (the original's JSON numbers), 0.5 stays 0.5.
    return str(int(value)) if float(value).is_integer() else repr(value)


def _flag(axis: Axis) -> str:
    return "--no-" + axis.replace("_", "-")


def workflow_ceilings(workflow: WorkflowDef) -> ResolvedMcpConfig:
    """The workflow's resolved MCP config (safe defaults applied).

    ``mcp=False`` raises ``McpServerError(WORKFLOW_NOT_MCP_EXPOSABLE)``.
    """
    if workflow.mcp is False:
        raise McpServerError(
            ErrorCode.WORKFLOW_NOT_MCP_EXPOSABLE,
            f'WORKFLOW_NOT_MCP_EXPOSABLE: workflow "{workflow.name}" sets mcp=False and '
            "cannot be exposed as an MCP tool",
            {"workflowName": workflow.name},
        )
    return resolve_mcp_config(workflow.mcp)


def compose_ceilings(
    workflow: WorkflowDef | ResolvedMcpConfig, operator: CliCeilings | None = None
) -> ComposedCeilings:
    """Clamp the operator's limits to the workflow's ceilings, axis by axis."""
    resolved = workflow_ceilings(workflow) if isinstance(workflow, WorkflowDef) else workflow
    operator = operator or CliCeilings()
    effective: dict[str, float | int | None] = {}
    warnings: list[str] = []
    for axis in AXES:
        hard: float | int | None = getattr(resolved, axis)
        asked: float | int | Absent | None = getattr(operator, axis)
        if asked is ABSENT:
            effective[axis] = hard
        elif asked is None:
            effective[axis] = hard
            if hard is not None:
                warnings.append(
                    f"[mcp] {_flag(axis)} ignored: workflow sets {axis}={_number(hard)} "
                    "as hard ceiling\n"
                )
        elif hard is None or asked <= hard:
            effective[axis] = asked
        else:
            effective[axis] = hard
            warnings.append(
                f"[mcp] CLI {axis}={_number(asked)} clamped to workflow ceiling {_number(hard)}\n"
            )
    turns = effective["max_turns"]
    return ComposedCeilings(
        EffectiveCeilings(
            max_cost_usd=effective["max_cost_usd"],
            max_duration_sec=effective["max_duration_sec"],
            max_turns=None if turns is None else int(turns),
        ),
        tuple(warnings),
    )
