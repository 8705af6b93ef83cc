"""Agents and functions: the two kinds of work a task can do."""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar, overload

from ageflow.core.config import (
    AGENT_RETRY_DEFAULTS,
    DEFAULT_AGENT_TIMEOUT_MS,
    DEFAULT_MAX_OUTPUT_BYTES,
    EnvConfig,
    HitlConfig,
    ResolvedRetry,
    RetryConfig,
)
from ageflow.core.errors import WorkflowDefinitionError
from ageflow.core.identifiers import validate_static_identifier
from ageflow.core.mcp import AgentMcpConfig, LegacyMcpConfig, McpServerConfig
from ageflow.core.runner import InlineToolDef
from ageflow.core.schemas import check_schema, is_any_schema

InT = TypeVar("InT")
OutT = TypeVar("OutT")

AgentTools = Sequence[str] | Mapping[str, InlineToolDef]


@dataclass(frozen=True, eq=False)
class AgentDef(Generic[InT, OutT]):
    """An LLM agent: which runner serves it, its input and output schemas, and its prompt.

    Fields left as None take their defaults in ``resolve_agent_def``.
    """

    runner: str
    input: Any
    output: Any
    prompt: Callable[[InT], str]
    model: str | None = None
    tools: AgentTools | None = None
    skills: Sequence[str] | None = None
    mcp: AgentMcpConfig | None = None
    mcps: Sequence[LegacyMcpConfig] | None = None
    hitl: HitlConfig | None = None
    retry: RetryConfig | None = None
    sanitize_input: bool | None = None
    must_use: Sequence[str] | None = None
    timeout_ms: int | None = None
    max_output_bytes: int | None = None
    env: EnvConfig | None = None

    def tool_names(self) -> list[str] | None:
        """The agent's tool names: the list as given, an inline map's keys, or None."""
        if self.tools is None:
            return None
        return list(self.tools)

    def inline_tools(self) -> dict[str, InlineToolDef]:
        """The agent's inline tools (empty when its tools are plain names)."""
        if isinstance(self.tools, Mapping):
            return dict(self.tools)
        return {}


def define_agent(
    *,
    runner: str,
    input: Any,
    output: Any,
    prompt: Callable[[Any], str],
    model: str | None = None,
    tools: AgentTools | None = None,
    skills: Sequence[str] | None = None,
    mcp: AgentMcpConfig | Mapping[str, Any] | None = None,
    mcps: Sequence[LegacyMcpConfig | Mapping[str, Any]] | None = None,
    hitl: HitlConfig | None = None,
    retry: RetryConfig | None = None,
    sanitize_input: bool | None = None,
    must_use: Sequence[str] | None = None,
    timeout_ms: int | None = None,
    max_output_bytes: int | None = None,
    env: EnvConfig | None = None,
) -> AgentDef[Any, Any]:
    """Define an agent, checking what can be checked now.

    Raises InvalidIdentifierError for a bad runner or model name and
    WorkflowDefinitionError for a schema pydantic cannot validate or a non-callable prompt.
    Warns when the output schema accepts anything (agent output would flow downstream
    unvalidated).
    """
    validate_static_identifier(runner, "runner")
    if model is not None:
        validate_static_identifier(model, "model")
    legacy_mcps = None if mcps is None else [_legacy_mcp(entry) for entry in mcps]
    if mcp is not None and not isinstance(mcp, AgentMcpConfig):
        mcp = AgentMcpConfig.model_validate(mcp)
    check_agent_fields(input=input, output=output, prompt=prompt)
    if is_any_schema(output):
        warnings.warn(
            f"agent output schema is {getattr(output, '__name__', output)!r} (accepts anything): "
            "prompt injection in agent output would flow downstream unsanitized",
            UserWarning,
            stacklevel=2,
        )
    if isinstance(tools, str):
        raise TypeError("tools must be a list of tool names or a mapping of inline tools")
    return AgentDef(
        runner=runner,
        input=input,
        output=output,
        prompt=prompt,
        model=model,
        tools=tools,
        skills=skills,
        mcp=mcp,
        mcps=legacy_mcps,
        hitl=hitl,
        retry=retry,
        sanitize_input=sanitize_input,
        must_use=must_use,
        timeout_ms=timeout_ms,
        max_output_bytes=max_output_bytes,
        env=env,
    )


def _legacy_mcp(entry: LegacyMcpConfig | Mapping[str, Any]) -> LegacyMcpConfig:
    """A legacy ``mcps`` entry as a model; its server name is checked as an identifier."""
    if isinstance(entry, LegacyMcpConfig):
        return entry
    validate_static_identifier(entry.get("server"), "mcp.server")
    return LegacyMcpConfig.model_validate(entry)


def check_agent_fields(*, input: Any, output: Any, prompt: Any) -> None:
    """The checks shared by ``define_agent`` and workflow validation of raw agents."""
    check_schema(input, "input")
    check_schema(output, "output")
    if not callable(prompt):
        raise WorkflowDefinitionError(f"prompt must be callable, got {type(prompt).__name__}")


@dataclass(frozen=True, eq=False)
class ResolvedAgentDef:
    """An agent with every default decided, as the executor runs it."""

    agent: AgentDef[Any, Any]
    sanitize_input: bool
    retry: ResolvedRetry
    timeout_ms: int
    max_output_bytes: int
    mcp: AgentMcpConfig | None

    @property
    def runner(self) -> str:
        return self.agent.runner

    @property
    def model(self) -> str | None:
        return self.agent.model


# Agents already warned about ``mcps``; weak, so an id reused by a new agent still warns.
_legacy_warned: weakref.WeakSet[AgentDef[Any, Any]] = weakref.WeakSet()


def resolve_agent_def(agent: AgentDef[Any, Any]) -> ResolvedAgentDef:
    """Fill in the defaults: sanitize on, 300 s timeout, 1 MiB output, 3 attempts.

    Legacy ``mcps`` entries become ``mcp.servers`` (started with ``npx``) when ``mcp`` is not
    set; the deprecation warning is given once per agent.
    """
    mcp = agent.mcp
    if mcp is None and agent.mcps:
        if agent not in _legacy_warned:
            _legacy_warned.add(agent)
            warnings.warn(
                "agent.mcps is deprecated: use mcp=AgentMcpConfig(servers=[...])",
                DeprecationWarning,
                stacklevel=2,
            )
        mcp = AgentMcpConfig(
            servers=[
                McpServerConfig(name=legacy.server, command="npx", args=legacy.args)
                for legacy in agent.mcps
            ]
        )
    return ResolvedAgentDef(
        agent=agent,
        sanitize_input=True if agent.sanitize_input is None else agent.sanitize_input,
        retry=AGENT_RETRY_DEFAULTS.merged_with(agent.retry),
        timeout_ms=DEFAULT_AGENT_TIMEOUT_MS if agent.timeout_ms is None else agent.timeout_ms,
        max_output_bytes=(
            DEFAULT_MAX_OUTPUT_BYTES if agent.max_output_bytes is None else agent.max_output_bytes
        ),
        mcp=mcp,
    )


# --- functions ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FunctionDef(Generic[InT, OutT]):
    """Plain code as a task: ``execute`` receives the validated input (sync or async)."""

    input_schema: Any
    output_schema: Any
    execute: Callable[[InT], OutT | Awaitable[OutT]]
    name: str | None = None
    tag: Literal["function"] = field(default="function", init=False)

    async def call(self, value: InT) -> OutT:
        """Run ``execute`` and await its result when it is awaitable."""
        result = self.execute(value)
        if inspect.isawaitable(result):
            return await result
        return result

    def __call__(self, value: InT) -> OutT | Awaitable[OutT]:
        return self.execute(value)


@overload
def define_function(
    execute: Callable[[Any], Any], *, input: Any, output: Any, name: str | None = None
) -> FunctionDef[Any, Any]: ...


@overload
def define_function(
    execute: None = None, *, input: Any, output: Any, name: str | None = None
) -> Callable[[Callable[[Any], Any]], FunctionDef[Any, Any]]: ...


def define_function(
    execute: Callable[[Any], Any] | None = None,
    *,
    input: Any,
    output: Any,
    name: str | None = None,
) -> FunctionDef[Any, Any] | Callable[[Callable[[Any], Any]], FunctionDef[Any, Any]]:
    """Define a function task body, called directly or used as a decorator.

    ``define_function(fn, input=A, output=B)`` keeps ``name`` unset unless given; the
    decorator form names the function after the decorated callable.
    """
    check_schema(input, "input")
    check_schema(output, "output")

    def build(fn: Callable[[Any], Any], fn_name: str | None) -> FunctionDef[Any, Any]:
        if not callable(fn):
            raise WorkflowDefinitionError(f"execute must be callable, got {type(fn).__name__}")
        return FunctionDef(input_schema=input, output_schema=output, execute=fn, name=fn_name)

    if execute is not None:
        return build(execute, name)

    def decorator(fn: Callable[[Any], Any]) -> FunctionDef[Any, Any]:
        return build(fn, name or getattr(fn, "__name__", None))

    return decorator
