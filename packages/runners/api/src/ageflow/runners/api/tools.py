"""Tool definitions the model may call, and their JSON schemas for the request."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["ToolDefinition", "ToolRegistry", "call_tool_definition", "tools_to_schemas"]


@dataclass(frozen=True)
class ToolDefinition:
    """A tool the runner executes itself when the model asks for it.

    ``parameters`` is the JSON Schema sent to the model as-is; ``execute`` receives the
    decoded arguments and may be sync or async.
    """

    description: str
    parameters: dict[str, Any]
    execute: Callable[[Any], Awaitable[Any] | Any]


ToolRegistry: TypeAlias = dict[str, ToolDefinition]


async def call_tool_definition(tool: ToolDefinition, args: Any) -> Any:
    """Run a tool, awaiting its result when ``execute`` is async."""
    result = tool.execute(args)
    if inspect.isawaitable(result):
        return await result
    return result


def tools_to_schemas(
    registry: Mapping[str, ToolDefinition], names: Sequence[str] | None
) -> list[dict[str, Any]] | None:
    """Function schemas for ``names`` in list order; unknown names are skipped.

    None stays None (nothing to advertise); a list, even an empty one, stays a list. A name
    listed twice is advertised once.
    """
    if names is None:
        return None
    schemas: list[dict[str, Any]] = []
    seen: set[str] = set()
    for name in names:
        tool = registry.get(name)
        if tool is None or name in seen:
            continue
        seen.add(name)
        schemas.append(
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": tool.description,
                    "parameters": tool.parameters,
                },
            }
        )
    return schemas
