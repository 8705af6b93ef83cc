"""ageflow.mcp_server: expose ageflow workflows as MCP tools.

``create_mcp_server`` offers workflows as MCP tools on an SDK low-level server (sync
calls, and in async mode durable jobs with ``start_<workflow>`` and observer tools); below
it sit tool definitions, ceiling composition, the concurrency controller and
the error-result format. ``serve_stdio`` serves a server over stdin and stdout.
``serve_http`` serves it to many clients over Streamable HTTP.
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
from ageflow.mcp_server.error_results import (
    ERROR_META_KEY,
    ErrorPayload,
    McpToolErrorResult,
    read_error,
)
from ageflow.mcp_server.errors import (
    ErrorCode,
    McpServerError,
    error_result,
    format_error_result,
)
from ageflow.mcp_server.http import (
    AuditEvent,
    HttpConfigError,
    HttpOptions,
    HttpTransport,
    RateLimit,
    serve_http,
)
from ageflow.mcp_server.job_store import DEFAULT_JOB_DB_PATH, is_postgres_url, open_job_store
from ageflow.mcp_server.jobs import OBSERVER_TOOLS, JobService, JobTool
from ageflow.mcp_server.server import (
    ClientConnection,
    ElicitAnswer,
    HitlStrategy,
    McpServer,
    Middleware,
    OnHitl,
    ToolCallRequest,
    ToolResult,
    create_mcp_server,
)
from ageflow.mcp_server.stdio import serve_stdio
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
from ageflow.mcp_server.tool_result import to_call_tool_result

__all__ = [
    "ABSENT",
    "ASYNC_OBSERVER_TOOL_NAMES",
    "DEFAULT_JOB_DB_PATH",
    "ERROR_META_KEY",
    "OBSERVER_TOOLS",
    "AuditEvent",
    "BoundaryTask",
    "CliCeilings",
    "ClientConnection",
    "ComposedCeilings",
    "ConcurrencyConfig",
    "ConcurrencyController",
    "EffectiveCeilings",
    "ElicitAnswer",
    "ErrorCode",
    "ErrorPayload",
    "HitlStrategy",
    "HttpConfigError",
    "HttpOptions",
    "HttpTransport",
    "JobService",
    "JobTool",
    "McpServer",
    "McpServerError",
    "McpToolErrorResult",
    "Middleware",
    "OnHitl",
    "Permit",
    "RateLimit",
    "ResolvedConcurrencyConfig",
    "ToolCallRequest",
    "ToolDefinition",
    "ToolResult",
    "ToolSchema",
    "WorkflowConcurrencyConfig",
    "WorkflowLimits",
    "build_tool_definition",
    "compose_ceilings",
    "create_mcp_server",
    "error_result",
    "find_boundary_tasks",
    "format_error_result",
    "is_postgres_url",
    "open_job_store",
    "read_error",
    "resolve_concurrency_config",
    "serve_http",
    "serve_stdio",
    "single_workflow_concurrency_config",
    "to_call_tool_result",
    "tool_output",
    "tool_schema",
    "validate_tool_input",
    "workflow_ceilings",
]
