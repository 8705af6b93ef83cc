import dataclasses

import pytest
from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from ageflow.core.errors import AgentFlowError, WorkflowNotExposableError
from ageflow.core.mcp import (
    MCP_SAFE_DEFAULTS,
    AgentMcpConfig,
    LegacyMcpConfig,
    MCPConfig,
    McpConfig,
    McpExposureConfig,
    McpServerConfig,
    McpToolDescriptor,
    McpToolRef,
    ResolvedMcpConfig,
    TaskMcpOverride,
    filter_mcp_tools,
    is_mcp_tool_permitted,
    mcp_tool_fqn,
    parse_mcp_tool_fqn,
    resolve_mcp_config,
)


class ReadArgs(BaseModel):
    path: str


TOOLS = [
    McpToolDescriptor(name="read"),
    McpToolDescriptor(name="write", description="writes"),
    McpToolDescriptor(name="list", input_schema={"type": "object"}),
]

# --- McpServerConfig (§7.6) ----------------------------------------------------------------


def test_minimal_server_config():
    server = McpServerConfig(name="fs", command="npx")
    assert (server.name, server.command) == ("fs", "npx")
    assert server.tools is None
    assert server.args is None
    assert server.transport == "stdio"
    assert server.reuse_per_runner is False
    assert server.mcp_call_timeout_ms is None


def test_full_server_config_from_camel_case():
    server = McpServerConfig.model_validate(
        {
            "name": "fs",
            "command": "npx",
            "args": ["-y", "server-fs"],
            "env": {"TOKEN": "${env:TOKEN}"},
            "cwd": "/srv",
            "tools": ["read"],
            "transport": "stdio",
            "mcpCallTimeoutMs": 5000,
            "reusePerRunner": True,
        }
    )
    assert server.args == ["-y", "server-fs"]
    assert server.env == {"TOKEN": "${env:TOKEN}"}
    assert server.cwd == "/srv"
    assert server.tools == ["read"]
    assert server.mcp_call_timeout_ms == 5000
    assert server.reuse_per_runner is True


def test_server_config_accepts_snake_case_and_dumps_camel_case():
    server = McpServerConfig(name="fs", command="x", mcp_call_timeout_ms=10, reuse_per_runner=True)
    dumped = server.model_dump(by_alias=True, exclude_none=True)
    assert dumped["mcpCallTimeoutMs"] == 10
    assert dumped["reusePerRunner"] is True
    assert "mcp_call_timeout_ms" not in dumped


def test_server_name_with_slash_rejected():
    with pytest.raises(PydanticValidationError, match="invalid characters"):
        McpServerConfig(name="my/server", command="x")


def test_server_name_with_double_underscore_rejected_with_fqn_message():
    with pytest.raises(PydanticValidationError, match="reserved as the delimiter") as caught:
        McpServerConfig(name="my__server", command="x")
    assert "FQN" in str(caught.value)


def test_server_name_with_single_underscores_accepted():
    assert McpServerConfig(name="github_enterprise", command="x").name == "github_enterprise"


def test_empty_server_name_rejected():
    with pytest.raises(PydanticValidationError):
        McpServerConfig(name="", command="x")


def test_transport_other_than_stdio_rejected():
    with pytest.raises(PydanticValidationError, match="stdio"):
        McpServerConfig(name="fs", command="x", transport="http")


def test_empty_command_rejected():
    with pytest.raises(PydanticValidationError, match="command"):
        McpServerConfig(name="fs", command="")


def test_unknown_server_key_rejected():
    with pytest.raises(PydanticValidationError, match="extra"):
        McpServerConfig.model_validate({"name": "fs", "command": "x", "autoStart": True})


@pytest.mark.parametrize("timeout", [0, -1, 1.5, "100", True])
def test_call_timeout_must_be_a_positive_int(timeout):
    with pytest.raises(PydanticValidationError):
        McpServerConfig(name="fs", command="x", mcp_call_timeout_ms=timeout)


def test_reuse_per_runner_must_be_a_bool():
    with pytest.raises(PydanticValidationError):
        McpServerConfig(name="fs", command="x", reuse_per_runner="yes")


def test_refine_with_schema_values_accepted_and_kept():
    adapter = TypeAdapter(list[int])
    server = McpServerConfig(name="fs", command="x", refine={"read": ReadArgs, "sum": adapter})
    assert server.refine is not None
    assert server.refine["read"] is ReadArgs
    assert server.refine["sum"] is adapter


def test_empty_refine_accepted():
    assert McpServerConfig(name="fs", command="x", refine={}).refine == {}


def test_refine_serialises_to_json_schemas():
    server = McpServerConfig(
        name="fs", command="x", refine={"read": ReadArgs, "sum": TypeAdapter(list[int])}
    )
    wire = server.model_dump(mode="json", by_alias=True)
    assert wire["refine"]["read"]["properties"]["path"]["type"] == "string"
    assert wire["refine"]["sum"] == {"items": {"type": "integer"}, "type": "array"}


def test_refine_with_opaque_validator_still_serialises():
    opaque = object()
    server = McpServerConfig(name="fs", command="x", refine={"t": opaque})
    assert server.model_dump(mode="json")["refine"]["t"] == repr(opaque)


def test_server_config_is_frozen():
    server = McpServerConfig(name="fs", command="x")
    with pytest.raises(PydanticValidationError):
        server.name = "other"


# --- legacy / agent / task configs -----------------------------------------------------


def test_legacy_config_alias_and_fields():
    assert MCPConfig is LegacyMcpConfig
    legacy = LegacyMcpConfig.model_validate(
        {"server": "filesystem", "args": ["/tmp"], "autoStart": True}
    )
    assert (legacy.server, legacy.args, legacy.auto_start) == ("filesystem", ["/tmp"], True)


def test_legacy_config_server_must_be_identifier():
    with pytest.raises(PydanticValidationError, match="invalid characters"):
        LegacyMcpConfig(server="my server!")
    assert LegacyMcpConfig(server="my-mcp-server.v2").server == "my-mcp-server.v2"


def test_agent_mcp_config_validates_servers_and_defaults_to_replace():
    config = AgentMcpConfig.model_validate({"servers": [{"name": "fs", "command": "x"}]})
    assert isinstance(config.servers[0], McpServerConfig)
    assert config.extend_workflow is False
    assert (
        AgentMcpConfig.model_validate({"servers": [], "extendWorkflow": True}).extend_workflow
        is True
    )


def test_agent_mcp_config_rejects_bad_server():
    with pytest.raises(PydanticValidationError):
        AgentMcpConfig.model_validate({"servers": [{"name": "a__b", "command": "x"}]})


def test_task_override_servers():
    assert TaskMcpOverride(servers=["fs"]).servers == ["fs"]


# --- McpExposureConfig (§7.4) ---------------------------------------------------------------

FULL_EXPOSURE = {
    "description": "Triage a ticket",
    "maxCostUsd": 2.5,
    "maxDurationSec": 60.0,
    "maxTurns": 5,
    "limits": "unsafe-unlimited",
    "inputTask": "classify",
    "outputTask": "escalate",
}


def test_alias_name():
    assert McpConfig is McpExposureConfig


def test_full_exposure_config_round_trips():
    config = McpExposureConfig.model_validate(FULL_EXPOSURE)
    assert config.model_dump(by_alias=True, exclude_unset=True) == FULL_EXPOSURE


def test_empty_exposure_config_is_valid():
    config = McpExposureConfig.model_validate({})
    assert config.model_fields_set == set()


def test_exposure_accepts_snake_case():
    assert McpExposureConfig(max_cost_usd=3).max_cost_usd == 3.0


@pytest.mark.parametrize(
    ("wire_key", "attribute"),
    [
        ("maxCostUsd", "max_cost_usd"),
        ("maxDurationSec", "max_duration_sec"),
        ("maxTurns", "max_turns"),
    ],
)
def test_none_allowed_for_each_ceiling(wire_key, attribute):
    config = McpExposureConfig.model_validate({wire_key: None})
    assert getattr(config, attribute) is None
    assert config.model_fields_set == {attribute}  # "given as None" is told from "left out"


def test_limits_only_unsafe_unlimited():
    assert McpExposureConfig(limits="unsafe-unlimited").limits == "unsafe-unlimited"
    with pytest.raises(PydanticValidationError):
        McpExposureConfig(limits="unlimited")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_cost_usd", -1),
        ("max_cost_usd", 0),
        ("max_cost_usd", float("inf")),
        ("max_cost_usd", float("nan")),
        ("max_duration_sec", 0),
        ("max_turns", 0),
        ("max_turns", 2.5),
    ],
)
def test_ceilings_must_be_positive(field, value):
    with pytest.raises(PydanticValidationError):
        McpExposureConfig.model_validate({field: value})


def test_unknown_exposure_key_rejected():
    with pytest.raises(PydanticValidationError):
        McpExposureConfig.model_validate({"maxCost": 1})


# --- resolve_mcp_config (§7.5) ---------------------------------------------------------------


def test_resolve_none_gives_safe_defaults():
    resolved = resolve_mcp_config(None)
    assert resolved == ResolvedMcpConfig(
        max_cost_usd=1.0,
        max_duration_sec=300,
        max_turns=20,
        description=None,
        input_task=None,
        output_task=None,
    )


def test_resolve_partial_keeps_other_defaults():
    resolved = resolve_mcp_config(McpExposureConfig(max_cost_usd=5))
    assert (resolved.max_cost_usd, resolved.max_duration_sec, resolved.max_turns) == (5.0, 300, 20)


def test_resolve_unsafe_unlimited_clears_all_ceilings_even_explicit_ones():
    resolved = resolve_mcp_config(McpExposureConfig(limits="unsafe-unlimited", max_turns=3))
    assert (resolved.max_cost_usd, resolved.max_duration_sec, resolved.max_turns) == (
        None,
        None,
        None,
    )


def test_resolve_explicit_none_is_unlimited_on_that_axis_only():
    resolved = resolve_mcp_config(McpExposureConfig(max_cost_usd=None, max_turns=7))
    assert resolved.max_cost_usd is None
    assert resolved.max_duration_sec == 300
    assert resolved.max_turns == 7


def test_resolve_false_raises_not_exposable():
    with pytest.raises(WorkflowNotExposableError, match=r"^WORKFLOW_NOT_MCP_EXPOSABLE:") as caught:
        resolve_mcp_config(False)
    assert isinstance(caught.value, AgentFlowError)
    assert caught.value.code == "WORKFLOW_NOT_MCP_EXPOSABLE"


def test_resolve_keeps_description_and_tasks():
    resolved = resolve_mcp_config(
        McpExposureConfig(description="d", input_task="a", output_task="b")
    )
    assert (resolved.description, resolved.input_task, resolved.output_task) == ("d", "a", "b")


def test_resolve_accepts_a_mapping_and_validates_it():
    assert resolve_mcp_config({"maxTurns": None}).max_turns is None
    with pytest.raises(PydanticValidationError):
        resolve_mcp_config({"maxTurns": -1})


def test_safe_defaults_values_and_immutability():
    assert dataclasses.asdict(MCP_SAFE_DEFAULTS) == {
        "max_cost_usd": 1.0,
        "max_duration_sec": 300,
        "max_turns": 20,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        MCP_SAFE_DEFAULTS.max_turns = 99  # type: ignore[misc]


def test_resolved_config_dumps_camel_case():
    wire = resolve_mcp_config(None).model_dump(by_alias=True)
    assert wire["maxCostUsd"] == 1.0
    assert wire["maxDurationSec"] == 300
    assert wire["maxTurns"] == 20


# --- allowlist helpers (§7.3) ---------------------------------------------------------------


def test_no_allowlist_returns_all_tools_in_order():
    server = McpServerConfig(name="fs", command="x")
    assert [t.name for t in filter_mcp_tools(server, TOOLS)] == ["read", "write", "list"]


def test_allowlist_keeps_only_listed_tools_in_input_order():
    server = McpServerConfig(name="fs", command="x", tools=["list", "read"])
    assert [t.name for t in filter_mcp_tools(server, TOOLS)] == ["read", "list"]


def test_empty_allowlist_removes_everything():
    server = McpServerConfig(name="fs", command="x", tools=[])
    assert filter_mcp_tools(server, TOOLS) == []


def test_filter_returns_a_new_list():
    server = McpServerConfig(name="fs", command="x")
    result = filter_mcp_tools(server, TOOLS)
    assert result == TOOLS
    assert result is not TOOLS


def test_no_allowlist_permits_any_tool():
    assert is_mcp_tool_permitted(McpServerConfig(name="fs", command="x"), "anything")


def test_allowlist_permits_only_members():
    server = McpServerConfig(name="fs", command="x", tools=["read"])
    assert is_mcp_tool_permitted(server, "read") is True
    assert is_mcp_tool_permitted(server, "write") is False


def test_empty_allowlist_permits_nothing():
    assert not is_mcp_tool_permitted(McpServerConfig(name="fs", command="x", tools=[]), "read")


# --- tool names ----------------------------------------------------------------------------


def test_fqn():
    assert mcp_tool_fqn("fs", "read_file") == "mcp__fs__read_file"


@pytest.mark.parametrize(
    ("fqn", "server", "tool"),
    [
        ("mcp__simple__tool", "simple", "tool"),
        ("mcp__github_enterprise__list_issues", "github_enterprise", "list_issues"),
        (
            "mcp__server_with_many_underscores__tool_name_here",
            "server_with_many_underscores",
            "tool_name_here",
        ),
        ("mcp__a_b__c_d", "a_b", "c_d"),
        ("mcp__a__b__c", "a", "b__c"),
    ],
)
def test_parse_fqn(fqn, server, tool):
    ref = parse_mcp_tool_fqn(fqn)
    assert ref == McpToolRef(server=server, tool=tool)
    assert (ref.server, ref.tool) == (server, tool)


@pytest.mark.parametrize(
    "name",
    ["read_file", "simple__tool", "mcp_simple__tool", "mcp__onlyserver", "mcp____", "mcp__a__b\n"],
)
def test_parse_non_mcp_names_gives_none(name):
    assert parse_mcp_tool_fqn(name) is None


def test_fqn_round_trip():
    assert parse_mcp_tool_fqn(mcp_tool_fqn("github_enterprise", "x__y")) == (
        "github_enterprise",
        "x__y",
    )


def test_tool_descriptor_accepts_camel_case_schema():
    tool = McpToolDescriptor.model_validate({"name": "t", "inputSchema": {"type": "object"}})
    assert tool.input_schema == {"type": "object"}
    assert tool.to_wire() == {"name": "t", "inputSchema": {"type": "object"}}
