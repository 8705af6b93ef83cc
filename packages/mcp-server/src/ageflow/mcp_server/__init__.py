"""ageflow.mcp_server: expose ageflow workflows as MCP tools."""

__all__: list[str] = []
