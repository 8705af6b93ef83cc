"""The runner protocol: how the executor asks an LLM backend for one agent turn."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ageflow.core.config import EnvConfig
from ageflow.core.mcp import LegacyMcpConfig, McpServerConfig
from ageflow.core.wire import WireModel


@dataclass(frozen=True)
class InlineToolDef:
    """A tool the agent may call that runs in this process (in-process runners only).

    ``parameters`` is a pydantic model class (or any type pydantic can validate) describing
    the arguments; ``execute`` receives the validated arguments and may be sync or async.
    """

    description: str
    parameters: Any
    execute: Callable[[Any], Awaitable[Any] | Any]


class ToolCallRecord(WireModel):
    """One tool call an in-process runner made during a turn."""

    name: str
    args: dict[str, Any]
    result: Any = None
    duration_ms: int = 0


class ValidateResult(WireModel):
    """A runner's health check; ``validate()`` never raises."""

    ok: bool
    version: str | None = None
    error: str | None = None


@dataclass
class RunnerSpawnArgs:
    """Everything a runner needs for one agent turn.

    Mutable on purpose: ``on_task_spawn_args`` hooks receive the very object passed to
    ``spawn`` and may adjust it. ``tools=None`` means no restriction; ``tools=[]`` means
    deny-all and must never be turned into ``None``.
    """

    prompt: str
    model: str | None = None
    tools: list[str] | None = None
    skills: list[str] | None = None
    mcp_servers: list[McpServerConfig] | None = None
    mcps: list[LegacyMcpConfig] | None = None
    session_handle: str | None = None
    permissions: dict[str, bool] | None = None
    system_prompt: str | None = None
    task_name: str | None = None
    inline_tools: dict[str, InlineToolDef] | None = None
    # Beyond the original: what a runner needs to enforce limits on its own child.
    timeout_ms: int | None = None
    max_output_bytes: int | None = None
    env: EnvConfig | None = None


@dataclass
class RunnerSpawnResult:
    """One turn's answer. ``stdout`` is untrusted text; the executor validates it."""

    stdout: str
    session_handle: str = ""
    tokens_in: int = 0
    tokens_out: int = 0
    tool_calls: list[ToolCallRecord] | None = None


@runtime_checkable
class Runner(Protocol):
    """An LLM backend. ``shutdown()`` is optional: define it to release pooled resources."""

    async def validate(self) -> ValidateResult: ...

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult: ...


@dataclass(frozen=True)
class RunnerOverride:
    """Per-call additions for every agent of one runner brand."""

    tools: Mapping[str, InlineToolDef] | None = None
    session_handle: str | None = None


RunnerOverrides = Mapping[str, RunnerOverride]
