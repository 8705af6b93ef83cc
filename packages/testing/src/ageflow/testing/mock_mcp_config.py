"""Options of the mock MCP server and their wire form (standard library only).

The subprocess receives its options as one ``--config`` argument: base64 of the compact
JSON ``{"tools": [...], "crashOn"?, "hangOn"?, "isErrorOn"?}``. The keys keep the
original's camelCase so a config written for the TypeScript fixture decodes here too.
This module imports nothing heavy, so the subprocess can reject a bad config, or crash
on ``initialize``, before it pays for importing the MCP SDK.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard, get_args

McpPhase = Literal["initialize", "tools/list", "call"]
"""A point in an MCP conversation where the mock can be told to crash or hang."""

MCP_PHASES: tuple[McpPhase, ...] = get_args(McpPhase)


@dataclass(frozen=True)
class MockToolSpec:
    """One tool the mock server advertises. Every tool echoes its arguments."""

    name: str
    description: str | None = None
    # Extra JSON Schema keys merged under ``{"type": "object"}`` (e.g. ``properties``).
    input_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class MockMcpServerOpts:
    """What the mock MCP server offers and how it misbehaves.

    ``crash_on``: ``"initialize"`` fails the start; ``"tools/list"`` / ``"call"`` make that
    request fail (in-process: a JSON-RPC error; subprocess: the process exits with code 1).
    ``hang_on``: the server never answers that request. ``is_error_on``: calls of the tool
    with this name return an ``isError`` result instead of the echo.
    """

    tools: Sequence[MockToolSpec] = field(default_factory=tuple)
    crash_on: McpPhase | None = None
    hang_on: McpPhase | None = None
    is_error_on: str | None = None


@dataclass(frozen=True)
class SubprocessCommand:
    """How to start the mock server as a stdio MCP subprocess."""

    command: str
    args: list[str]


def _is_phase(value: object) -> TypeGuard[McpPhase]:
    return value in MCP_PHASES


def compact_json(value: object) -> str:
    """JSON text the way JavaScript's ``JSON.stringify`` writes it (no spaces, raw UTF-8)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def opts_to_wire(opts: MockMcpServerOpts) -> dict[str, Any]:
    tools: list[dict[str, Any]] = []
    for tool in opts.tools:
        entry: dict[str, Any] = {"name": tool.name}
        if tool.description is not None:
            entry["description"] = tool.description
        if tool.input_schema is not None:
            entry["inputSchema"] = dict(tool.input_schema)
        tools.append(entry)
    wire: dict[str, Any] = {"tools": tools}
    if opts.crash_on is not None:
        wire["crashOn"] = opts.crash_on
    if opts.hang_on is not None:
        wire["hangOn"] = opts.hang_on
    if opts.is_error_on is not None:
        wire["isErrorOn"] = opts.is_error_on
    return wire


def opts_from_wire(wire: object) -> MockMcpServerOpts:
    """Validate a decoded config; raises ``ValueError`` naming the first bad part."""
    if not isinstance(wire, dict):
        raise ValueError("config must be a JSON object")
    raw_tools = wire.get("tools", [])
    if not isinstance(raw_tools, list):
        raise ValueError("config.tools must be a list")
    tools = [_tool_from_wire(index, raw) for index, raw in enumerate(raw_tools)]
    phases: dict[str, McpPhase | None] = {}
    for key in ("crashOn", "hangOn"):
        value = wire.get(key)
        if value is not None and not _is_phase(value):
            raise ValueError(f"config.{key} must be one of {list(MCP_PHASES)}, got {value!r}")
        phases[key] = value
    is_error_on = wire.get("isErrorOn")
    if is_error_on is not None and not isinstance(is_error_on, str):
        raise ValueError("config.isErrorOn must be a string")
    return MockMcpServerOpts(
        tools=tuple(tools),
        crash_on=phases["crashOn"],
        hang_on=phases["hangOn"],
        is_error_on=is_error_on,
    )


def _tool_from_wire(index: int, raw: object) -> MockToolSpec:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ValueError(f"config.tools[{index}] must be an object with a string name")
    description = raw.get("description")
    if description is not None and not isinstance(description, str):
        raise ValueError(f"config.tools[{index}].description must be a string")
    schema = raw.get("inputSchema")
    if schema is not None and not isinstance(schema, dict):
        raise ValueError(f"config.tools[{index}].inputSchema must be an object")
    return MockToolSpec(name=raw["name"], description=description, input_schema=schema)


def encode_config(opts: MockMcpServerOpts) -> str:
    return base64.b64encode(compact_json(opts_to_wire(opts)).encode()).decode("ascii")


def decode_config(value: str) -> MockMcpServerOpts:
    if not value:
        raise ValueError("--config is empty")
    try:
        text = base64.b64decode(value, validate=True).decode()
        wire = json.loads(text)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"--config is not base64 of a JSON object: {exc}") from exc
    return opts_from_wire(wire)
