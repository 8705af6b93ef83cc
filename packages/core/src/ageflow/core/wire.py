"""Wire conventions shared by every model that leaves the process.

Python attributes are snake_case; on the wire the original's camelCase keys are kept
(``runId``, ``taskName`` ...), so clients written for the TypeScript ageflow keep working.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class WireModel(BaseModel):
    """Base of wire models: camelCase aliases, construction by either name, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        arbitrary_types_allowed=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict with camelCase keys; unset optional fields are left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def compact_json(value: Any) -> str:
    """JSON as the original emitted it: no spaces after separators, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def now_ms() -> int:
    """Epoch milliseconds, the unit of every timestamp on the wire."""
    return time.time_ns() // 1_000_000
