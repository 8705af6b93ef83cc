"""Inline tools (core ``InlineToolDef``): pydantic-validated Python functions as tools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from ageflow.core.runner import InlineToolDef
from ageflow.runners.api.tools import ToolDefinition, ToolRegistry, call_tool_definition

__all__ = ["inline_tool_def_to_tool_definition", "inline_tools_to_registry", "merge_inline_tools"]


def _adapter(parameters: Any) -> TypeAdapter[Any]:
    if isinstance(parameters, TypeAdapter):
        return parameters
    return TypeAdapter(parameters)


def inline_tool_def_to_tool_definition(definition: InlineToolDef) -> ToolDefinition:
    """A tool whose schema is the parameters model's JSON Schema and whose arguments are
    validated (and coerced) before the user's function sees them.

    Invalid arguments raise ``ValueError("Inline tool argument validation failed: …")``;
    the tool loop hands that text to the model instead of failing the turn.
    """
    parameters = definition.parameters
    if isinstance(parameters, type) and issubclass(parameters, BaseModel):
        schema = parameters.model_json_schema()
    else:
        schema = _adapter(parameters).json_schema()
    adapter = _adapter(parameters)
    user_tool = ToolDefinition(definition.description, schema, definition.execute)

    async def execute(args: Any) -> Any:
        try:
            validated = adapter.validate_python(args)
        except ValidationError as exc:
            raise ValueError(f"Inline tool argument validation failed: {exc}") from exc
        return await call_tool_definition(user_tool, validated)

    return ToolDefinition(definition.description, schema, execute)


def inline_tools_to_registry(tools: Mapping[str, InlineToolDef]) -> ToolRegistry:
    """Every inline tool converted, under its own name."""
    return {name: inline_tool_def_to_tool_definition(d) for name, d in tools.items()}


def merge_inline_tools(
    instance: Mapping[str, ToolDefinition],
    agent: Mapping[str, InlineToolDef] | None,
    per_call: Mapping[str, InlineToolDef] | None,
) -> ToolRegistry:
    """A new registry: instance tools, then agent tools, then per-call tools (later wins)."""
    merged: ToolRegistry = dict(instance)
    if agent:
        merged.update(inline_tools_to_registry(agent))
    if per_call:
        merged.update(inline_tools_to_registry(per_call))
    return merged
