"""Scrubbing of data that is about to be placed in an agent's prompt.

Upstream task outputs can carry text written by a model or an outsider. A line that looks
like a chat-role marker (``System:``, ``Human:``, ``Assistant:``) or a ``---`` separator
could make the next model read injected text as a new turn, so such markers are replaced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel

__all__ = ["SANITIZED_MARK", "sanitize_ctx_data", "sanitize_text"]

SANITIZED_MARK: Final = " [SANITIZED] "
"""What replaces each marker, including the line break and indentation before it."""

# Applied in this order; each match includes the newline and whitespace before the marker.
_MARKERS: Final = (
    re.compile(r"(?:^|\n)\s*---\s*(?:\n|$)", re.MULTILINE),
    re.compile(r"(?:^|\n)\s*System:", re.MULTILINE | re.IGNORECASE),
    re.compile(r"(?:^|\n)\s*Human:", re.MULTILINE | re.IGNORECASE),
    re.compile(r"(?:^|\n)\s*Assistant:", re.MULTILINE | re.IGNORECASE),
)


def sanitize_text(text: str) -> str:
    """``text`` with separator lines and role markers replaced by :data:`SANITIZED_MARK`.

    Returns ``text`` itself (same object, e.g. an enum member) when nothing matched.
    """
    result = text
    for marker in _MARKERS:
        result = marker.sub(SANITIZED_MARK, result)
    return text if result == text else result


def sanitize_ctx_data(data: Any) -> Any:
    """Sanitize every string inside ``data``; the structure is kept.

    Mappings keep their keys (keys are not scrubbed) and become plain dicts; lists, tuples
    (named tuples stay named tuples), sets and frozensets keep their kind; a pydantic model
    is rebuilt as the same model type from its sanitized dump, and returned unchanged when
    none of its strings needed scrubbing. Every other value is returned as it is.
    """
    if isinstance(data, str):
        return sanitize_text(data)
    if isinstance(data, BaseModel):
        return _sanitize_model(data)
    if isinstance(data, Mapping):
        return {key: sanitize_ctx_data(value) for key, value in data.items()}
    if isinstance(data, list):
        return [sanitize_ctx_data(item) for item in data]
    if isinstance(data, tuple):
        items = [sanitize_ctx_data(item) for item in data]
        if hasattr(data, "_fields"):  # a named tuple
            return type(data)(*items)
        return tuple(items)
    if isinstance(data, frozenset):
        return frozenset(sanitize_ctx_data(item) for item in data)
    if isinstance(data, set):
        return {sanitize_ctx_data(item) for item in data}
    return data


def _sanitize_model(model: BaseModel) -> BaseModel:
    # Dump by alias and re-validate so validators and nested model types are applied again;
    # aliases are always accepted on input, field names only with populate_by_name.
    dumped = model.model_dump(by_alias=True, round_trip=True)
    cleaned = sanitize_ctx_data(dumped)
    if cleaned == dumped:
        return model
    return type(model).model_validate(cleaned)
