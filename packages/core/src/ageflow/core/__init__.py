"""ageflow.core: the typed building blocks of ageflow workflows.

Agents (an LLM behind a runner) and functions become tasks; tasks and loops form a
workflow DAG; runs emit events; errors carry stable codes.
"""

from ageflow.core.config import (
    AGENT_RETRY_DEFAULTS,
    FUNCTION_RETRY_DEFAULTS,
    RETRY_ERROR_KINDS,
    BackoffStrategy,
    BudgetConfig,
    BudgetExceededInfo,
    Checkpoint,
    EnvConfig,
    HitlConfig,
    HitlOff,
    HitlPermissions,
    ResolvedRetry,
    RetryConfig,
    RetryErrorKind,
)
from ageflow.core.context import LOOP_FEEDBACK_KEY, CtxEntry, TaskContext
from ageflow.core.dag import find_cycle, get_ready_tasks, topological_sort
from ageflow.core.definitions import (
    AgentDef,
    FunctionDef,
    ResolvedAgentDef,
    define_agent,
    define_function,
    resolve_agent_def,
)
from ageflow.core.errors import (
    AgentFlowError,
    AgentHitlConflictError,
    AttemptRecord,
    BudgetExceededError,
    CyclicDependencyError,
    GenericAgentFlowError,
    InlineToolsNotSupportedError,
    InvalidIdentifierError,
    LoopMaxIterationsError,
    McpProtocolError,
    McpServerCrashedError,
    McpServerStartFailedError,
    McpTimeoutError,
    McpToolArgInvalidError,
    McpToolCallFailedError,
    McpToolNotFoundError,
    McpToolNotPermittedError,
    NodeMaxRetriesError,
    PathTraversalError,
    PreFlightError,
    SessionCycleError,
    SessionMismatchError,
    TaskTimeoutError,
    ToolNotUsedError,
    UnresolvedDependencyError,
    UnresolvedSessionRefError,
    ValidationError,
    WorkflowDefinitionError,
    WorkflowNotExposableError,
)
from ageflow.core.events import (
    BudgetWarningEvent,
    CheckpointEvent,
    ErrorInfo,
    LoopIterationEvent,
    RunHandle,
    RunState,
    TaskCompleteEvent,
    TaskErrorEvent,
    TaskRestoredEvent,
    TaskRetryEvent,
    TaskSkipEvent,
    TaskStartEvent,
    TERMINAL_RUN_STATES,
    WorkflowCompleteEvent,
    WorkflowErrorEvent,
    WorkflowEvent,
    WorkflowStartEvent,
    parse_event,
)
from ageflow.core.identifiers import IDENTIFIER_PATTERN, validate_static_identifier
from ageflow.core.mcp import (
    MCP_SAFE_DEFAULTS,
    AgentMcpConfig,
    LegacyMcpConfig,
    MCPConfig,
    McpConfig,
    McpExposureConfig,
    McpServerConfig,
    McpToolDescriptor,
    ResolvedMcpConfig,
    TaskMcpOverride,
    filter_mcp_tools,
    is_mcp_tool_permitted,
    mcp_tool_fqn,
    parse_mcp_tool_fqn,
    resolve_mcp_config,
)
from ageflow.core.metrics import TaskMetrics, WorkflowMetrics, WorkflowResult
from ageflow.core.paths import check_safe_path, safe_path
from ageflow.core.registry import (
    RunnerRegistry,
    default_registry,
    get_runner,
    get_runners,
    register_runner,
    shutdown_all_runners,
    unregister_runner,
)
from ageflow.core.runner import (
    InlineToolDef,
    Runner,
    RunnerOverride,
    RunnerOverrides,
    RunnerSpawnArgs,
    RunnerSpawnResult,
    ToolCallRecord,
    ValidateResult,
)
from ageflow.core.sanitize import sanitize_ctx_data
from ageflow.core.schemas import check_schema, schema_adapter
from ageflow.core.sessions import resolve_session_tokens
from ageflow.core.tasks import (
    UNSET,
    AgentTask,
    FunctionTask,
    LoopDef,
    SessionRef,
    SessionToken,
    ShareSession,
    TaskDef,
    loop,
    session_token,
    share_session_with,
    task,
)
from ageflow.core.wire import WireModel, compact_json, now_ms
from ageflow.core.workflow import (
    WorkflowDef,
    WorkflowHooks,
    define_workflow,
    define_workflow_factory,
    validate_workflow,
)

TimeoutError = TaskTimeoutError  # the original's name; prefer TaskTimeoutError (no builtin clash)

__all__ = [name for name in dir() if not name.startswith("_")]
