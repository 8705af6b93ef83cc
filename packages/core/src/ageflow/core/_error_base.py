"""The base of ageflow's typed errors: :class:`AgentFlowError`, its wire form and helpers.

Holds the helpers the error classes share (quoting, JSON-ready field values, pickling),
:class:`AttemptRecord`, :class:`AgentFlowError` and :class:`GenericAgentFlowError`.
Import these from :mod:`ageflow.core.errors`, the public module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from ageflow.core.config import RetryErrorKind
from ageflow.core.wire import WireModel


def _quote(text: str) -> str:
    # JSON quoting shows names with quotes, newlines or control characters unambiguously.
    return json.dumps(text, ensure_ascii=False)


def _tool_ref(server_name: str, tool_name: str) -> str:
    return _quote(f"{server_name}/{tool_name}")


def _jsonable(value: Any) -> Any:
    """A JSON-ready form of an error field (models become their wire dicts)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, WireModel):
        return value.to_wire()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, BaseException):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [_jsonable(v) for v in value]
    return str(value)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _restore_error(
    cls: type[AgentFlowError], args: tuple[Any, ...], state: dict[str, Any]
) -> AgentFlowError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    cause = state.get("cause")
    if isinstance(cause, BaseException):
        error.__cause__ = cause
    return error


class AttemptRecord(WireModel):
    """One failed attempt of a task, as kept in :class:`NodeMaxRetriesError`."""

    attempt: int
    """Attempt index (the executor counts from 0)."""
    error: str
    """The attempt's error message."""
    error_code: RetryErrorKind
    """How the failure was classified (wire key ``errorCode``)."""


class AgentFlowError(Exception):
    """Base of every ageflow error; abstract, raise a subclass.

    ``cause`` (keyword) is kept as ``.cause`` and also set as ``__cause__``, so tracebacks
    show it as they would after ``raise ... from cause``.
    """

    code: ClassVar[str]
    """Stable machine-readable identifier of the error kind."""

    _json_fields: ClassVar[tuple[str, ...]] = ()
    """Attributes that :meth:`to_json` adds, in camelCase, after the common keys."""

    def __init__(self, message: str, *, cause: object = None) -> None:
        if type(self) is AgentFlowError:
            raise TypeError(
                "AgentFlowError is abstract: raise one of its subclasses "
                "(GenericAgentFlowError when no specific one fits)"
            )
        super().__init__(message)
        self.message = message
        self.cause = cause
        if isinstance(cause, BaseException):
            self.__cause__ = cause

    @property
    def name(self) -> str:
        """The concrete class name (``"NodeMaxRetriesError"`` ...)."""
        return type(self).__name__

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: ``name``, ``code``, ``message``, ``cause`` and the error's fields.

        ``cause`` is the cause's own ``to_json()`` for an ageflow error, the message of any
        other exception, and the raw value otherwise (``None`` when there is no cause).
        """
        cause = self.cause
        cause_json: Any
        if isinstance(cause, AgentFlowError):
            cause_json = cause.to_json()
        elif isinstance(cause, BaseException):
            cause_json = str(cause)
        else:
            cause_json = _jsonable(cause)
        result: dict[str, Any] = {
            "name": self.name,
            "code": self.code,
            "message": self.message,
            "cause": cause_json,
        }
        for field in self._json_fields:
            result[_camel(field)] = _jsonable(getattr(self, field))
        return result

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GenericAgentFlowError:
        """Rebuild an error received over the wire; only string ``message``/``code`` count."""
        message = data.get("message")
        code = data.get("code")
        return GenericAgentFlowError(
            message if isinstance(message, str) else "Unknown error",
            code if isinstance(code, str) else "unknown",
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclass constructors take their fields, not the message, so the default
        # Exception pickling (cls(*args)) cannot rebuild them.
        return (_restore_error, (type(self), self.args, dict(self.__dict__)))


class GenericAgentFlowError(AgentFlowError):
    """Concrete fallback error whose code is chosen per instance (see ``from_json``)."""

    code: ClassVar[str] = "unknown"

    def __init__(self, message: str, code: str, *, cause: object = None) -> None:
        super().__init__(message, cause=cause)
        # A per-instance code shadows the class default on purpose.
        self.code = code  # type: ignore[misc]
