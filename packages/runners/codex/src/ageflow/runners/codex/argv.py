"""The command line of one ``codex exec --json`` call, built from the spawn arguments."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from ageflow.core.cli_process import compose_prompt
from ageflow.core.mcp import McpServerConfig
from ageflow.core.runner import RunnerSpawnArgs

__all__ = ["SandboxMode", "build_argv", "render_codex_mcp_flags", "toml_string"]

SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# A command codex can read as a plain word: TOML cannot parse it, so it stays a string.
_RAW_COMMAND = re.compile(r"[A-Za-z_./~][A-Za-z0-9_./~+-]*")
_TOML_WORDS = frozenset({"true", "false", "inf", "nan"})


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string (quotes, backslashes and control characters escaped)."""
    out = []
    for char in value:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else toml_string(key)


def _command_value(command: str) -> str:
    if _RAW_COMMAND.fullmatch(command) and command not in _TOML_WORDS:
        return command  # as the original emitted it (`...command=npx`)
    return toml_string(command)


def _toml_array(values: Sequence[str]) -> str:
    return "[" + ",".join(toml_string(value) for value in values) + "]"


def render_codex_mcp_flags(servers: Sequence[McpServerConfig]) -> list[str]:
    """``-c mcp_servers.<name>.<field>=<TOML>`` pairs: command, args, env, enabled_tools, cwd.

    Empty ``args``/``env``/``tools`` are left out (so ``tools=[]`` enables every tool, as
    in the original). A server name with ``.`` is refused: codex would read it as nested keys.
    """
    flags: list[str] = []
    for server in servers:
        if "." in server.name:
            raise ValueError(
                f"MCP server name {server.name!r} contains '.', which codex reads as a "
                "nested config key; rename the server for the codex runner"
            )
        prefix = f"mcp_servers.{server.name}"
        flags += ["-c", f"{prefix}.command={_command_value(server.command)}"]
        if server.args:
            flags += ["-c", f"{prefix}.args={_toml_array(server.args)}"]
        if server.env:
            table = ",".join(f"{_toml_key(k)}={toml_string(v)}" for k, v in server.env.items())
            flags += ["-c", f"{prefix}.env={{{table}}}"]
        if server.tools:
            flags += ["-c", f"{prefix}.enabled_tools={_toml_array(server.tools)}"]
        if server.cwd is not None:
            flags += ["-c", f"{prefix}.cwd={toml_string(server.cwd)}"]
    return flags


def build_argv(
    args: RunnerSpawnArgs,
    executable: str = "codex",
    *,
    skip_git_repo_check: bool = False,
    sandbox: SandboxMode | None = None,
) -> list[str]:
    """The argv of ``spawn(args)``.

    ``codex exec --json [--skip-git-repo-check] [--sandbox m] [--model m] [-c ...]
    [resume <handle>] [--] <prompt>``; ``--`` is added only when the prompt starts with
    ``-``, so it cannot be read as a flag. ``tools`` and ``permissions`` are not
    expressible on codex's command line (see the README).
    """
    argv = [executable, "exec", "--json"]
    if skip_git_repo_check:
        argv.append("--skip-git-repo-check")
    if sandbox is not None:
        argv += ["--sandbox", sandbox]
    if args.model:
        argv += ["--model", args.model]
    argv += render_codex_mcp_flags(args.mcp_servers or [])
    if args.session_handle:
        argv += ["resume", args.session_handle]
    prompt = compose_prompt(args.system_prompt, args.prompt)
    if prompt.startswith("-"):
        argv.append("--")
    argv.append(prompt)
    return argv
