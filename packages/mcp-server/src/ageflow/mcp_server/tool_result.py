"""Our tool results (JSON-ready dicts, what middleware sees) as the SDK's result type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import mcp.types as types


def to_call_tool_result(result: Mapping[str, Any]) -> types.CallToolResult:
    """A tool result dict as the SDK's result type."""
    content = [
        types.TextContent(text=str(item.get("text", "")))
        for item in result.get("content", [])
        if item.get("type") == "text"
    ]
    return types.CallToolResult(
        content=content,
        structured_content=result.get("structuredContent"),
        is_error=bool(result.get("isError", False)),
        meta=result.get("_meta"),
    )
