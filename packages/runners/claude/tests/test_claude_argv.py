"""The claude command line for each spawn option (built without running anything)."""

from __future__ import annotations

import json

from ageflow.core import McpServerConfig, RunnerSpawnArgs
from ageflow.runners.claude import build_argv, render_mcp_json

BASE = ["claude", "--output-format", "json", "--print"]


def argv(**fields) -> list[str]:
    fields.setdefault("prompt", "hi")
    return build_argv(RunnerSpawnArgs(**fields))


def flag(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_minimal_argv_ends_options_before_the_prompt() -> None:
    assert argv() == [*BASE, "--", "hi"]


def test_executable_may_be_a_path() -> None:
    assert build_argv(RunnerSpawnArgs(prompt="x"), "/opt/claude")[0] == "/opt/claude"


def test_model() -> None:
    assert argv(model="sonnet") == [*BASE, "--model", "sonnet", "--", "hi"]


def test_tools_become_one_comma_joined_allowed_tools_value() -> None:
    assert argv(tools=["Bash", "Read"]) == [*BASE, "--allowedTools", "Bash,Read", "--", "hi"]


def test_no_tools_means_no_restriction() -> None:
    args = argv(tools=None)
    assert "--allowedTools" not in args
    assert "--tools" not in args


def test_empty_tools_is_deny_all() -> None:
    # Gap 7 fixed: [] must not fall back to the CLI's defaults.
    assert argv(tools=[]) == [*BASE, "--tools", "", "--", "hi"]


def test_deny_all_does_not_pre_allow_mcp_tools() -> None:
    server = McpServerConfig(name="fs", command="npx", tools=["read_file"])
    args = argv(tools=[], mcp_servers=[server])
    assert flag(args, "--tools") == ""
    assert "--allowedTools" not in args
    assert "--strict-mcp-config" in args


def test_resume() -> None:
    assert argv(session_handle="sess-xyz") == [*BASE, "--resume", "sess-xyz", "--", "hi"]
    assert "--resume" not in argv(session_handle="")
    assert "--resume" not in argv(session_handle=None)


def test_permissions_false_become_disallowed_tools_true_are_ignored() -> None:
    args = argv(permissions={"bash": False, "read": True, "write": False})
    assert flag(args, "--disallowedTools") == "bash,write"
    assert "--allowedTools" not in args


def test_system_prompt_is_prepended_to_the_last_element() -> None:
    args = argv(system_prompt="SYSTEM", prompt="USER")
    assert args[-2:] == ["--", "SYSTEM\n\n---\n\nUSER"]
    assert argv(system_prompt="", prompt="USER")[-1] == "USER"


def test_a_prompt_that_looks_like_a_flag_stays_positional() -> None:
    assert argv(prompt="--help me", tools=["Bash"])[-2:] == ["--", "--help me"]


def test_mcp_servers_render_config_and_allowlist() -> None:
    server = McpServerConfig(
        name="filesystem", command="npx", args=["-y", "fs"], tools=["read_file"]
    )
    args = argv(mcp_servers=[server])
    assert args[4:7] == ["--mcp-config", flag(args, "--mcp-config"), "--strict-mcp-config"]
    assert json.loads(flag(args, "--mcp-config")) == {
        "mcpServers": {"filesystem": {"command": "npx", "args": ["-y", "fs"]}}
    }
    assert args[7:9] == ["--allowedTools", "mcp__filesystem__read_file"]


def test_mcp_server_without_allowlist_adds_no_allowed_tools() -> None:
    args = argv(mcp_servers=[McpServerConfig(name="fs", command="npx")])
    assert "--mcp-config" in args
    assert "--allowedTools" not in args
    args = argv(mcp_servers=[McpServerConfig(name="fs", command="npx", tools=[])])
    assert "--allowedTools" not in args


def test_tools_and_mcp_allowlist_share_one_flag() -> None:
    server = McpServerConfig(name="fs", command="npx", tools=["read_file"])
    args = argv(tools=["bash"], mcp_servers=[server])
    assert args.count("--allowedTools") == 1
    assert flag(args, "--allowedTools") == "bash,mcp__fs__read_file"


def test_full_argv_order() -> None:
    server = McpServerConfig(name="gh", command="npx", env={"GITHUB_TOKEN": "tok"}, tools=["x"])
    args = argv(
        model="opus",
        tools=["Read"],
        session_handle="s1",
        permissions={"Bash": False},
        mcp_servers=[server],
        system_prompt="S",
        prompt="P",
    )
    assert args == [
        *BASE,
        "--model",
        "opus",
        "--allowedTools",
        "Read,mcp__gh__x",
        "--resume",
        "s1",
        "--disallowedTools",
        "Bash",
        "--mcp-config",
        '{"mcpServers":{"gh":{"command":"npx","env":{"GITHUB_TOKEN":"tok"}}}}',
        "--strict-mcp-config",
        "--",
        "S\n\n---\n\nP",
    ]


def test_render_mcp_json_shapes() -> None:
    assert render_mcp_json([]) == '{"mcpServers":{}}'
    full = McpServerConfig(name="s", command="c", args=["a"], env={"K": "v"}, cwd="/w", tools=["t"])
    assert json.loads(render_mcp_json([full])) == {
        "mcpServers": {"s": {"command": "c", "args": ["a"], "env": {"K": "v"}}}
    }
    assert render_mcp_json([McpServerConfig(name="s", command="c")]) == (
        '{"mcpServers":{"s":{"command":"c"}}}'
    )
    assert "é" in render_mcp_json([McpServerConfig(name="s", command="é")])
