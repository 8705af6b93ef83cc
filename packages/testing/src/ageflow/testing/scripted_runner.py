"""A runner whose answers come from a function, for tests that need control over timing."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable

import anyio

from ageflow.core.runner import RunnerSpawnArgs, RunnerSpawnResult, ValidateResult

Responder = Callable[
    [RunnerSpawnArgs], Awaitable[str | RunnerSpawnResult] | str | RunnerSpawnResult
]


class ScriptedRunner:
    """Answers each spawn with ``respond(args)`` (sync or async; text or a full result).

    It records every call, which calls were cancelled while in flight, and how many calls
    ran at once at most, so tests can see scheduling and cancellation from the outside.
    A text answer is reported with 10 tokens in and 20 out.
    """

    def __init__(self, respond: Responder | None = None, *, name: str = "scripted") -> None:
        self.respond: Responder = respond or (lambda _args: '{"answer": "ok"}')
        self.name = name
        self.calls: list[RunnerSpawnArgs] = []
        self.cancelled: list[str] = []
        self.running = 0
        self.max_running = 0

    async def validate(self) -> ValidateResult:
        return ValidateResult(ok=True, version=self.name)

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        self.calls.append(args)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            value = self.respond(args)
            if inspect.isawaitable(value):
                value = await value
        except anyio.get_cancelled_exc_class():
            self.cancelled.append(args.task_name or "")
            raise
        finally:
            self.running -= 1
        if isinstance(value, RunnerSpawnResult):
            return value
        return RunnerSpawnResult(stdout=value, tokens_in=10, tokens_out=20)

    def calls_for(self, task_name: str) -> list[RunnerSpawnArgs]:
        return [call for call in self.calls if call.task_name == task_name]
