"""resolve_mcp, expand_env_vars and expand_server_env."""

from __future__ import annotations

import pytest

from ageflow.core import AgentMcpConfig, McpServerConfig, TaskMcpOverride
from ageflow.executor.errors import MissingEnvVarError
from ageflow.executor.mcp_resolution import (
    expand_env_vars,
    expand_server_env,
    find_env_references,
    resolve_mcp,
)


def server(name: str, **fields) -> McpServerConfig:
    return McpServerConfig(name=name, command=fields.pop("command", "npx"), **fields)


FILESYSTEM = server("filesystem", args=["-y", "@mcp/fs"])
GITHUB = server("github", args=["-y", "@mcp/github"])
SLACK = server("slack")


def names(servers: list[McpServerConfig]) -> list[str]:
    return [s.name for s in servers]


# --- resolve_mcp -------------------------------------------------------------------------


def test_nothing_configured_is_empty():
    assert resolve_mcp(None, None, None) == []
    assert resolve_mcp([], None, None) == []


def test_no_agent_config_uses_the_workflow_list():
    assert resolve_mcp([FILESYSTEM, GITHUB], None, None) == [FILESYSTEM, GITHUB]


def test_result_is_a_new_list():
    workflow = [FILESYSTEM]
    result = resolve_mcp(workflow, None, None)
    result.append(SLACK)
    assert workflow == [FILESYSTEM]


def test_agent_config_replaces_the_workflow_list_by_default():
    agent = AgentMcpConfig(servers=[SLACK])
    assert resolve_mcp([FILESYSTEM, GITHUB], agent, None) == [SLACK]


def test_agent_config_with_empty_list_replaces_with_nothing():
    assert resolve_mcp([FILESYSTEM], AgentMcpConfig(servers=[]), None) == []


def test_extend_workflow_merges_by_name_agent_wins_in_place():
    agent_github = server("github", tools=["create_issue"])
    agent = AgentMcpConfig(servers=[agent_github, SLACK], extend_workflow=True)
    result = resolve_mcp([FILESYSTEM, GITHUB], agent, None)
    assert names(result) == ["filesystem", "github", "slack"]
    assert result[1] is agent_github
    assert result[1].tools == ["create_issue"]


def test_task_override_filters_in_override_order():
    result = resolve_mcp(
        [FILESYSTEM, GITHUB, SLACK], None, TaskMcpOverride(servers=["slack", "filesystem"])
    )
    assert names(result) == ["slack", "filesystem"]


def test_task_override_as_plain_list():
    assert names(resolve_mcp([FILESYSTEM, GITHUB], None, ["github"])) == ["github"]


def test_task_override_applies_after_agent_replacement():
    agent = AgentMcpConfig(servers=[SLACK])
    with pytest.raises(ValueError, match="filesystem"):
        resolve_mcp([FILESYSTEM], agent, TaskMcpOverride(servers=["filesystem"]))


def test_task_override_unknown_name_raises_listing_available():
    with pytest.raises(ValueError) as info:
        resolve_mcp([FILESYSTEM, GITHUB], None, TaskMcpOverride(servers=["nope"]))
    message = str(info.value)
    assert '"nope"' in message
    assert '"filesystem"' in message
    assert '"github"' in message


def test_empty_task_override_selects_nothing():
    assert resolve_mcp([FILESYSTEM], None, TaskMcpOverride(servers=[])) == []


# --- expand_env_vars ---------------------------------------------------------------------


def test_literal_string_unchanged():
    assert expand_env_vars("plain --flag value", {}) == "plain --flag value"


def test_placeholder_replaced():
    assert expand_env_vars("${env:FOO}", {"FOO": "bar"}) == "bar"


def test_two_placeholders_in_one_string():
    env = {"HOST": "example.com", "PORT": "8080"}
    assert expand_env_vars("https://${env:HOST}:${env:PORT}/x", env) == "https://example.com:8080/x"


def test_empty_value_counts_as_set():
    assert expand_env_vars("a${env:EMPTY}b", {"EMPTY": ""}) == "ab"


def test_missing_variable_raises_naming_it():
    with pytest.raises(MissingEnvVarError) as info:
        expand_env_vars("token=${env:API_TOKEN}", {"OTHER": "x"})
    assert info.value.var_name == "API_TOKEN"
    assert "API_TOKEN" in str(info.value)


def test_none_value_counts_as_missing():
    with pytest.raises(MissingEnvVarError):
        expand_env_vars("${env:FOO}", {"FOO": None})


def test_bare_dollar_name_raises():
    with pytest.raises(MissingEnvVarError) as info:
        expand_env_vars("$FOO", {"FOO": "bar"})
    assert info.value.var_name == "FOO"
    assert "${env:FOO}" in str(info.value)


def test_bare_reference_anywhere_raises_even_next_to_placeholders():
    with pytest.raises(MissingEnvVarError) as info:
        expand_env_vars("${env:A} and $lower", {"A": "1"})
    assert info.value.var_name == "lower"


def test_dollar_digit_is_left_alone():
    assert expand_env_vars("cost $1 and ${env:A}", {"A": "x"}) == "cost $1 and x"


def test_lowercase_placeholder_is_left_literal():
    assert expand_env_vars("${env:foo}", {"foo": "bar"}) == "${env:foo}"


def test_replacement_text_is_not_expanded_again():
    assert expand_env_vars("${env:A}", {"A": "${env:B}"}) == "${env:B}"


def test_defaults_to_the_process_environment(monkeypatch):
    monkeypatch.setenv("AGEFLOW_TEST_VAR", "from-os")
    assert expand_env_vars("${env:AGEFLOW_TEST_VAR}") == "from-os"


# --- expand_server_env -------------------------------------------------------------------


def test_server_command_args_and_env_are_expanded():
    original = McpServerConfig(
        name="gh",
        command="${env:BIN_DIR}/server",
        args=["--token", "${env:TOKEN}"],
        env={"GITHUB_TOKEN": "${env:TOKEN}", "MODE": "ro"},
        cwd="${env:BIN_DIR}",
        tools=["search"],
    )
    expanded = expand_server_env(original, {"BIN_DIR": "/opt", "TOKEN": "secret"})
    assert expanded.command == "/opt/server"
    assert expanded.args == ["--token", "secret"]
    assert expanded.env == {"GITHUB_TOKEN": "secret", "MODE": "ro"}
    assert expanded.cwd == "${env:BIN_DIR}"  # not expanded
    assert expanded.tools == ["search"]
    assert expanded.name == "gh"
    # the original config is untouched
    assert original.args == ["--token", "${env:TOKEN}"]


def test_server_without_args_or_env_keeps_none():
    expanded = expand_server_env(server("x"), {})
    assert expanded.args is None
    assert expanded.env is None


def test_server_env_none_values_are_dropped():
    raw = McpServerConfig.model_construct(
        name="x",
        command="cmd",
        args=None,
        env={"A": None, "B": "b"},
        cwd=None,
        tools=None,
        refine=None,
        transport="stdio",
        mcp_call_timeout_ms=None,
        reuse_per_runner=False,
    )
    assert expand_server_env(raw, {}).env == {"B": "b"}


def test_server_expansion_raises_for_a_missing_variable():
    with pytest.raises(MissingEnvVarError) as info:
        expand_server_env(server("x", env={"K": "${env:NOPE}"}), {})
    assert info.value.var_name == "NOPE"


def test_find_env_references():
    config = McpServerConfig(
        name="x", command="${env:A}", args=["$B", "${env:A}", "${env:C}"], env={"k": "$D ${env:C}"}
    )
    assert find_env_references(config) == (["A", "C"], ["B", "D"])
