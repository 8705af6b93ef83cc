"""Turning an agent's raw stdout into a validated value of its output schema.

The output schema is the security boundary of a workflow: nothing an agent prints reaches
the context unless it parses as JSON and validates against the schema. Validation is
strict, so ``"42"`` is not silently accepted where the schema says ``int``.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

import pydantic

from ageflow.core.schemas import schema_adapter
from ageflow.executor.errors import OutputTooLargeError, OutputValidationError

__all__ = ["extract_json_text", "parse_agent_output"]

# The first fenced block: optional ``json`` tag, a newline after the opening fence and one
# before the closing fence. Non-greedy, so a second fence later in the text is never merged in.
_FENCE = re.compile(r"```(?:json)?\s*\n([\s\S]*?)\n```")


def _reject_constant(name: str) -> NoReturn:
    # Python's json module accepts NaN / Infinity / -Infinity; JSON (and the original) does not.
    raise ValueError(f"{name} is not valid JSON")


def _check_json(text: str) -> None:
    json.loads(text, parse_constant=_reject_constant)


def extract_json_text(stdout: str, task_name: str) -> str:
    """The JSON document in ``stdout``: the whole stripped text, else its first fenced block.

    Raises OutputValidationError (reason starting ``Could not parse JSON``) when neither is
    valid JSON; the parser message is the fence's when a fence was tried.
    """
    text = stdout.strip()
    try:
        _check_json(text)
    except ValueError as exc:
        match = _FENCE.search(text)
        if match is None:
            raise OutputValidationError(
                task_name, f"Could not parse JSON: {exc}", cause=exc
            ) from exc
        fenced = match.group(1)
        try:
            _check_json(fenced)
        except ValueError as fence_exc:
            raise OutputValidationError(
                task_name, f"Could not parse JSON: {fence_exc}", cause=fence_exc
            ) from fence_exc
        return fenced
    return text


def parse_agent_output(
    stdout: str, schema: Any, task_name: str, *, max_output_bytes: int | None = None
) -> Any:
    """Parse an agent's stdout and validate it against ``schema``.

    The whole text is tried as JSON first, then the first fenced block (```json or bare
    ```), so an answer wrapped in prose still parses. Validation is pydantic's strict JSON
    mode: no string-to-number or number-to-bool coercion, while JSON-native conversions
    (an ISO date string for ``date``, an array for ``tuple``, a value for an ``Enum``) still
    work. Unknown keys of models are dropped unless the model forbids them. Returns the
    validated value (a model instance for a model schema).

    ``max_output_bytes``, when given, rejects longer stdout (UTF-8 bytes) with
    OutputTooLargeError before anything is parsed.

    Raises OutputValidationError naming ``task_name`` for unparseable or invalid output.
    """
    if max_output_bytes is not None:
        size = len(stdout.encode("utf-8", errors="surrogatepass"))
        if size > max_output_bytes:
            raise OutputTooLargeError(task_name, size, max_output_bytes)
    document = extract_json_text(stdout, task_name)
    try:
        return schema_adapter(schema).validate_json(document, strict=True)
    except pydantic.ValidationError as exc:
        raise OutputValidationError(task_name, str(exc), cause=exc) from exc
