"""A run's events as MCP log messages (``notifications/message``), per call and per session.

The server advertises the ``logging`` capability and answers ``logging/setLevel``: the
level a client sets holds for its session (its connection), every other session keeps the
server's default (``--log-level``). During a sync tool call each run event that matters
to a reader becomes one log message on that call's stream, beside the progress
notifications: task started or finished (info), a retry or a budget warning (warning), a
failed task (error), a checkpoint waiting for an answer (notice). On the 2026-07-28
protocol there is no ``setLevel``; the SDK's per-request opt-in (the request's
``_meta`` log level) decides instead.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from typing import Any, Final, Literal, get_args

import mcp.types as types
from mcp.server.connection import allowed_log_levels
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ageflow.core.events import (
    BudgetWarningEvent,
    ErrorInfo,
    LoopIterationEvent,
    TaskCompleteEvent,
    TaskErrorEvent,
    TaskRestoredEvent,
    TaskRetryEvent,
    TaskSkipEvent,
    TaskStartEvent,
    WorkflowCompleteEvent,
    WorkflowErrorEvent,
    WorkflowEvent,
    WorkflowStartEvent,
)

LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
LOG_LEVELS: Final[tuple[LogLevel, ...]] = get_args(LogLevel)
"""Severity ascending (RFC 5424, as the spec orders them)."""
DEFAULT_LOG_LEVEL: Final[LogLevel] = "info"
LOGGER_PREFIX: Final = "ageflow"


def parse_log_level(value: str) -> LogLevel:
    """A level name (any case) as a LogLevel; ValueError names the valid ones."""
    lowered = value.strip().lower()
    for level in LOG_LEVELS:
        if level == lowered:
            return level
    raise ValueError(f"unknown log level {value!r}; use one of: {', '.join(LOG_LEVELS)}")


def at_least(level: str, threshold: str) -> bool:
    return LOG_LEVELS.index(level) >= LOG_LEVELS.index(threshold)


class SessionLogLevels:
    """The level each session asked for with ``logging/setLevel``; the default otherwise.

    Keyed weakly by the SDK's per-connection object, so a closed session leaves nothing.
    """

    def __init__(self, default: LogLevel = DEFAULT_LOG_LEVEL) -> None:
        self.default: LogLevel = default
        self._levels: weakref.WeakKeyDictionary[object, LogLevel] = weakref.WeakKeyDictionary()

    def set(self, ctx: ServerRequestContext[Any], level: LogLevel) -> None:
        self._levels[_connection_of(ctx)] = level

    def level(self, ctx: ServerRequestContext[Any]) -> LogLevel:
        return self._levels.get(_connection_of(ctx), self.default)

    def allows(self, ctx: ServerRequestContext[Any], level: LogLevel) -> bool:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            return level in allowed_log_levels(ctx.protocol_version, ctx.meta)
        return at_least(level, self.level(ctx))

    async def set_level_handler(
        self, ctx: ServerRequestContext[Any], params: types.SetLevelRequestParams
    ) -> types.EmptyResult:
        """The SDK handler of ``logging/setLevel``."""
        self.set(ctx, parse_log_level(params.level))
        return types.EmptyResult()


def _connection_of(ctx: ServerRequestContext[Any]) -> object:
    # One ServerSession is built per request; the connection under it lives as long as
    # the client's session, which is what a level set with logging/setLevel is scoped to.
    return getattr(ctx.session, "_connection", ctx.session)


async def send_log(
    ctx: ServerRequestContext[Any],
    levels: SessionLogLevels,
    level: LogLevel,
    data: Mapping[str, Any],
    logger: str,
) -> None:
    """One ``notifications/message`` on the stream of the request in ``ctx``, if allowed."""
    if not levels.allows(ctx, level):
        return
    notification = types.LoggingMessageNotification(
        params=types.LoggingMessageNotificationParams(level=level, data=dict(data), logger=logger)
    )
    await ctx.session.send_notification(notification, related_request_id=ctx.request_id)


def event_log(event: WorkflowEvent) -> tuple[LogLevel, dict[str, Any]]:
    """The level and data of the log message for a run event.

    ``data`` is a JSON object: ``event`` (the event type), ``message`` (one line for a
    human), ``runId``, ``workflow`` and the event's own detail.
    """
    level, message, detail = _describe(event)
    base = {"event": event.type, "message": message, "runId": event.run_id}
    return level, {**base, "workflow": event.workflow_name, **detail}


def _error(info: ErrorInfo) -> dict[str, str]:
    return {"name": info.name, "message": info.message}


def _describe(event: WorkflowEvent) -> tuple[LogLevel, str, dict[str, Any]]:
    if isinstance(event, WorkflowStartEvent):
        return "debug", f"workflow {event.workflow_name} started", {}
    if isinstance(event, WorkflowCompleteEvent):
        return "info", f"workflow {event.workflow_name} finished", {}
    if isinstance(event, WorkflowErrorEvent):
        text = f"workflow {event.workflow_name} failed: {event.error.message}"
        return "error", text, {"error": _error(event.error)}
    if isinstance(event, BudgetWarningEvent):
        text = f"budget warning: spent ${event.spent_usd:.4f} of ${event.limit_usd:.4f}"
        return "warning", text, {"spentUsd": event.spent_usd, "limitUsd": event.limit_usd}
    task: dict[str, Any] = {"task": event.task_name}
    name = event.task_name
    if isinstance(event, TaskStartEvent):
        return "info", f"task {name} started", task
    if isinstance(event, TaskCompleteEvent | TaskRestoredEvent):
        verb = "finished" if isinstance(event, TaskCompleteEvent) else "restored"
        metrics = event.metrics.model_dump(mode="json", by_alias=True)
        return "info", f"task {name} {verb}", {**task, "metrics": metrics}
    if isinstance(event, TaskRetryEvent):
        text = f"task {name} retried (attempt {event.attempt}): {event.reason}"
        return "warning", text, {**task, "attempt": event.attempt, "reason": event.reason}
    if isinstance(event, TaskErrorEvent):
        # A failed attempt that will be retried is a warning; the last one is an error.
        detail = {**task, "attempt": event.attempt, "terminal": event.terminal}
        level: LogLevel = "error" if event.terminal else "warning"
        text = f"task {name} failed: {event.error.message}"
        return level, text, {**detail, "error": _error(event.error)}
    if isinstance(event, TaskSkipEvent):
        return "info", f"task {name} skipped", task
    if isinstance(event, LoopIterationEvent):
        text = f"loop {name} iteration {event.iteration}"
        return "debug", text, {**task, "iteration": event.iteration}
    text = f"task {name} waits at a checkpoint: {event.message}"
    return "notice", text, {**task, "checkpoint": event.message}


class CallLog:
    """The log messages of one sync tool call (nothing when there is no SDK request)."""

    def __init__(
        self, ctx: ServerRequestContext[Any] | None, levels: SessionLogLevels | None
    ) -> None:
        self._ctx = ctx
        self._levels = levels

    async def on_event(self, event: WorkflowEvent) -> None:
        ctx, levels = self._ctx, self._levels
        if ctx is None or levels is None:
            return
        level, data = event_log(event)
        await send_log(ctx, levels, level, data, f"{LOGGER_PREFIX}.{event.workflow_name}")
