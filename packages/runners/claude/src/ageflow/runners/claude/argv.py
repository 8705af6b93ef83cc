"""The command line of one ``claude --print`` call, built from the spawn arguments."""

from __future__ import annotations

from collections.abc import Sequence

from ageflow.core.cli_process import compose_prompt
from ageflow.core.mcp import McpServerConfig, mcp_tool_fqn
from ageflow.core.runner import RunnerSpawnArgs
from ageflow.core.wire import compact_json

__all__ = ["build_argv", "render_mcp_json"]


def render_mcp_json(servers: Sequence[McpServerConfig]) -> str:
    """The ``--mcp-config`` value: ``{"mcpServers": {name: {command, args?, env?}}}``.

    ``args`` and ``env`` appear only when non-empty; the allowlist, ``cwd`` and the
    runner-side options are not part of Claude's format (the CLI owns the servers).
    """
    rendered: dict[str, dict[str, object]] = {}
    for server in servers:
        entry: dict[str, object] = {"command": server.command}
        if server.args:
            entry["args"] = list(server.args)
        if server.env:
            entry["env"] = dict(server.env)
        rendered[server.name] = entry
    return compact_json({"mcpServers": rendered})


def _mcp_allowlist(servers: Sequence[McpServerConfig]) -> list[str]:
    return [mcp_tool_fqn(server.name, tool) for server in servers for tool in server.tools or ()]


def build_argv(args: RunnerSpawnArgs, executable: str = "claude") -> list[str]:
    """The argv of ``spawn(args)``; the prompt is last, after ``--``.

    ``--`` ends the options so the prompt is never read as a flag or swallowed by
    Claude's variadic ``--allowedTools``/``--disallowedTools``/``--mcp-config`` options.
    ``tools=[]`` (deny-all) becomes ``--tools ""``: no built-in tool and no MCP tool is
    pre-allowed.
    """
    argv = [executable, "--output-format", "json", "--print"]
    if args.model:
        argv += ["--model", args.model]
    deny_all = args.tools is not None and len(args.tools) == 0
    mcp_allowed = [] if deny_all else _mcp_allowlist(args.mcp_servers or [])
    if args.tools:
        # MCP tools join the same flag: one --allowedTools, as the original emitted it.
        argv += ["--allowedTools", ",".join([*args.tools, *mcp_allowed])]
    elif deny_all:
        argv += ["--tools", ""]
    if args.session_handle:
        argv += ["--resume", args.session_handle]
    denied = [name for name, allow in (args.permissions or {}).items() if allow is False]
    if denied:
        argv += ["--disallowedTools", ",".join(denied)]
    if args.mcp_servers:
        argv += ["--mcp-config", render_mcp_json(args.mcp_servers), "--strict-mcp-config"]
        if mcp_allowed and not args.tools:
            argv += ["--allowedTools", ",".join(mcp_allowed)]
    argv += ["--", compose_prompt(args.system_prompt, args.prompt)]
    return argv
