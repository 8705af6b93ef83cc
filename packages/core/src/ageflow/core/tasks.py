"""Tasks: the nodes of a workflow DAG (agent tasks, function tasks and loops)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from ageflow.core.config import Checkpoint, HitlConfig, RetryConfig
from ageflow.core.context import TaskContext
from ageflow.core.definitions import AgentDef, FunctionDef
from ageflow.core.identifiers import validate_static_identifier
from ageflow.core.mcp import TaskMcpOverride


class _Unset:
    """Marks a task that has no ``input`` of its own (distinct from an explicit None)."""

    _instance: _Unset | None = None

    def __new__(cls) -> _Unset:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


UNSET: Any = _Unset()

TaskInput: TypeAlias = Any  # a static value or a callable taking the TaskContext
SkipPredicate: TypeAlias = Callable[[TaskContext], bool]


# --- sessions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionToken:
    """A named conversation that several agent tasks of one runner continue.

    Two tokens with the same name are the same session. The runner is kept so that a
    token shared across runner brands is refused when the workflow is defined.
    """

    name: str
    runner: str
    kind: Literal["token"] = field(default="token", init=False)


@dataclass(frozen=True)
class ShareSession:
    """Use whatever session ``task_name`` uses (resolved transitively)."""

    task_name: str
    kind: Literal["share"] = field(default="share", init=False)


SessionRef: TypeAlias = SessionToken | ShareSession


def session_token(name: str, runner: str) -> SessionToken:
    """A session token for agents of ``runner`` (a static identifier)."""
    validate_static_identifier(runner, "sessionToken runner")
    return SessionToken(name=name, runner=runner)


def share_session_with(task_name: str) -> ShareSession:
    """Continue the session of another task of the same task map."""
    return ShareSession(task_name=task_name)


# --- task kinds --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AgentTask:
    """Run an agent. A root task with no ``input`` receives the workflow input."""

    agent: AgentDef[Any, Any]
    depends_on: tuple[str, ...] = ()
    input: TaskInput = UNSET
    session: SessionRef | None = None
    hitl: HitlConfig | None = None
    must_use: Sequence[str] | None = None
    mcp_override: TaskMcpOverride | None = None
    skip_if: SkipPredicate | None = None


@dataclass(frozen=True, eq=False)
class FunctionTask:
    """Run plain code. A root task with no ``input`` receives the workflow input."""

    fn: FunctionDef[Any, Any]
    depends_on: tuple[str, ...] = ()
    input: TaskInput = UNSET
    retry: RetryConfig | None = None
    skip_if: SkipPredicate | None = None
    # Only a checkpoint makes sense for plain code (there are no tools to permit).
    hitl: Checkpoint | None = None


@dataclass(frozen=True, eq=False)
class LoopDef:
    """Run an inner task map repeatedly until ``until(ctx)`` holds, at most ``max`` times.

    ``context="fresh"`` (default) starts each iteration with new agent sessions;
    ``"persistent"`` carries them across iterations. The loop's output is the inner context
    of its last iteration.
    """

    tasks: Mapping[str, TaskDef]
    max: int
    until: Callable[[TaskContext], bool]
    depends_on: tuple[str, ...] = ()
    context: Literal["persistent", "fresh"] = "fresh"
    input: TaskInput = UNSET
    context_limit: int | None = None


TaskDef: TypeAlias = AgentTask | FunctionTask | LoopDef
TASK_TYPES: tuple[type, ...] = (AgentTask, FunctionTask, LoopDef)


def _dependency_names(depends_on: Sequence[str] | None) -> tuple[str, ...]:
    if depends_on is None:
        return ()
    if isinstance(depends_on, str):
        raise TypeError(
            f"depends_on must be a list of task names, got the string {depends_on!r} "
            f"(write depends_on=[{depends_on!r}])"
        )
    return tuple(depends_on)


def task(
    work: AgentDef[Any, Any] | FunctionDef[Any, Any],
    *,
    depends_on: Sequence[str] | None = None,
    input: TaskInput = UNSET,
    session: SessionRef | None = None,
    hitl: HitlConfig | None = None,
    must_use: Sequence[str] | None = None,
    mcp_override: TaskMcpOverride | Sequence[str] | None = None,
    skip_if: SkipPredicate | None = None,
    retry: RetryConfig | None = None,
) -> AgentTask | FunctionTask:
    """Wrap an agent or a function as a task of a workflow.

    ``input`` is a static value or a callable receiving the TaskContext; ``session`` and
    ``mcp_override`` apply to agents only, ``retry`` to functions only; ``hitl`` takes any
    HITL config for agents and ``Checkpoint(...)`` for functions.
    """
    deps = _dependency_names(depends_on)
    if isinstance(work, AgentDef):
        if retry is not None:
            raise TypeError("retry belongs on the agent (define_agent(retry=...)) for agent tasks")
        if isinstance(mcp_override, str):
            raise TypeError(
                f"mcp_override must be a list of server names, got the string {mcp_override!r}"
            )
        override = (
            TaskMcpOverride(servers=list(mcp_override))
            if mcp_override is not None and not isinstance(mcp_override, TaskMcpOverride)
            else mcp_override
        )
        return AgentTask(
            agent=work,
            depends_on=deps,
            input=input,
            session=session,
            hitl=hitl,
            must_use=must_use,
            mcp_override=override,
            skip_if=skip_if,
        )
    if isinstance(work, FunctionDef):
        for name, value in (("session", session), ("mcp_override", mcp_override)):
            if value is not None:
                raise TypeError(f"{name} applies to agent tasks only, not to function tasks")
        if hitl is not None and not isinstance(hitl, Checkpoint):
            raise TypeError("a function task takes hitl=Checkpoint(...) only (it has no tools)")
        return FunctionTask(
            fn=work, depends_on=deps, input=input, retry=retry, skip_if=skip_if, hitl=hitl
        )
    raise TypeError(
        f"task() takes an agent (define_agent) or a function (define_function), "
        f"got {type(work).__name__}"
    )


def loop(
    *,
    tasks: Mapping[str, TaskDef],
    max: int,
    until: Callable[[TaskContext], bool],
    depends_on: Sequence[str] | None = None,
    context: Literal["persistent", "fresh"] = "fresh",
    input: TaskInput = UNSET,
    context_limit: int | None = None,
) -> LoopDef:
    """A loop node: its inner tasks run as a DAG of their own on every iteration."""
    return LoopDef(
        tasks=dict(tasks),
        max=max,
        until=until,
        depends_on=_dependency_names(depends_on),
        context=context,
        input=input,
        context_limit=context_limit,
    )
