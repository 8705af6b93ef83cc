"""JSON Schemas of agent output types, and the system prompt that asks for them.

Every agent task is told, in its system prompt, the JSON Schema its answer must match.
Models read a self-contained schema better than one that jumps through ``$ref``s, so every
reference is inlined and the ``$defs`` section removed. The MCP server reuses
:func:`json_schema_for` for its tool schemas.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import Any

from ageflow.core.schemas import schema_adapter

__all__ = ["build_output_schema_prompt", "inline_refs", "json_schema_for"]

_DEF_SECTIONS = ("$defs", "definitions")


def _pointer_to_def(ref: str, defs: Mapping[str, Any]) -> str | None:
    """The definition name a local ``#/$defs/<name>`` reference points to, if known."""
    for section in _DEF_SECTIONS:
        prefix = f"#/{section}/"
        if ref.startswith(prefix):
            # JSON Pointer escapes: "~1" is "/", "~0" is "~" (decoded in this order).
            name = ref[len(prefix) :].replace("~1", "/").replace("~0", "~")
            return name if name in defs else None
    return None


def inline_refs(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``schema`` with every local ``$ref`` replaced by its definition.

    Keys next to a ``$ref`` (``description``, ``default`` ...) are kept and win over the
    definition's. A recursive type cannot be inlined to a finite document: its inner
    self-reference becomes a schema that accepts anything, with a description naming the
    type. The top-level ``$defs``/``definitions`` and ``$schema`` keys are dropped.
    """
    defs: dict[str, Any] = {}
    for section in _DEF_SECTIONS:
        section_defs = schema.get(section)
        if isinstance(section_defs, Mapping):
            defs.update(section_defs)

    def resolve(node: Any, expanding: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [resolve(item, expanding) for item in node]
        if not isinstance(node, Mapping):
            return node
        ref = node.get("$ref")
        name = _pointer_to_def(ref, defs) if isinstance(ref, str) else None
        if name is None:
            return {key: resolve(value, expanding) for key, value in node.items()}
        siblings = {key: resolve(value, expanding) for key, value in node.items() if key != "$ref"}
        if name in expanding:
            title = defs[name].get("title", name) if isinstance(defs[name], Mapping) else name
            target: Any = {"description": f"recursive: the same schema as {title}"}
        else:
            target = resolve(defs[name], expanding | {name})
        if not isinstance(target, Mapping):  # a boolean schema cannot carry siblings itself
            return {"allOf": [target], **siblings} if siblings else target
        return {**target, **siblings}

    top = {
        key: value for key, value in schema.items() if key not in _DEF_SECTIONS and key != "$schema"
    }
    result = resolve(top, frozenset())
    assert isinstance(result, dict)
    return result


def _close_objects(node: Any) -> Any:
    """Mark object schemas with declared properties as closed to unknown keys.

    Unknown keys are dropped on validation anyway; saying so in the schema keeps models
    from padding their answers. A schema that already decides (``extra="allow"``,
    ``extra="forbid"``, ``dict[str, T]``) is left as it is.
    """
    if isinstance(node, list):
        return [_close_objects(item) for item in node]
    if not isinstance(node, dict):
        return node
    closed = {key: _close_objects(value) for key, value in node.items()}
    if (
        closed.get("type") == "object"
        and isinstance(closed.get("properties"), dict)
        and "additionalProperties" not in closed
    ):
        closed["additionalProperties"] = False
    return closed


def _build_schema(schema: Any) -> dict[str, Any]:
    raw = schema_adapter(schema).json_schema(mode="validation")
    result = _close_objects(inline_refs(raw))
    assert isinstance(result, dict)
    return result


@functools.lru_cache(maxsize=512)
def _cached_schema_text(schema: Any) -> str:
    return json.dumps(_build_schema(schema))


def json_schema_for(schema: Any) -> dict[str, Any]:
    """The self-contained JSON Schema of ``schema`` (a model class or any pydantic type).

    No ``$ref``, no ``$defs``, no ``$schema``; objects with declared properties carry
    ``"additionalProperties": false``. Pydantic's ``title`` keys are kept, and ``int``
    fields are ``"integer"`` (``float`` ones ``"number"``). Results are cached per schema;
    each call returns a fresh dict that the caller may modify.
    """
    try:
        text = _cached_schema_text(schema)
    except TypeError:  # an unhashable schema object: build it without the cache
        return _build_schema(schema)
    loaded = json.loads(text)
    assert isinstance(loaded, dict)
    return loaded


_PROMPT_TEMPLATE = (
    "You MUST respond with valid JSON that matches the output schema below exactly.\n"
    "Do not include any text, markdown or explanation before or after the JSON.\n"
    "\n"
    "Output schema:\n"
    "```json\n"
    "{schema}\n"
    "```"
)


@functools.lru_cache(maxsize=512)
def _cached_prompt(schema: Any) -> str:
    return _render_prompt(schema)


def _render_prompt(schema: Any) -> str:
    return _PROMPT_TEMPLATE.format(schema=json.dumps(json_schema_for(schema), indent=2))


def build_output_schema_prompt(schema: Any) -> str:
    """The system prompt that tells an agent to answer with JSON matching ``schema``.

    Two instruction lines, an empty line, ``Output schema:`` and the schema from
    :func:`json_schema_for` in a ```json fence, indented by 2 spaces.
    """
    try:
        return _cached_prompt(schema)
    except TypeError:
        return _render_prompt(schema)
