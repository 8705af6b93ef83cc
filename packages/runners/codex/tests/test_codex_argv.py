"""The codex command line for each spawn option (built without running anything)."""

from __future__ import annotations

import pytest

from ageflow.core import McpServerConfig, RunnerSpawnArgs
from ageflow.runners.codex import CodexRunner, build_argv, render_codex_mcp_flags, toml_string

BASE = ["codex", "exec", "--json"]


def argv(**fields) -> list[str]:
    fields.setdefault("prompt", "hi")
    return build_argv(RunnerSpawnArgs(**fields))


def test_minimal_argv() -> None:
    args = argv()
    assert args == [*BASE, "hi"]
    assert "--output-format" not in args
    assert "-q" not in args


def test_model() -> None:
    assert argv(model="gpt-4o") == [*BASE, "--model", "gpt-4o", "hi"]
    assert "--model" not in argv()


def test_resume_is_a_positional_subcommand_after_the_flags() -> None:
    server = McpServerConfig(name="fs", command="npx")
    args = argv(model="m", session_handle="thread-1", mcp_servers=[server])
    assert args == [
        *BASE,
        "--model",
        "m",
        "-c",
        "mcp_servers.fs.command=npx",
        "resume",
        "thread-1",
        "hi",
    ]
    assert "--resume" not in args
    assert "--conversation-id" not in args
    assert "resume" not in argv(session_handle="")


def test_system_prompt_is_prepended() -> None:
    assert argv(system_prompt="SYS", prompt="USER")[-1] == "SYS\n\n---\n\nUSER"


def test_a_prompt_that_looks_like_a_flag_follows_a_double_dash() -> None:
    assert argv(prompt="-x marks")[-2:] == ["--", "-x marks"]
    assert "--" not in argv(prompt="x - y")


def test_tools_and_permissions_are_not_expressible() -> None:
    # Documented gap: codex has no per-tool allow or deny flags.
    assert argv(tools=["bash"], permissions={"bash": False}) == argv()


def test_runner_options() -> None:
    runner = CodexRunner(executable="/opt/codex", skip_git_repo_check=True, sandbox="read-only")
    assert runner.build_argv(RunnerSpawnArgs(prompt="p", model="m")) == [
        "/opt/codex",
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--sandbox",
        "read-only",
        "--model",
        "m",
        "p",
    ]


def test_mcp_flags_full_server() -> None:
    server = McpServerConfig(
        name="filesystem",
        command="npx",
        args=["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
        env={"KEY": "value", "ANOTHER": "one"},
        tools=["read_file"],
        cwd="/workspace/project",
    )
    assert render_codex_mcp_flags([server]) == [
        "-c",
        "mcp_servers.filesystem.command=npx",
        "-c",
        'mcp_servers.filesystem.args=["-y","@modelcontextprotocol/server-filesystem","/tmp"]',
        "-c",
        'mcp_servers.filesystem.env={KEY="value",ANOTHER="one"}',
        "-c",
        'mcp_servers.filesystem.enabled_tools=["read_file"]',
        "-c",
        'mcp_servers.filesystem.cwd="/workspace/project"',
    ]


def test_mcp_flags_minimal_and_empty() -> None:
    assert render_codex_mcp_flags([]) == []
    assert render_codex_mcp_flags([McpServerConfig(name="s", command="node", tools=[])]) == [
        "-c",
        "mcp_servers.s.command=node",
    ]


def test_mcp_flags_come_before_the_prompt() -> None:
    args = argv(mcp_servers=[McpServerConfig(name="s", command="node")])
    first = next(i for i, a in enumerate(args) if a.startswith("mcp_servers."))
    assert first < len(args) - 1


def test_toml_escaping() -> None:
    assert toml_string('say "hello"') == '"say \\"hello\\""'
    assert toml_string("C:\\dir") == '"C:\\\\dir"'
    assert toml_string("a\nb\tc\x01") == '"a\\nb\\tc\\u0001"'
    server = McpServerConfig(name="s", command="c", args=['she said "hi"'], env={"MSG": "x\\y"})
    flags = render_codex_mcp_flags([server])
    assert 'mcp_servers.s.args=["she said \\"hi\\""]' in flags
    assert 'mcp_servers.s.env={MSG="x\\\\y"}' in flags


def test_commands_toml_would_misread_are_quoted() -> None:
    def command(cmd: str) -> str:
        return render_codex_mcp_flags([McpServerConfig(name="s", command=cmd)])[1]

    assert command("/usr/bin/node") == "mcp_servers.s.command=/usr/bin/node"
    assert command("true") == 'mcp_servers.s.command="true"'
    assert command("123") == 'mcp_servers.s.command="123"'
    assert command("my tool") == 'mcp_servers.s.command="my tool"'


def test_server_names_with_a_dot_are_refused() -> None:
    with pytest.raises(ValueError, match="nested config key"):
        render_codex_mcp_flags([McpServerConfig(name="a.b", command="c")])
