"""Wire conventions shared by every model that leaves the process.

Python attributes are snake_case; on the wire the original's camelCase keys are kept
(``runId``, ``taskName`` ...), so clients written for the TypeScript ageflow keep working.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


@functools.cache
def _omittable_fields(cls: type[BaseModel]) -> frozenset[str]:
    """Optional metadata fields: default None and not typed ``Any``.

    A field typed ``Any`` carries user data (an output, the workflow input) and a required
    field typed ``X | None`` gives None a meaning (``maxCostUsd: null`` = unlimited), so a
    None in either is a value that stays on the wire.
    """
    return frozenset(
        name
        for name, info in cls.model_fields.items()
        if info.default is None and info.annotation is not Any
    )


def _unset_optionals(model: WireModel) -> dict[Any, Any]:
    """A pydantic ``exclude`` spec: the unset optional fields of ``model`` and of the wire
    models nested in it; user data (fields typed ``Any``) is never looked into."""
    spec: dict[Any, Any] = {}
    omittable = _omittable_fields(type(model))
    for name, info in type(model).model_fields.items():
        if info.annotation is Any:
            continue
        value = getattr(model, name)
        if value is None:
            if name in omittable:
                spec[name] = True
        elif isinstance(value, WireModel):
            if nested := _unset_optionals(value):
                spec[name] = nested
        elif isinstance(value, list | tuple):
            items = {i: sub for i, item in enumerate(value) if (sub := _nested_spec(item))}
            if items:
                spec[name] = items
        elif isinstance(value, Mapping):
            entries = {key: sub for key, item in value.items() if (sub := _nested_spec(item))}
            if entries:
                spec[name] = entries
    return spec


def _nested_spec(item: Any) -> dict[Any, Any]:
    return _unset_optionals(item) if isinstance(item, WireModel) else {}


class WireModel(BaseModel):
    """Base of wire models: camelCase aliases, construction by either name, frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        arbitrary_types_allowed=True,
    )

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict with camelCase keys.

        Optional fields left at their None default are omitted, as the original left
        ``undefined`` keys out. Unlike ``exclude_none`` this never reaches into user data: a
        task output whose model has a None field keeps it, and so does an ``Any`` field
        holding None or a required field whose None means something.
        """
        return self.model_dump(mode="json", by_alias=True, exclude=_unset_optionals(self))


def compact_json(value: Any) -> str:
    """JSON as the original emitted it: no spaces after separators, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def now_ms() -> int:
    """Epoch milliseconds, the unit of every timestamp on the wire."""
    return time.time_ns() // 1_000_000
