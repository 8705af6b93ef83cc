"""The tools one agent attempt is offered: agent tools, per-call tools and HITL filtering."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ageflow.core.definitions import AgentDef
from ageflow.core.runner import InlineToolDef, RunnerOverride

__all__ = ["ToolSelection", "merge_tools"]


@dataclass(frozen=True)
class ToolSelection:
    """What goes into the spawn args.

    ``tools``: the allowlist of tool names (None = no restriction, ``[]`` = deny-all, which
    must reach the runner as ``[]``); ``inline_tools``: the in-process tools, None when
    there are none.
    """

    tools: list[str] | None
    inline_tools: dict[str, InlineToolDef] | None


def merge_tools(
    agent: AgentDef[Any, Any],
    override: RunnerOverride | None,
    filtered_tools: list[str] | None,
    hitl_enforcing: bool | None,
) -> ToolSelection:
    """Combine the agent's tools with the per-call tools of its runner brand, then filter.

    ``override`` must already be the entry for ``agent.runner`` (other brands do not
    apply). Candidate names are the agent's (list or inline-map keys) followed by new
    per-call names. When HITL enforces (``hitl_enforcing``; if None, whenever
    ``filtered_tools`` is given) only names in ``filtered_tools`` survive, so a per-call
    tool is dropped unless permitted. Inline tools are the agent's map overlaid by the
    per-call map (per-call wins a name clash), restricted to the surviving names.
    """
    base = agent.tool_names()
    per_call: dict[str, InlineToolDef] = (
        dict(override.tools) if override is not None and override.tools else {}
    )

    candidates: list[str] | None
    if base is None and not per_call:
        candidates = None
    else:
        # dict keys: ordered and de-duplicated, agent names first
        candidates = list(dict.fromkeys([*(base or ()), *per_call]))

    enforcing = filtered_tools is not None if hitl_enforcing is None else hitl_enforcing
    effective: list[str] | None
    if enforcing and filtered_tools is not None:
        if candidates is None:
            effective = list(filtered_tools)
        else:
            allowed = set(filtered_tools)
            effective = [name for name in candidates if name in allowed]
    else:
        effective = candidates

    inline: dict[str, InlineToolDef] | None = None
    if isinstance(agent.tools, Mapping) or per_call:
        merged = {**agent.inline_tools(), **per_call}
        if effective is not None:
            kept = set(effective)
            merged = {name: tool for name, tool in merged.items() if name in kept}
        inline = merged or None
    return ToolSelection(tools=effective, inline_tools=inline)
