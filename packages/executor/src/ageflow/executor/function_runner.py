"""One function task: validate the input once, call the function, validate, retry."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pydantic

from ageflow.core.config import FUNCTION_RETRY_DEFAULTS
from ageflow.core.errors import AttemptRecord, NodeMaxRetriesError
from ageflow.core.schemas import schema_adapter
from ageflow.core.tasks import FunctionTask
from ageflow.executor.classify import classify_fn_error

OnRetry = Callable[[int, str], Awaitable[None]]


class FunctionValidationError(ValueError):
    """A function task's input or output does not match its schema (never retried).

    The message keeps the original's wording (``input validation failed`` /
    ``output validation failed``) so that tooling matching on it keeps working.
    """

    def __init__(self, task_name: str, which: str, detail: str) -> None:
        self.task_name = task_name
        self.which = which
        super().__init__(f'Function task "{task_name}": {which} validation failed: {detail}')


@dataclass(frozen=True)
class FunctionRunResult:
    output: Any
    latency_ms: float
    retries: int


async def run_function(
    task: FunctionTask,
    resolved_input: Any,
    task_name: str,
    *,
    on_retry: OnRetry | None = None,
) -> FunctionRunResult:
    """Run a function task with its retry policy (default: one attempt, no retry).

    There is no backoff between function attempts: they are local code.
    """
    started = time.perf_counter()
    fn = task.fn
    policy = FUNCTION_RETRY_DEFAULTS.merged_with(task.retry)
    try:
        parsed = schema_adapter(fn.input_schema).validate_python(resolved_input)
    except pydantic.ValidationError as exc:
        raise FunctionValidationError(task_name, "input", str(exc)) from exc
    output_adapter = schema_adapter(fn.output_schema)
    records: list[AttemptRecord] = []
    for attempt in range(policy.max):
        try:
            raw = await fn.call(parsed)
            try:
                output = output_adapter.validate_python(raw)
            except pydantic.ValidationError as exc:
                raise FunctionValidationError(task_name, "output", str(exc)) from exc
            return FunctionRunResult(
                output=output,
                latency_ms=(time.perf_counter() - started) * 1000,
                retries=attempt,
            )
        except FunctionValidationError:
            raise
        except Exception as exc:
            kind = classify_fn_error(exc)
            records.append(AttemptRecord(attempt=attempt, error=str(exc), error_code=kind))
            if kind not in policy.on:
                raise NodeMaxRetriesError(task_name, records) from exc
            if attempt + 1 < policy.max and on_retry is not None:
                await on_retry(attempt + 1, str(exc))
    raise NodeMaxRetriesError(task_name, records)
