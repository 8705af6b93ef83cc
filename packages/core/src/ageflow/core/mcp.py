"""MCP configuration models and helpers.

Two unrelated things share the "MCP" name:

* servers an *agent* may use (:class:`McpServerConfig`, :class:`AgentMcpConfig`,
  :class:`TaskMcpOverride`) and the allowlist / tool-name helpers around them;
* a *workflow exposed as* an MCP tool (:class:`McpExposureConfig`, alias ``McpConfig``)
  and its safety ceilings (:func:`resolve_mcp_config`).

Every model accepts snake_case and camelCase keys and dumps camelCase with ``by_alias``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, NamedTuple, Protocol, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    field_serializer,
    field_validator,
)
from pydantic.alias_generators import to_camel

from ageflow.core.errors import WorkflowNotExposableError
from ageflow.core.identifiers import IDENTIFIER_PATTERN
from ageflow.core.wire import WireModel

__all__ = [
    "FQN_PREFIX",
    "MCP_SAFE_DEFAULTS",
    "AgentMcpConfig",
    "LegacyMcpConfig",
    "MCPConfig",
    "McpConfig",
    "McpExposureConfig",
    "McpSafeDefaults",
    "McpServerConfig",
    "McpToolDescriptor",
    "McpToolRef",
    "ResolvedMcpConfig",
    "TaskMcpOverride",
    "filter_mcp_tools",
    "is_mcp_tool_permitted",
    "mcp_tool_fqn",
    "parse_mcp_tool_fqn",
    "resolve_mcp_config",
]

_STRICT_CONFIG = ConfigDict(
    alias_generator=to_camel,
    populate_by_name=True,
    frozen=True,
    extra="forbid",
    arbitrary_types_allowed=True,
)

_PositiveInt = Annotated[int, Field(gt=0, strict=True)]
_PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]

FQN_PREFIX: Final = "mcp__"
"""Prefix of the names under which MCP tools are offered to a model: ``mcp__server__tool``."""


def _schema_description(schema: Any) -> Any:
    """JSON form of one ``refine`` entry: its JSON Schema when one can be derived."""
    try:
        if isinstance(schema, TypeAdapter):
            return schema.json_schema()
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return schema.model_json_schema()
        return TypeAdapter(schema).json_schema()
    except Exception:  # an arbitrary validator object: describe it instead of failing the dump
        return repr(schema)


class McpServerConfig(BaseModel):
    """An MCP server an agent may use, started as a stdio subprocess."""

    model_config = _STRICT_CONFIG

    name: str
    """Identifier, also the tool-name prefix (``mcp__<name>__<tool>``); no ``__`` allowed."""
    command: str = Field(min_length=1)
    """Executable to start."""
    args: list[str] | None = None
    env: dict[str, str] | None = None
    """Extra environment; ``${env:NAME}`` placeholders are expanded when the server starts."""
    cwd: str | None = None
    """Working directory; the runner's default is the executor's working directory."""
    tools: list[str] | None = None
    """Allowlist of tool names: None allows every tool, ``[]`` allows none."""
    refine: dict[str, Any] | None = None
    """Per-tool argument schema (a pydantic model class, a TypeAdapter or any type)."""
    transport: Literal["stdio"] = "stdio"
    mcp_call_timeout_ms: _PositiveInt | None = None
    """Per-call timeout in ms; None leaves it to the runner (documented default 30 s)."""
    reuse_per_runner: Annotated[bool, Field(strict=True)] = False
    """Whether a runner may keep one server process for several tasks."""

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if IDENTIFIER_PATTERN.fullmatch(value) is None:
            raise ValueError(
                f"MCP server name {value!r} contains invalid characters; "
                f"it must match {IDENTIFIER_PATTERN.pattern}"
            )
        if "__" in value:
            raise ValueError(
                f"MCP server name {value!r} must not contain '__': the double underscore "
                "is reserved as the delimiter of MCP tool names (mcp__server__tool, the FQN)"
            )
        return value

    @field_serializer("refine", when_used="json")
    def _refine_as_json(self, refine: dict[str, Any] | None) -> dict[str, Any] | None:
        if refine is None:
            return None
        return {tool: _schema_description(schema) for tool, schema in refine.items()}


class LegacyMcpConfig(WireModel):
    """Deprecated v0.1 agent MCP entry; migrated to :class:`McpServerConfig` on resolution."""

    server: str
    args: list[str] | None = None
    auto_start: bool | None = None
    """Has no effect; dropped by the migration."""

    @field_validator("server")
    @classmethod
    def _check_server(cls, value: str) -> str:
        if IDENTIFIER_PATTERN.fullmatch(value) is None:
            raise ValueError(
                f"MCP server {value!r} contains invalid characters; "
                f"it must match {IDENTIFIER_PATTERN.pattern}"
            )
        return value


MCPConfig = LegacyMcpConfig
"""The original's name of :class:`LegacyMcpConfig`."""


class AgentMcpConfig(WireModel):
    """The MCP servers of one agent."""

    model_config = ConfigDict(extra="forbid")

    servers: list[McpServerConfig]
    extend_workflow: bool = False
    """False: these servers replace the workflow's list; True: they are added to it."""


class TaskMcpOverride(WireModel):
    """Per-task restriction of the agent's MCP servers, by name."""

    model_config = ConfigDict(extra="forbid")

    servers: list[str]


class McpExposureConfig(BaseModel):
    """How a workflow is offered as an MCP tool, and its safety ceilings.

    A ceiling left out gets its default from :data:`MCP_SAFE_DEFAULTS`; a ceiling given as
    None is unlimited on that axis. ``limits="unsafe-unlimited"`` lifts all three.
    """

    model_config = _STRICT_CONFIG

    description: str | None = None
    max_cost_usd: _PositiveFloat | None = None
    max_duration_sec: _PositiveFloat | None = None
    max_turns: _PositiveInt | None = None
    limits: Literal["unsafe-unlimited"] | None = None
    input_task: str | None = None
    """Task whose input model is the tool's input schema."""
    output_task: str | None = None
    """Task whose output is the tool's result."""
    task_support: Literal["optional", "required"] = "optional"
    """With MCP Tasks on (``--async``): ``required`` serves the tool only as a task."""


McpConfig = McpExposureConfig
"""The original's name of :class:`McpExposureConfig`."""


@dataclass(frozen=True, slots=True)
class McpSafeDefaults:
    """Ceilings applied to an MCP-exposed workflow that does not set its own."""

    max_cost_usd: float = 1.0
    max_duration_sec: float = 300.0
    max_turns: int = 20


MCP_SAFE_DEFAULTS: Final = McpSafeDefaults()


class ResolvedMcpConfig(WireModel):
    """An exposure config with defaults applied; a None ceiling means unlimited."""

    description: str | None = None
    max_cost_usd: float | None
    max_duration_sec: float | None
    max_turns: int | None
    input_task: str | None = None
    output_task: str | None = None


_CEILINGS: Final = ("max_cost_usd", "max_duration_sec", "max_turns")


def resolve_mcp_config(
    config: McpExposureConfig | Mapping[str, Any] | Literal[False] | None,
) -> ResolvedMcpConfig:
    """Apply the safe defaults to a workflow's MCP exposure config.

    ``False`` (the workflow opted out) raises :class:`WorkflowNotExposableError`, whose
    message starts with ``WORKFLOW_NOT_MCP_EXPOSABLE:``. A mapping is validated first.
    """
    if config is False:
        raise WorkflowNotExposableError()
    if config is None:
        exposure = McpExposureConfig()
    elif isinstance(config, McpExposureConfig):
        exposure = config
    else:
        exposure = McpExposureConfig.model_validate(config)

    ceilings: dict[str, Any] = {}
    for ceiling in _CEILINGS:
        if exposure.limits == "unsafe-unlimited":
            ceilings[ceiling] = None
        elif ceiling in exposure.model_fields_set:  # given, possibly as None (= unlimited)
            ceilings[ceiling] = getattr(exposure, ceiling)
        else:
            ceilings[ceiling] = getattr(MCP_SAFE_DEFAULTS, ceiling)
    return ResolvedMcpConfig(
        description=exposure.description,
        input_task=exposure.input_task,
        output_task=exposure.output_task,
        **ceilings,
    )


class McpToolDescriptor(WireModel):
    """A tool as listed by an MCP server."""

    name: str
    description: str | None = None
    input_schema: dict[str, Any] | None = None


class _Named(Protocol):
    @property
    def name(self) -> str: ...


class _HasToolAllowlist(Protocol):
    @property
    def tools(self) -> Sequence[str] | None: ...


_ToolT = TypeVar("_ToolT", bound=_Named)


def filter_mcp_tools(server: _HasToolAllowlist, tools: Sequence[_ToolT]) -> list[_ToolT]:
    """The tools the server's allowlist permits, in their original order."""
    if server.tools is None:
        return list(tools)
    allowed = set(server.tools)
    return [tool for tool in tools if tool.name in allowed]


def is_mcp_tool_permitted(server: _HasToolAllowlist, tool_name: str) -> bool:
    """Whether the server's allowlist permits ``tool_name`` (no allowlist permits all)."""
    return server.tools is None or tool_name in server.tools


def mcp_tool_fqn(server: str, tool: str) -> str:
    """The name under which a server's tool is offered to a model."""
    return f"{FQN_PREFIX}{server}__{tool}"


class McpToolRef(NamedTuple):
    """A parsed ``mcp__server__tool`` name."""

    server: str
    tool: str


# Non-greedy server part: the server name may hold single underscores, the tool anything.
_FQN_PATTERN: Final = re.compile(r"mcp__(.+?)__(.+)")


def parse_mcp_tool_fqn(fqn: str) -> McpToolRef | None:
    """Split ``mcp__server__tool``; None when ``fqn`` is not such a name.

    ``mcp__a_b__c_d`` is server ``a_b``, tool ``c_d``; ``mcp__a__b__c`` is server ``a``,
    tool ``b__c`` (server names cannot contain ``__``).
    """
    match = _FQN_PATTERN.fullmatch(fqn)
    if match is None:
        return None
    return McpToolRef(server=match.group(1), tool=match.group(2))
