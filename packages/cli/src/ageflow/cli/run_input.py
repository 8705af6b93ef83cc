"""Reading a run's input from ``--input``: inline JSON, or ``@path`` to a JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ageflow.cli.errors import UsageError


def parse_input(value: str | None) -> Any:
    """The run input ``--input`` names; ``None`` when the option was not given."""
    if value is None:
        return None
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--input {value}: cannot read the file ({exc.strerror})") from exc
        source = f"--input {value}"
    else:
        text = value
        source = "--input"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} must be JSON: {exc.msg} at line {exc.lineno}") from exc
