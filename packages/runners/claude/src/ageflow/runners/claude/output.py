"""Reading what ``claude --print --output-format json`` wrote."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from ageflow.core.cli_process import JsonLines, split_json_lines

__all__ = ["ClaudeOutput", "parse_claude_output", "rate_limit_in", "retry_after_from"]


@dataclass(frozen=True)
class ClaudeOutput:
    """The answer of one call.

    ``result`` is the last ``{"type": "result"}`` object, or None when stdout had none
    (then ``text`` is the whole raw stdout).
    """

    text: str
    session_handle: str
    tokens_in: int
    tokens_out: int
    result: dict[str, Any] | None
    non_json: list[str]

    @property
    def is_error(self) -> bool:
        return self.result is not None and self.result.get("is_error") is True


def _lines(stdout: str) -> JsonLines:
    # ``--output-format json --verbose`` prints one JSON array of every message.
    stripped = stdout.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            return JsonLines([item for item in parsed if isinstance(item, dict)], [])
    return split_json_lines(stdout)


def _count(usage: object, key: str) -> int:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_claude_output(stdout: str) -> ClaudeOutput:
    """Text, session id and token counts of the last result object (one line, a stream
    of lines, or the verbose array); raw stdout verbatim when there is no result."""
    lines = _lines(stdout)
    results = [obj for obj in lines.objects if obj.get("type") == "result"]
    if not results:
        return ClaudeOutput(stdout, "", 0, 0, None, lines.non_json)
    last = results[-1]
    text = last.get("result")
    session = last.get("session_id")
    usage = last.get("usage")
    return ClaudeOutput(
        text=text if isinstance(text, str) else "",
        session_handle=session if isinstance(session, str) else "",
        tokens_in=_count(usage, "input_tokens"),
        tokens_out=_count(usage, "output_tokens"),
        result=last,
        non_json=lines.non_json,
    )


_RATE_LIMIT = re.compile(
    r"rate[_ ]limit|usage limit|too many requests|\b429\b|overloaded_error", re.IGNORECASE
)
# Claude Code reports a usage limit as "...usage limit reached|<epoch seconds of reset>".
_RESET_AT = re.compile(r"limit reached\|(\d{9,})")


def rate_limit_in(*texts: str) -> bool:
    """Whether any of the texts reports a rate or usage limit."""
    return any(_RATE_LIMIT.search(text) for text in texts)


def retry_after_from(*texts: str, now: float | None = None) -> float | None:
    """Seconds until the reset time a usage-limit message names; None when it names none."""
    current = time.time() if now is None else now
    for text in texts:
        match = _RESET_AT.search(text)
        if match:
            return max(0.0, int(match.group(1)) - current)
    return None
