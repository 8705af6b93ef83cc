"""A runner that answers from canned responses, keyed by task name, and counts calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from ageflow.core.runner import RunnerSpawnArgs, RunnerSpawnResult, ValidateResult
from ageflow.core.wire import compact_json


@dataclass(frozen=True)
class MockThrow:
    """A canned response that makes the spawn raise ``error``."""

    error: BaseException


@dataclass(frozen=True)
class MockRaw:
    """A canned response sent as raw stdout, unencoded (to test unparseable output)."""

    stdout: str


@dataclass
class TaskStats:
    """How one task's mock was used: every call, the failed ones, and successful answers."""

    call_count: int = 0
    retry_count: int = 0
    outputs: list[Any] = field(default_factory=list)


def _is_throw(entry: Any) -> BaseException | None:
    if isinstance(entry, MockThrow):
        return entry.error
    if isinstance(entry, dict):
        error = entry.get("throws")  # the original's {"throws": error} spelling
        if isinstance(error, BaseException):
            return error
    return None


def _stdout_of(entry: Any) -> str:
    if isinstance(entry, MockRaw):
        return entry.stdout
    if isinstance(entry, BaseModel):
        return entry.model_dump_json()
    return compact_json(entry)


class MockRunner:
    """Answers each spawn with the next canned response of its task; the last one repeats.

    Responses per task are a list (in call order) or a single value. A response is a
    JSON-able value, a pydantic model, ``MockRaw(text)`` or ``MockThrow(error)`` (also the
    original's ``{"throws": error}``). A task with no mock answers ``{}``.
    """

    version = "mock-1.0.0"

    def __init__(self) -> None:
        self._responses: dict[str, list[Any]] = {}
        self._calls: dict[str, int] = {}
        self._successes: dict[str, list[Any]] = {}
        self.spawn_args: list[RunnerSpawnArgs] = []

    def mock(self, task_name: str, responses: Any) -> None:
        """Replace the canned responses of ``task_name``."""
        self._responses[task_name] = (
            list(responses)
            if isinstance(responses, Sequence) and not isinstance(responses, str)
            else [responses]
        )

    def reset(self) -> None:
        """Forget the call statistics (the mocks stay)."""
        self._calls.clear()
        self._successes.clear()
        self.spawn_args.clear()

    def stats(self, task_name: str) -> TaskStats:
        calls = self._calls.get(task_name, 0)
        outputs = list(self._successes.get(task_name, []))
        return TaskStats(call_count=calls, retry_count=calls - len(outputs), outputs=outputs)

    async def validate(self) -> ValidateResult:
        return ValidateResult(ok=True, version=self.version)

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        task = args.task_name or ""
        self.spawn_args.append(args)
        calls = self._calls.get(task, 0) + 1
        self._calls[task] = calls
        queue = self._responses.get(task) or [{}]  # an empty list falls back to {} too
        entry = queue[min(calls, len(queue)) - 1]
        error = _is_throw(entry)
        if error is not None:
            raise error
        self._successes.setdefault(task, []).append(entry)
        return RunnerSpawnResult(
            stdout=_stdout_of(entry),
            session_handle=f"mock-{task}",
            tokens_in=10,
            tokens_out=20,
        )
