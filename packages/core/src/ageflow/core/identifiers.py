"""Static identifiers: the names of runners, models, MCP servers and sessions.

They end up in command lines, tool names and file names, so they are kept to a small,
shell- and path-safe ASCII alphabet.
"""

from __future__ import annotations

import re
from typing import Final

from ageflow.core.errors import InvalidIdentifierError

__all__ = ["IDENTIFIER_PATTERN", "validate_static_identifier"]

IDENTIFIER_PATTERN: Final = re.compile(r"^[a-zA-Z0-9._-]+$")
"""Allowed identifiers. Use ``fullmatch``: ``$`` also matches before a final newline."""


def validate_static_identifier(name: object, field: str = "identifier") -> str:
    """Return ``name`` when it is a valid identifier, else raise :class:`InvalidIdentifierError`.

    ``field`` names what the value is (``"runner"``, ``"model"`` ...) for the message.
    Note that ``".."`` is a valid identifier: dots are allowed.
    """
    if not isinstance(name, str):
        raise InvalidIdentifierError(field, repr(name))
    if IDENTIFIER_PATTERN.fullmatch(name) is None:
        raise InvalidIdentifierError(field, name)
    return name
