"""ageflow.executor: runs a workflow DAG and streams structured events.

Quick use::

    result = await WorkflowExecutor(workflow).run({"text": "hello"})

    async with WorkflowExecutor(workflow).stream(inp) as events:
        async for event in events:
            print(event.type)
    print(events.result.outputs)
"""

from ageflow.core.dag import get_ready_tasks, topological_sort
from ageflow.executor.budget import PRICES, BudgetTracker
from ageflow.executor.classify import backoff_ms, classify_agent_error, classify_fn_error
from ageflow.executor.engine import CheckpointHandler, RunTotals
from ageflow.executor.errors import (
    CyclicDependencyError,
    HitlNotInteractiveError,
    HitlRejectedError,
    MissingEnvVarError,
    OutputTooLargeError,
    OutputValidationError,
    RunnerNotRegisteredError,
    SessionCycleError,
    UnresolvedDependencyError,
    UnresolvedSessionRefError,
    WorkflowAbortedError,
)
from ageflow.executor.executor import AbortSignal, EventStream, WorkflowExecutor
from ageflow.executor.function_runner import (
    FunctionRunResult,
    FunctionValidationError,
    run_function,
)
from ageflow.executor.hitl import HITLManager
from ageflow.executor.journal import Journal, OnStepComplete, StepRecord
from ageflow.executor.mcp_resolution import expand_env_vars, expand_server_env, resolve_mcp
from ageflow.executor.node_runner import NodeRunResult, run_node
from ageflow.executor.output_parser import parse_agent_output
from ageflow.executor.preflight import PreflightResult, run_preflight
from ageflow.executor.schema_prompt import build_output_schema_prompt, json_schema_for
from ageflow.executor.sessions import SessionManager
from ageflow.executor.tools import ToolSelection, merge_tools

__all__ = [
    "PRICES",
    "AbortSignal",
    "BudgetTracker",
    "CheckpointHandler",
    "CyclicDependencyError",
    "EventStream",
    "FunctionRunResult",
    "FunctionValidationError",
    "HITLManager",
    "HitlNotInteractiveError",
    "HitlRejectedError",
    "Journal",
    "MissingEnvVarError",
    "NodeRunResult",
    "OnStepComplete",
    "OutputTooLargeError",
    "OutputValidationError",
    "PreflightResult",
    "RunTotals",
    "RunnerNotRegisteredError",
    "SessionCycleError",
    "SessionManager",
    "StepRecord",
    "ToolSelection",
    "UnresolvedDependencyError",
    "UnresolvedSessionRefError",
    "WorkflowAbortedError",
    "WorkflowExecutor",
    "backoff_ms",
    "build_output_schema_prompt",
    "classify_agent_error",
    "classify_fn_error",
    "expand_env_vars",
    "expand_server_env",
    "get_ready_tasks",
    "json_schema_for",
    "merge_tools",
    "parse_agent_output",
    "resolve_mcp",
    "run_function",
    "run_node",
    "run_preflight",
    "topological_sort",
]
