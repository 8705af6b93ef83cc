"""Reading the event stream of ``codex exec --json``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ageflow.core.cli_process import split_json_lines

__all__ = ["CodexOutput", "parse_codex_output", "rate_limit_in"]


@dataclass(frozen=True)
class CodexOutput:
    """The answer of one call.

    ``errors`` holds the messages of ``error`` and ``turn.failed`` events; ``turn_failed``
    says whether a turn failed (a bare ``error`` event may be a retried hiccup).
    """

    text: str
    session_handle: str
    tokens_in: int
    tokens_out: int
    non_json: list[str]
    errors: list[str] = field(default_factory=list)
    turn_failed: bool = False


def _count(usage: Any, key: str) -> int:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _error_message(event: dict[str, Any]) -> str | None:
    if event.get("type") == "error":
        message = event.get("message")
    elif event.get("type") == "turn.failed":
        error = event.get("error")
        message = error.get("message") if isinstance(error, dict) else None
    else:
        return None
    return message if isinstance(message, str) else ""


def parse_codex_output(stdout: str) -> CodexOutput:
    """The last agent message, the last thread id and the token counts summed over turns.

    Without an agent message (or with an empty one) the whole raw stdout is the text, as
    long as stdout had any content.
    """
    lines = split_json_lines(stdout)
    thread_id = ""
    text: str | None = None
    tokens_in = tokens_out = 0
    errors: list[str] = []
    turn_failed = False
    for event in lines.objects:
        kind = event.get("type")
        if kind == "thread.started":
            value = event.get("thread_id")
            thread_id = value if isinstance(value, str) else ""
        elif kind == "item.completed":
            item = event.get("item")
            item = item if isinstance(item, dict) else {}
            if item.get("type") == "agent_message" and isinstance(item.get("text"), str):
                text = item["text"]
        elif kind == "turn.completed":
            # Each turn reports its own usage: a resumed or multi-turn run adds them up.
            tokens_in += _count(event.get("usage"), "input_tokens")
            tokens_out += _count(event.get("usage"), "output_tokens")
        else:
            message = _error_message(event)
            if message is not None:
                errors.append(message)
                turn_failed = turn_failed or kind == "turn.failed"
    if not text and stdout.strip():
        text = stdout
    return CodexOutput(
        text or "", thread_id, tokens_in, tokens_out, lines.non_json, errors, turn_failed
    )


_RATE_LIMIT = re.compile(
    r"rate[_ ]?limit|usage limit|too many requests|\b429\b|quota exceeded", re.IGNORECASE
)


def rate_limit_in(*texts: str) -> bool:
    """Whether any of the texts reports a rate or usage limit."""
    return any(_RATE_LIMIT.search(text) for text in texts)
