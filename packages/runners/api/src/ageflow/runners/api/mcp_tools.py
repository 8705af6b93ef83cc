"""MCP server tools as registry entries: allowlist, argument refinement, namespacing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ageflow.core.errors import McpToolArgInvalidError, McpToolNotPermittedError
from ageflow.core.mcp import filter_mcp_tools, is_mcp_tool_permitted, mcp_tool_fqn
from ageflow.runners.api.mcp_client import McpClient
from ageflow.runners.api.tools import ToolDefinition, ToolRegistry

__all__ = ["mcp_tool_definition", "mcp_tools_to_registry"]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def _refine_validator(value: Any) -> TypeAdapter[Any] | None:
    """A validator for a ``refine`` entry, or None when the entry is not a schema.

    Schemas are pydantic model classes, TypeAdapters and types (``Annotated`` included);
    plain data (a dict, a string, a number, None) is a configuration mistake.
    """
    if isinstance(value, TypeAdapter):
        return value
    if isinstance(value, type) and issubclass(value, BaseModel):
        return TypeAdapter(value)
    if value is None or isinstance(value, dict | list | tuple | str | int | float | bool):
        return None
    try:
        return TypeAdapter(value)
    except Exception:
        return None


def mcp_tool_definition(
    client: McpClient, tool: str, description: str, schema: Any
) -> ToolDefinition:
    """The registry entry for one MCP tool, executed on ``client`` under its bare name."""
    config = client.config
    refine = (config.refine or {}).get(tool, _NO_REFINE)
    validator = None if refine is _NO_REFINE else _refine_validator(refine)

    async def execute(args: Any) -> Any:
        # Defence in depth: a filtered tool never gets an entry, so this cannot normally fail.
        if not is_mcp_tool_permitted(config, tool):
            raise McpToolNotPermittedError(config.name, tool)
        if refine is not _NO_REFINE:
            if validator is None:
                raise McpToolArgInvalidError(
                    config.name,
                    tool,
                    f"refine[{tool}] is not a pydantic schema — got {_kind(refine)}",
                )
            try:
                validator.validate_python(args)
            except ValidationError as exc:
                raise McpToolArgInvalidError(config.name, tool, str(exc), cause=exc) from exc
        # The refinement only gates the call: the server gets the model's arguments as sent.
        return await client.call_tool(tool, args)

    parameters = dict(schema) if isinstance(schema, dict) else {"type": "object"}
    return ToolDefinition(description or "", parameters, execute)


_NO_REFINE: Any = object()


async def mcp_tools_to_registry(clients: Sequence[McpClient]) -> ToolRegistry:
    """``mcp__<server>__<tool>`` entries for every tool each server's allowlist permits."""
    registry: ToolRegistry = {}
    for client in clients:
        listed = await client.list_tools()
        for descriptor in filter_mcp_tools(client.config, listed):
            registry[mcp_tool_fqn(client.config.name, descriptor.name)] = mcp_tool_definition(
                client, descriptor.name, descriptor.description or "", descriptor.input_schema
            )
    return registry
