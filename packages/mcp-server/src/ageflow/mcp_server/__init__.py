"""ageflow.mcp_server: expose ageflow workflows as MCP tools.

This release holds the transport-free layers: tool definitions from workflows, ceiling
composition, the concurrency controller and the error-result format.
"""

from ageflow.mcp_server.ceilings import (
    ABSENT,
    CliCeilings,
    ComposedCeilings,
    EffectiveCeilings,
    compose_ceilings,
    workflow_ceilings,
)
from ageflow.mcp_server.concurrency import (
    ConcurrencyConfig,
    ConcurrencyController,
    Permit,
    ResolvedConcurrencyConfig,
    WorkflowConcurrencyConfig,
    WorkflowLimits,
    resolve_concurrency_config,
    single_workflow_concurrency_config,
)
from ageflow.mcp_server.errors import (
    ErrorCode,
    McpServerError,
    McpToolErrorResult,
    error_result,
    format_error_result,
)
from ageflow.mcp_server.tool_definition import (
    ASYNC_OBSERVER_TOOL_NAMES,
    BoundaryTask,
    ToolDefinition,
    ToolSchema,
    build_tool_definition,
    find_boundary_tasks,
    tool_output,
    tool_schema,
    validate_tool_input,
)

__all__ = [
    "ABSENT",
    "ASYNC_OBSERVER_TOOL_NAMES",
    "BoundaryTask",
    "CliCeilings",
    "ComposedCeilings",
    "ConcurrencyConfig",
    "ConcurrencyController",
    "EffectiveCeilings",
    "ErrorCode",
    "McpServerError",
    "McpToolErrorResult",
    "Permit",
    "ResolvedConcurrencyConfig",
    "ToolDefinition",
    "ToolSchema",
    "WorkflowConcurrencyConfig",
    "WorkflowLimits",
    "build_tool_definition",
    "compose_ceilings",
    "error_result",
    "find_boundary_tasks",
    "format_error_result",
    "resolve_concurrency_config",
    "single_workflow_concurrency_config",
    "tool_output",
    "tool_schema",
    "validate_tool_input",
    "workflow_ceilings",
]
