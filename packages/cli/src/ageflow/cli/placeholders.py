"""Example values built from a schema, for showing prompts and output shapes without running.

Rules (as the original's dry-run): objects get every field, arrays one element, optional
and nullable values their inner type, enums their first value, numbers 0, booleans
false, and anything else (strings, unions) the string ``<field name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ageflow.core.schemas import schema_adapter


def json_schema_of(schema: Any) -> dict[str, Any]:
    """The JSON Schema pydantic derives for ``schema`` (a model class or a type); {} if none."""
    try:
        return dict(schema_adapter(schema).json_schema())
    except Exception:  # a schema pydantic cannot describe still gets a dry run
        return {}


def placeholder(schema: Mapping[str, Any], key: str = "value") -> Any:
    """An example value for the JSON Schema ``schema``; ``key`` names string placeholders."""
    return _build(schema, key, schema.get("$defs", {}))


def _build(node: Mapping[str, Any], key: str, defs: Mapping[str, Any]) -> Any:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _build(defs.get(ref.removeprefix("#/$defs/"), {}), key, defs)
    if node.get("enum"):
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    options = node.get("anyOf")
    if isinstance(options, list):
        # Optional[X] is anyOf [X, null]: show X. Real unions stay a string placeholder.
        concrete = [option for option in options if option.get("type") != "null"]
        if len(concrete) == 1:
            return _build(concrete[0], key, defs)
    kind = node.get("type")
    if kind == "object":
        properties = node.get("properties", {})
        return {name: _build(field, name, defs) for name, field in properties.items()}
    if kind == "array":
        items = node.get("items", {})
        return [_build(items if isinstance(items, Mapping) else {}, f"{key}[0]", defs)]
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return f"<{key}>"


def example_input(schema: Any) -> Any:
    """A value of ``schema`` for rendering a prompt: validated when possible, else raw."""
    raw = placeholder(json_schema_of(schema), "input")
    try:
        return schema_adapter(schema).validate_python(raw)
    except Exception:  # a placeholder that fails validation is still worth showing
        return raw
