"""Reading the tokens of ``ageflow mcp serve``: a cursor over them, and the value readers
its flag table uses (numbers as the original read them, ports, rate limits).

Each reader returns the value, or None for a token it refuses (the flag table turns that
into the flag's one-line message).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimitSpec:
    """``--rate-limit <max>/<window_seconds>``: at most ``max_requests`` per window."""

    max_requests: int
    window_seconds: float


def js_number(token: str) -> float | None:
    """The token as JavaScript's ``Number()`` reads it (the original's rule), or None.

    Surrounding whitespace is ignored, an empty token is 0, ``1e3`` is 1000 and ``0x10``
    is 16; NaN, infinities and Python-only spellings (``1_000``, ``inf``) are refused.
    """
    text = token.strip()
    if not text:
        return 0.0
    if "_" in text:
        return None
    lowered = text.lower()
    if lowered.startswith(("0x", "0o", "0b")):
        try:
            return float(int(text, 0))
        except ValueError:
            return None
    if lowered.lstrip("+-").startswith(("inf", "nan")):
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def positive_int(token: str) -> int | None:
    value = js_number(token)
    if value is None or value <= 0 or not value.is_integer():
        return None
    return int(value)


def positive_number(token: str) -> float | None:
    value = js_number(token)
    return value if value is not None and value > 0 else None


def non_negative_number(token: str) -> float | None:
    value = js_number(token)
    return value if value is not None and value >= 0 else None


def port(token: str) -> int | None:
    value = positive_int(token)
    return value if value is not None and value <= 65535 else None


def rate_limit(token: str) -> RateLimitSpec | None:
    count, slash, window = token.partition("/")
    if not slash:
        return None
    max_requests = positive_int(count) if count.strip() else None
    seconds = positive_number(window) if window.strip() else None
    if max_requests is None or seconds is None:
        return None
    return RateLimitSpec(max_requests, seconds)


class Tokens:
    """The raw tokens with a cursor; ``--flag=value`` is split into flag and value."""

    def __init__(self, argv: list[str]) -> None:
        self._items = list(argv)
        self._index = 0
        self._inline: str | None = None

    def __bool__(self) -> bool:
        return self._index < len(self._items)

    def next_flag_or_positional(self) -> tuple[str, str | None]:
        token = self._items[self._index]
        self._index += 1
        if token.startswith("--") and "=" in token:
            name, _, value = token.partition("=")
            return name, value
        return token, None

    def value(self, inline: str | None, *, missing_if: Callable[[str], bool]) -> str | None:
        """The flag's value: the inline ``=value``, else the next token unless it looks
        like a flag (``missing_if``); None when missing (nothing is consumed then)."""
        if inline is not None:
            return inline
        if self._index >= len(self._items) or missing_if(self._items[self._index]):
            return None
        token = self._items[self._index]
        self._index += 1
        return token


def dash(token: str) -> bool:
    return token.startswith("-")


def double_dash(token: str) -> bool:
    return token.startswith("--")


def never(token: str) -> bool:
    return False
