"""What counts as a schema: a pydantic model class or any type pydantic can validate."""

from __future__ import annotations

import functools
import typing
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError

from ageflow.core.errors import WorkflowDefinitionError


@functools.lru_cache(maxsize=512)
def _adapter(schema: Any) -> TypeAdapter[Any]:
    return TypeAdapter(schema)


def schema_adapter(schema: Any) -> TypeAdapter[Any]:
    """The (cached) pydantic adapter that validates values against ``schema``."""
    try:
        return _adapter(schema)
    except TypeError:  # unhashable schema objects (rare) are not cached
        return TypeAdapter(schema)


def is_any_schema(schema: Any) -> bool:
    """True for schemas that accept anything, which makes output validation meaningless."""
    return schema is Any or schema is object


def check_schema(schema: Any, role: str) -> None:
    """Raise WorkflowDefinitionError unless ``schema`` is a type pydantic can validate.

    ``role`` names the schema in the message (``"output"``, ``"input"``, ...).
    """
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return
    if schema is None or isinstance(schema, (dict, list, str, int, float, bool)):
        raise WorkflowDefinitionError(
            f"{role} schema must be a pydantic model class or a type such as str or "
            f"list[int], got the value {schema!r}"
        )
    if not (isinstance(schema, type) or typing.get_origin(schema) is not None or schema is Any):
        raise WorkflowDefinitionError(
            f"{role} schema must be a pydantic model class or a type, got {schema!r}"
        )
    try:
        schema_adapter(schema).json_schema()
    except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
        raise WorkflowDefinitionError(
            f"{role} schema {schema!r} is not a type pydantic can validate: {exc}"
        ) from exc
