"""One agent task: build the prompt, call the runner, parse and validate, retry."""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from ageflow.core.definitions import resolve_agent_def
from ageflow.core.errors import (
    AgentHitlConflictError,
    AttemptRecord,
    NodeMaxRetriesError,
    TaskTimeoutError,
)
from ageflow.core.mcp import McpServerConfig
from ageflow.core.runner import Runner, RunnerOverride, RunnerSpawnArgs
from ageflow.core.sanitize import sanitize_ctx_data
from ageflow.core.tasks import AgentTask
from ageflow.core.workflow import WorkflowHooks
from ageflow.executor.callbacks import call_best_effort, call_hook
from ageflow.executor.classify import backoff_ms, classify_agent_error, retry_after_ms
from ageflow.executor.mcp_resolution import expand_server_env, resolve_mcp
from ageflow.executor.output_parser import parse_agent_output
from ageflow.executor.schema_prompt import build_output_schema_prompt
from ageflow.executor.tools import merge_tools

Sleep = Callable[[float], Awaitable[None]]
OnRetry = Callable[[int, str], Awaitable[None]]


@dataclass(frozen=True)
class NodeRunResult:
    """A successful agent task: the validated output and what the turn cost."""

    output: Any
    tokens_in: int
    tokens_out: int
    latency_ms: float
    retries: int
    session_handle: str
    prompt_sent: str


async def run_node(
    task: AgentTask,
    resolved_input: Any,
    runner: Runner,
    task_name: str,
    session_handle: str | None = None,
    *,
    hooks: WorkflowHooks | None = None,
    permissions: Mapping[str, bool] | None = None,
    filtered_tools: Sequence[str] | None = None,
    hitl_enforcing: bool | None = None,
    on_retry: OnRetry | None = None,
    workflow_mcp_servers: Sequence[McpServerConfig] = (),
    runner_override: RunnerOverride | None = None,
    sleep: Sleep = anyio.sleep,
    environ: Mapping[str, str] | None = None,
) -> NodeRunResult:
    """Run one agent task with its retry policy.

    Each attempt is rebuilt from scratch (sanitised input, prompt, tools, MCP servers, spawn
    hooks). The attempt is bounded by the agent's ``timeout_ms``; a late runner is
    cancelled (its subprocess killed by the runner) and the attempt fails with
    TaskTimeoutError. Failures the policy does not name are re-raised as they are;
    exhausted retries raise NodeMaxRetriesError.
    """
    started = time.perf_counter()
    resolved = resolve_agent_def(task.agent)
    agent = task.agent
    hooks = hooks or WorkflowHooks()
    env = os.environ if environ is None else environ
    records: list[AttemptRecord] = []
    policy = resolved.retry
    for attempt in range(policy.max):
        try:
            safe_input = (
                sanitize_ctx_data(resolved_input) if resolved.sanitize_input else resolved_input
            )
            prompt = agent.prompt(safe_input)
            system_prompt = build_output_schema_prompt(agent.output)
            prefix = await call_hook(hooks.get_system_prompt_prefix, task_name)
            if prefix:
                system_prompt = f"{prefix}\n\n{system_prompt}"
            args = RunnerSpawnArgs(
                prompt=prompt,
                task_name=task_name,
                system_prompt=system_prompt,
                model=agent.model,
                timeout_ms=resolved.timeout_ms,
                max_output_bytes=resolved.max_output_bytes,
                env=agent.env,
            )
            selection = merge_tools(
                agent,
                runner_override,
                list(filtered_tools) if filtered_tools is not None else None,
                hitl_enforcing,
            )
            if selection.tools is not None:
                args.tools = selection.tools
            if selection.inline_tools is not None:
                args.inline_tools = selection.inline_tools
            servers = resolve_mcp(workflow_mcp_servers, resolved.mcp, task.mcp_override)
            if servers:
                args.mcp_servers = [expand_server_env(server, env) for server in servers]
            if agent.mcps:
                args.mcps = list(agent.mcps)
            handle = (runner_override.session_handle if runner_override else None) or session_handle
            if handle:
                args.session_handle = handle
            if permissions is not None:
                args.permissions = dict(permissions)

            await call_best_effort("on_task_spawn_args", hooks.on_task_spawn_args, task_name, args)
            try:
                with anyio.fail_after(resolved.timeout_ms / 1000):
                    result = await runner.spawn(args)
            except TimeoutError as exc:
                raise TaskTimeoutError(task_name, resolved.timeout_ms, cause=exc) from exc
            await call_best_effort(
                "on_task_spawn_result", hooks.on_task_spawn_result, task_name, result
            )
            output = parse_agent_output(
                result.stdout, agent.output, task_name, max_output_bytes=resolved.max_output_bytes
            )
            return NodeRunResult(
                output=output,
                tokens_in=result.tokens_in,
                tokens_out=result.tokens_out,
                latency_ms=(time.perf_counter() - started) * 1000,
                retries=attempt,
                session_handle=result.session_handle,
                prompt_sent=f"{system_prompt}\n\n{prompt}",
            )
        except AgentHitlConflictError as exc:
            # Runners do not know the task name; never retried.
            raise AgentHitlConflictError(task_name, cause=exc) from exc
        except Exception as exc:
            kind = classify_agent_error(exc)
            if kind is None or kind not in policy.on:
                raise
            records.append(AttemptRecord(attempt=attempt, error=str(exc), error_code=kind))
            if attempt + 1 < policy.max:
                if on_retry is not None:
                    await on_retry(attempt + 1, str(exc))
                wait_ms = max(backoff_ms(policy.backoff, attempt), retry_after_ms(exc))
                if wait_ms > 0:
                    await sleep(wait_ms / 1000)
    raise NodeMaxRetriesError(task_name, records)
