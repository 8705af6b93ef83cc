"""Concurrency limits for workflow starts and running jobs.

Two kinds of slot: a *start* is one tool call or job start being admitted and run, a
*job* is one async job alive. Each kind has a server-wide limit and optional limits per
workflow. One :class:`ConcurrencyController` serves a whole server: every workflow's tool
takes its slots from the same object, so server-wide limits hold across workflows (the
original built one controller per workflow, which made them per-workflow limits).
A full limit rejects at once with BUSY; nothing queues.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ageflow.mcp_server.ceilings import ABSENT, Absent
from ageflow.mcp_server.errors import ErrorCode, McpServerError

Limit = int | None
"""A positive slot count, or None for unlimited."""

SlotKind = Literal["start", "job"]


@dataclass(frozen=True, slots=True)
class WorkflowConcurrencyConfig:
    """Limits for one workflow; ``ABSENT`` leaves that kind unlimited for the workflow.

    ``max_concurrent_jobs_per_workflow`` is the original's older spelling of
    ``max_concurrent_starts``, used when that is absent.
    """

    max_concurrent_starts: Limit | Absent = ABSENT
    max_concurrent_jobs: Limit | Absent = ABSENT
    max_concurrent_jobs_per_workflow: Limit | Absent = ABSENT


@dataclass(frozen=True, slots=True)
class ConcurrencyConfig:
    """Operator concurrency settings before defaults.

    Server starts default to ``max_concurrent_jobs`` if given, else 1; server jobs default
    to unlimited. ``per_workflow[name]`` sets that workflow's start limit (overriding
    ``workflows[name]``). ``max_concurrent_jobs_per_workflow`` is a start limit for each
    workflow that sets none itself (see :func:`spread_per_workflow_limit`).
    """

    max_concurrent_starts: Limit | Absent = ABSENT
    max_concurrent_jobs: Limit | Absent = ABSENT
    max_concurrent_jobs_per_workflow: Limit | Absent = ABSENT
    per_workflow: Mapping[str, Limit] = field(default_factory=dict)
    workflows: Mapping[str, WorkflowConcurrencyConfig] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WorkflowLimits:
    """Resolved limits of one workflow; ``ABSENT`` = this workflow has no own counter."""

    max_concurrent_starts: Limit | Absent = ABSENT
    max_concurrent_jobs: Limit | Absent = ABSENT


@dataclass(frozen=True, slots=True)
class ResolvedConcurrencyConfig:
    """Concurrency limits with defaults applied and every value checked."""

    max_concurrent_starts: Limit = 1
    max_concurrent_jobs: Limit = None
    workflows: Mapping[str, WorkflowLimits] = field(default_factory=dict)


def _checked(path: str, value: Any) -> Limit:
    # Integral floats (2.0) are refused too: a slot count is an int in Python.
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{path} must be a positive integer, got: {value!r}")
    return value


def _first_given(*values: Limit | Absent) -> Limit | Absent:
    """The first value that is not ABSENT (an explicit None counts: it means unlimited)."""
    for value in values:
        if value is not ABSENT:
            return value
    return ABSENT


def resolve_concurrency_config(
    config: ConcurrencyConfig | ResolvedConcurrencyConfig | None = None,
    *,
    known_workflows: Collection[str] | None = None,
) -> ResolvedConcurrencyConfig:
    """Apply defaults and validate; a resolved config is returned as it is.

    Raises ValueError for a value that is not a positive integer or None (the message
    names the setting with the original's camelCase path), and, when
    ``known_workflows`` is given, for limits naming an unknown workflow.
    """
    if isinstance(config, ResolvedConcurrencyConfig):
        return config
    config = config or ConcurrencyConfig()
    names = [*config.workflows, *(n for n in config.per_workflow if n not in config.workflows)]
    if known_workflows is not None:
        unknown = [name for name in names if name not in known_workflows]
        if unknown:
            raise ValueError(
                f"concurrency limits name an unknown workflow name: {', '.join(unknown)}"
            )
    workflows: dict[str, WorkflowLimits] = {}
    for name in names:
        raw = config.workflows.get(name, WorkflowConcurrencyConfig())
        starts = _first_given(raw.max_concurrent_starts, raw.max_concurrent_jobs_per_workflow)
        prefix = f"workflows.{name}."
        if raw.max_concurrent_starts is not ABSENT:
            _checked(prefix + "maxConcurrentStarts", raw.max_concurrent_starts)
        if raw.max_concurrent_jobs_per_workflow is not ABSENT:
            _checked(prefix + "maxConcurrentJobsPerWorkflow", raw.max_concurrent_jobs_per_workflow)
        jobs = raw.max_concurrent_jobs
        if jobs is not ABSENT:
            jobs = _checked(prefix + "maxConcurrentJobs", jobs)
        if name in config.per_workflow:
            starts = _checked(f"perWorkflow.{name}", config.per_workflow[name])
        workflows[name] = WorkflowLimits(starts, jobs)
    server_starts = _first_given(config.max_concurrent_starts, config.max_concurrent_jobs)
    server_jobs = config.max_concurrent_jobs
    return ResolvedConcurrencyConfig(
        max_concurrent_starts=1
        if server_starts is ABSENT
        else _checked(
            "maxConcurrentStarts"
            if config.max_concurrent_starts is not ABSENT
            else "maxConcurrentJobs",
            server_starts,
        ),
        max_concurrent_jobs=None
        if server_jobs is ABSENT
        else _checked("maxConcurrentJobs", server_jobs),
        workflows=workflows,
    )


def spread_per_workflow_limit(
    config: ConcurrencyConfig, workflow_names: Collection[str]
) -> ConcurrencyConfig:
    """``config`` with its top-level ``max_concurrent_jobs_per_workflow`` given to each
    workflow as its start limit, unless the workflow sets its own.

    A server of several workflows honours the setting as the original did (each workflow
    of ``create_mcp_server`` went through the single-workflow wrapper); without this,
    :func:`resolve_concurrency_config` would ignore it. Raises ValueError for a value that
    is not a positive integer or None.
    """
    limit = config.max_concurrent_jobs_per_workflow
    if limit is ABSENT:
        return config
    limit = _checked("maxConcurrentJobsPerWorkflow", limit)
    per_workflow = dict(config.per_workflow)
    for name in workflow_names:
        own = config.workflows.get(name)
        has_own = own is not None and (
            own.max_concurrent_starts is not ABSENT
            or own.max_concurrent_jobs_per_workflow is not ABSENT
        )
        if name not in per_workflow and not has_own:
            per_workflow[name] = limit
    return replace(config, per_workflow=per_workflow)


def single_workflow_concurrency_config(
    workflow_name: str,
    concurrency: ConcurrencyConfig | None = None,
    max_concurrent_starts: Limit | Absent = ABSENT,
) -> ResolvedConcurrencyConfig:
    """The config of a server that offers one workflow (the CLI's ``mcp serve``).

    The first non-None of jobs, starts, jobs-per-workflow and ``max_concurrent_starts``
    becomes both server limits; ``max_concurrent_jobs_per_workflow`` becomes the
    workflow's start limit. Nothing given: one start at a time, jobs unlimited.
    """
    if concurrency is None and max_concurrent_starts is ABSENT:
        return resolve_concurrency_config()
    concurrency = concurrency or ConcurrencyConfig()
    candidates = (
        concurrency.max_concurrent_jobs,
        concurrency.max_concurrent_starts,
        concurrency.max_concurrent_jobs_per_workflow,
        max_concurrent_starts,
    )
    server_limit = next((v for v in candidates if v is not ABSENT and v is not None), ABSENT)
    per_workflow = dict(concurrency.per_workflow)
    if concurrency.max_concurrent_jobs_per_workflow is not ABSENT:
        per_workflow[workflow_name] = concurrency.max_concurrent_jobs_per_workflow
    return resolve_concurrency_config(
        ConcurrencyConfig(
            max_concurrent_starts=(
                concurrency.max_concurrent_starts if server_limit is ABSENT else server_limit
            ),
            max_concurrent_jobs=(
                concurrency.max_concurrent_jobs if server_limit is ABSENT else server_limit
            ),
            per_workflow=per_workflow,
            workflows=concurrency.workflows,
        )
    )


class _Counter:
    """Active slots against a fixed limit (None = unlimited)."""

    def __init__(self, limit: Limit) -> None:
        self.limit = limit
        self.active = 0

    @property
    def full(self) -> bool:
        return self.limit is not None and self.active >= self.limit

    def release(self) -> None:
        self.active = max(0, self.active - 1)


class Permit:
    """A held slot; ``release()`` frees it once (later calls do nothing).

    Usable as a context manager, which releases on exit.
    """

    def __init__(self, counters: tuple[_Counter, ...]) -> None:
        self._counters = counters
        self._released = False

    @property
    def released(self) -> bool:
        return self._released

    def release(self) -> None:
        if self._released:
            return
        self._released = True
        for counter in self._counters:
            counter.release()

    def __enter__(self) -> Permit:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


class ConcurrencyController:
    """Admits starts and jobs against the server-wide and per-workflow limits.

    Share one instance across every workflow of a server. Acquiring never waits: a full
    limit raises McpServerError(BUSY). There is no await between the check and the
    count, so concurrent tasks on one event loop cannot overshoot a limit.
    """

    def __init__(self, config: ConcurrencyConfig | ResolvedConcurrencyConfig | None = None) -> None:
        self.config = resolve_concurrency_config(config)
        self._server = {
            "start": _Counter(self.config.max_concurrent_starts),
            "job": _Counter(self.config.max_concurrent_jobs),
        }
        self._workflows: dict[tuple[str, SlotKind], _Counter] = {}
        for name, limits in self.config.workflows.items():
            if limits.max_concurrent_starts is not ABSENT:
                self._workflows[(name, "start")] = _Counter(limits.max_concurrent_starts)
            if limits.max_concurrent_jobs is not ABSENT:
                self._workflows[(name, "job")] = _Counter(limits.max_concurrent_jobs)

    def acquire_start(self, workflow_name: str) -> Permit:
        """A start slot for ``workflow_name``, or McpServerError(BUSY)."""
        return self._acquire(workflow_name, "start")

    def acquire_job(self, workflow_name: str) -> Permit:
        """A job slot for ``workflow_name``, or McpServerError(BUSY)."""
        return self._acquire(workflow_name, "job")

    def active(self, kind: SlotKind, workflow_name: str | None = None) -> int:
        """Slots of ``kind`` held server-wide, or by one workflow with its own limit."""
        if workflow_name is None:
            return self._server[kind].active
        counter = self._workflows.get((workflow_name, kind))
        return 0 if counter is None else counter.active

    def _acquire(self, workflow_name: str, kind: SlotKind) -> Permit:
        own = self._workflows.get((workflow_name, kind))
        if own is not None and own.full:
            raise McpServerError(
                ErrorCode.BUSY,
                f'Workflow "{workflow_name}" {kind} concurrency limit reached (limit={own.limit})',
                {
                    "scope": "workflow",
                    "kind": kind,
                    "limit": own.limit,
                    "active": own.active,
                    "workflowName": workflow_name,
                },
            )
        server = self._server[kind]
        if server.full:
            raise McpServerError(
                ErrorCode.BUSY,
                f"Server {kind} concurrency limit reached (limit={server.limit})",
                {"scope": "server", "kind": kind, "limit": server.limit, "active": server.active},
            )
        held = (server,) if own is None else (own, server)
        for counter in held:
            counter.active += 1
        return Permit(held)
