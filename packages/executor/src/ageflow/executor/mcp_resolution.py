"""Which MCP servers an agent task gets, and ``${env:NAME}`` expansion in their configs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Final

from ageflow.core.mcp import AgentMcpConfig, McpServerConfig, TaskMcpOverride
from ageflow.executor.errors import MissingEnvVarError

__all__ = [
    "BARE_ENV_REFERENCE",
    "ENV_PLACEHOLDER",
    "expand_env_vars",
    "expand_server_env",
    "find_env_references",
    "resolve_mcp",
]

ENV_PLACEHOLDER: Final = re.compile(r"\$\{env:([A-Z_][A-Z0-9_]*)\}")
"""``${env:NAME}``; only upper-case names count, other spellings stay literal text."""

BARE_ENV_REFERENCE: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
"""``$NAME``: shell syntax that is refused, so it cannot pass unexpanded by mistake."""


def resolve_mcp(
    workflow_servers: Sequence[McpServerConfig] | None,
    agent_mcp: AgentMcpConfig | None,
    task_override: TaskMcpOverride | Sequence[str] | None,
) -> list[McpServerConfig]:
    """The MCP servers one agent task starts with.

    Without an agent config the workflow's servers apply. An agent config replaces them,
    or with ``extend_workflow=True`` is merged in by name (workflow order kept, a
    same-named agent server taking the workflow one's place, new ones appended). A task
    override then keeps only the servers it names, in its own order; a name that is not
    available raises ValueError naming it and listing the available servers.
    """
    workflow_list = list(workflow_servers or ())
    if agent_mcp is None:
        servers = workflow_list
    elif agent_mcp.extend_workflow:
        merged: dict[str, McpServerConfig] = {server.name: server for server in workflow_list}
        for server in agent_mcp.servers:
            merged[server.name] = server  # replaces in place, or appends a new name
        servers = list(merged.values())
    else:
        servers = list(agent_mcp.servers)

    if task_override is None:
        return servers
    names = task_override.servers if isinstance(task_override, TaskMcpOverride) else task_override
    by_name = {server.name: server for server in servers}
    selected: list[McpServerConfig] = []
    for name in names:
        chosen = by_name.get(name)
        if chosen is None:
            available = ", ".join(f'"{known}"' for known in by_name) or "none"
            raise ValueError(
                f'mcp_override names MCP server "{name}", which is not available to this '
                f"task (available: {available})"
            )
        selected.append(chosen)
    return selected


def expand_env_vars(value: str, env: Mapping[str, str | None] | None = None) -> str:
    """Replace each ``${env:NAME}`` in ``value`` with ``env[NAME]`` (default os.environ).

    An empty value counts as set. Raises MissingEnvVarError for an unset variable and for
    any bare ``$NAME`` in ``value`` (``$1`` and other non-names are left alone).
    """
    source: Mapping[str, str | None] = os.environ if env is None else env
    bare = BARE_ENV_REFERENCE.search(value)
    if bare is not None:
        name = bare.group(1)
        raise MissingEnvVarError(
            name,
            cause=f"bare ${name} is not supported in MCP server configs; write ${{env:{name}}}",
        )

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        found = source.get(name)
        if found is None:
            raise MissingEnvVarError(name)
        return found

    return ENV_PLACEHOLDER.sub(substitute, value)


def expand_server_env(
    server: McpServerConfig, env: Mapping[str, str | None] | None = None
) -> McpServerConfig:
    """A copy of ``server`` with placeholders expanded in ``command``, ``args`` and ``env``.

    ``env`` entries whose value is None are dropped; every other field is unchanged.
    """
    source: Mapping[str, str | None] = os.environ if env is None else env
    update: dict[str, object] = {"command": expand_env_vars(server.command, source)}
    if server.args is not None:
        update["args"] = [expand_env_vars(arg, source) for arg in server.args]
    if server.env is not None:
        update["env"] = {
            key: expand_env_vars(value, source)
            for key, value in server.env.items()
            if value is not None
        }
    return server.model_copy(update=update)


def find_env_references(server: McpServerConfig) -> tuple[list[str], list[str]]:
    """The variable names a server config uses: ``(placeholders, bare references)``.

    Looks at ``command``, ``args`` and ``env`` values, as :func:`expand_server_env` does;
    each list keeps first-seen order without repeats. Preflight uses this to warn early.
    """
    texts = [server.command, *(server.args or ()), *(v for v in (server.env or {}).values() if v)]
    placeholders: dict[str, None] = {}
    bare: dict[str, None] = {}
    for text in texts:
        for match in ENV_PLACEHOLDER.finditer(text):
            placeholders.setdefault(match.group(1), None)
        for match in BARE_ENV_REFERENCE.finditer(text):
            bare.setdefault(match.group(1), None)
    return list(placeholders), list(bare)
