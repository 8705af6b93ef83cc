"""Preflight: find what would make a workflow fail, before anything runs.

``run_preflight`` never raises for a finding: problems that will fail a run are errors,
likely mistakes are warnings. It works on workflows built as raw ``WorkflowDef(...)`` too
(which skip ``define_workflow``'s checks), so it repeats the structural checks itself.
"""

from __future__ import annotations

import inspect
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import anyio.to_thread

from ageflow.core.config import ENV_VAR_NAME, HITL_CONFIG_TYPES
from ageflow.core.dag import topological_sort
from ageflow.core.definitions import AgentDef, FunctionDef, check_agent_fields, resolve_agent_def
from ageflow.core.errors import (
    AgentFlowError,
    CyclicDependencyError,
    InvalidIdentifierError,
    SessionCycleError,
    UnresolvedDependencyError,
    UnresolvedSessionRefError,
    WorkflowDefinitionError,
)
from ageflow.core.identifiers import validate_static_identifier
from ageflow.core.mcp import McpServerConfig
from ageflow.core.registry import RunnerRegistry, default_registry
from ageflow.core.schemas import check_schema
from ageflow.core.sessions import resolve_session_tokens
from ageflow.core.tasks import TASK_TYPES, AgentTask, FunctionTask, LoopDef, SessionToken
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.mcp_resolution import find_env_references, resolve_mcp

__all__ = ["INSTALL_HINTS", "PreflightResult", "WhichFn", "run_preflight"]

WhichFn: TypeAlias = Callable[[str], Any]
"""Looks an executable up: truthy when found (a bool, a path, or an awaitable of one)."""

INSTALL_HINTS: Final[Mapping[str, str]] = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
}


@dataclass
class PreflightResult:
    """Findings: ``errors`` would fail a run, ``warnings`` are likely mistakes."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors


async def _which_on_path(name: str) -> bool:
    # shutil.which stats files along PATH: blocking I/O, so off the event loop.
    return await anyio.to_thread.run_sync(shutil.which, name) is not None


def _task_maps(
    tasks: Mapping[str, Any], prefix: str = ""
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The workflow's task map and every loop body inside it, with the label prefix of each."""
    yield prefix, tasks
    for name, node in tasks.items():
        if isinstance(node, LoopDef) and isinstance(node.tasks, Mapping):
            yield from _task_maps(node.tasks, f"{prefix}{name}/")


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _is_valid_identifier(value: object) -> bool:
    try:
        validate_static_identifier(value)
    except InvalidIdentifierError:
        return False
    return True


class _Preflight:
    def __init__(
        self,
        workflow: WorkflowDef,
        which: WhichFn,
        registry: RunnerRegistry | Mapping[str, Any],
        env: Mapping[str, str],
    ) -> None:
        self.workflow = workflow
        self.which = which
        self.registry = registry
        self.env = env
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.maps = list(_task_maps(workflow.tasks))

    def agent_tasks(self) -> Iterator[tuple[str, AgentTask]]:
        """Well-formed agent tasks of every map, labelled ``loop/inner`` inside loops."""
        for prefix, tasks in self.maps:
            for name, node in tasks.items():
                if isinstance(node, AgentTask) and isinstance(node.agent, AgentDef):
                    yield prefix + name, node

    async def run(self) -> PreflightResult:
        self.check_shapes()
        await self.check_runners()
        self.check_dags()
        tokens = self.check_sessions()
        self.check_static_args()
        self.check_pass_vars()
        self.check_session_runners(tokens)
        self.check_mcp()
        self.check_skippable_deps()
        return PreflightResult(errors=self.errors, warnings=self.warnings)

    def check_shapes(self) -> None:
        for prefix, tasks in self.maps:
            for name, node in tasks.items():
                label = prefix + name
                # Typed fields hold anything in a raw WorkflowDef, hence the object views.
                work: object = getattr(node, "agent", None) or getattr(node, "fn", None)
                if not isinstance(node, TASK_TYPES):
                    self.errors.append(
                        f'Task "{label}": is a {type(node).__name__}, not a task (wrap agents '
                        "and functions with task(...) and loops with loop(...))"
                    )
                elif isinstance(node, AgentTask) and not isinstance(work, AgentDef):
                    self.errors.append(f'Task "{label}": agent must be built with define_agent')
                elif isinstance(node, FunctionTask) and not isinstance(work, FunctionDef):
                    self.errors.append(f'Task "{label}": fn must be built with define_function')

    async def check_runners(self) -> None:
        seen: set[str] = set()
        for _label, node in self.agent_tasks():
            runner = node.agent.runner
            # An invalid name is reported by the identifier check; never hand it to `which`.
            if runner in seen or not _is_valid_identifier(runner):
                continue
            seen.add(runner)
            if runner in self.registry:
                continue  # registered runners (in-process ones included) need no binary
            found = self.which(runner)
            if inspect.isawaitable(found):
                found = await found
            if not found:
                hint = INSTALL_HINTS.get(runner)
                self.errors.append(
                    f'Runner "{runner}" is not registered and not found on PATH.'
                    + (f" Install with: {hint}" if hint else "")
                )

    def check_dags(self) -> None:
        for prefix, tasks in self.maps:
            dependencies = {name: getattr(node, "depends_on", None) for name, node in tasks.items()}
            try:
                topological_sort(dependencies)
            except CyclicDependencyError as exc:
                cycle = " → ".join(prefix + name for name in exc.cycle)
                self.errors.append(f"DAG cycle detected: {cycle}")
            except UnresolvedDependencyError as exc:
                self.errors.append(
                    f'DAG error: Task "{prefix}{exc.task_name}" depends on '
                    f'"{exc.unresolved_dep}", which is not a task of the same task map '
                    f"(tasks there: {_quoted(exc.available_task_names)})"
                )
            except TypeError as exc:  # depends_on given as a bare string
                self.errors.append(f"DAG error: {exc}")

    def check_sessions(self) -> dict[str, dict[str, SessionToken]]:
        """Session resolution errors; returns the tokens of each map that resolved."""
        resolved: dict[str, dict[str, SessionToken]] = {}
        for prefix, tasks in self.maps:
            try:
                resolved[prefix] = resolve_session_tokens(tasks)
            except SessionCycleError as exc:
                cycle = " → ".join(prefix + name for name in exc.cycle)
                self.errors.append(f"Session reference cycle detected: {cycle}")
            except UnresolvedSessionRefError as exc:
                self.errors.append(
                    f'Session ref error: Task "{prefix}{exc.task_name}" uses '
                    f'share_session_with("{exc.target_task}"), but "{exc.target_task}" is not '
                    "an agent task with a session in the same task map"
                )
        return resolved

    def check_static_args(self) -> None:
        for label, node in self.agent_tasks():
            agent = node.agent
            if not _is_valid_identifier(agent.runner):
                self.errors.append(
                    f'Task "{label}": runner "{agent.runner}" is not a valid static identifier'
                )
            if agent.model is not None and not _is_valid_identifier(agent.model):
                self.errors.append(
                    f'Task "{label}": model "{agent.model}" is not a valid static identifier'
                )
            for legacy in agent.mcps or ():
                if not _is_valid_identifier(legacy.server):
                    self.errors.append(
                        f'Task "{label}": mcp server "{legacy.server}" is not a valid static '
                        "identifier"
                    )
            for var in agent.env.pass_vars if agent.env is not None else ():
                if not isinstance(var, str) or ENV_VAR_NAME.fullmatch(var) is None:
                    self.errors.append(
                        f'Task "{label}": env var name "{var}" is not a valid environment '
                        f"variable name (must match {ENV_VAR_NAME.pattern})"
                    )
            try:
                check_agent_fields(input=agent.input, output=agent.output, prompt=agent.prompt)
            except WorkflowDefinitionError as exc:
                self.errors.append(f'Task "{label}": {exc.problem}')
            if node.hitl is not None and not isinstance(node.hitl, HITL_CONFIG_TYPES):
                self.errors.append(
                    f'Task "{label}": hitl must be HitlOff(), HitlPermissions(...) or '
                    "Checkpoint(...)"
                )
        for prefix, tasks in self.maps:
            for name, node in tasks.items():
                if isinstance(node, FunctionTask) and isinstance(node.fn, FunctionDef):
                    for schema, role in (
                        (node.fn.input_schema, "input"),
                        (node.fn.output_schema, "output"),
                    ):
                        try:
                            check_schema(schema, role)
                        except WorkflowDefinitionError as exc:
                            self.errors.append(f'Task "{prefix}{name}": {exc.problem}')

    def check_pass_vars(self) -> None:
        for label, node in self.agent_tasks():
            for var in node.agent.env.pass_vars if node.agent.env is not None else ():
                if isinstance(var, str) and ENV_VAR_NAME.fullmatch(var) and var not in self.env:
                    self.warnings.append(f'Task "{label}": env var {var} is not set')

    def check_session_runners(self, tokens: Mapping[str, Mapping[str, SessionToken]]) -> None:
        for prefix, tasks in self.maps:
            map_tokens = tokens.get(prefix)
            if map_tokens is None:  # resolution failed: already an error
                continue
            runners_by_token: dict[str, set[str]] = {}
            for name, token in map_tokens.items():
                node = tasks[name]
                if not isinstance(node, AgentTask) or not isinstance(node.agent, AgentDef):
                    continue
                runner = node.agent.runner
                runners_by_token.setdefault(token.name, set()).add(runner)
                if token.runner != runner:
                    self.warnings.append(
                        f'Task "{prefix}{name}": runs on runner "{runner}" but its session '
                        f'"{token.name}" was created for runner "{token.runner}"'
                    )
            for token_name, runners in runners_by_token.items():
                if len(runners) > 1:
                    self.warnings.append(
                        f'Session "{token_name}" is shared between different runners '
                        f"({', '.join(sorted(runners))}) — context will not carry over"
                    )

    def check_mcp(self) -> None:
        workflow_servers = list(self.workflow.mcp_servers or ())
        self.report_duplicates(workflow_servers, "Workflow", "mcp_servers")
        # (server name, variable) -> labels of the tasks whose servers use it
        unset: dict[tuple[str, str], list[str]] = {}
        bare: dict[tuple[str, str], list[str]] = {}
        for label, node in self.agent_tasks():
            agent = node.agent
            if agent.mcp is not None:
                self.report_duplicates(
                    list(agent.mcp.servers), f'Task "{label}"', "agent.mcp.servers"
                )
            try:
                agent_mcp = resolve_agent_def(agent).mcp
            except (AgentFlowError, ValueError) as exc:  # a malformed legacy mcps entry
                self.errors.append(f'Task "{label}": invalid MCP configuration: {exc}')
                continue
            try:
                servers = resolve_mcp(workflow_servers, agent_mcp, node.mcp_override)
            except ValueError as exc:
                self.errors.append(f'Task "{label}": {exc}')
                servers = resolve_mcp(workflow_servers, agent_mcp, None)
            for server in servers:
                placeholders, bare_refs = find_env_references(server)
                for var in placeholders:
                    if var not in self.env:
                        unset.setdefault((server.name, var), []).append(label)
                for var in bare_refs:
                    bare.setdefault((server.name, var), []).append(label)

        def who(labels: list[str]) -> str:
            unique = list(dict.fromkeys(labels))
            return ("Task " if len(unique) == 1 else "Tasks ") + _quoted(unique)

        for (server_name, var), labels in bare.items():
            self.errors.append(
                f'{who(labels)}: MCP server "{server_name}" uses bare ${var}, which is refused '
                f"when the server starts; write ${{env:{var}}}"
            )
        for (server_name, var), labels in unset.items():
            self.warnings.append(
                f'{who(labels)}: MCP server "{server_name}" references env var ${{env:{var}}}, '
                "which is not set"
            )

    def report_duplicates(self, servers: list[McpServerConfig], owner: str, where: str) -> None:
        seen: set[str] = set()
        for server in servers:
            if server.name in seen:
                self.errors.append(f'{owner}: duplicate MCP server name "{server.name}" in {where}')
            seen.add(server.name)

    def check_skippable_deps(self) -> None:
        for prefix, tasks in self.maps:
            for name, node in tasks.items():
                deps = getattr(node, "depends_on", None)
                if not deps or isinstance(deps, str):
                    continue
                if all(self.is_skippable(tasks.get(dep)) for dep in deps):
                    label = prefix + name
                    self.warnings.append(
                        f'Task "{label}": all dependencies ({_quoted(list(dict.fromkeys(deps)))}) '
                        f'have skip_if defined — "{label}" may receive None inputs at runtime'
                    )

    @staticmethod
    def is_skippable(node: object) -> bool:
        return isinstance(node, AgentTask | FunctionTask) and node.skip_if is not None


async def run_preflight(
    workflow: WorkflowDef,
    *,
    which: WhichFn | None = None,
    registry: RunnerRegistry | Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> PreflightResult:
    """Check ``workflow`` without running it; returns errors and warnings, in check order.

    1. runners: a runner registered in ``registry`` (default: the process-wide registry)
       is available; any other name must be an executable found by ``which`` (default:
       ``shutil.which``, sync or async); each missing runner is one error, with an install
       hint for ``claude`` and ``codex``;
    2. dependency cycles and unknown dependencies, in every task map (loops included);
    3. session sharing cycles and dangling ``share_session_with`` references;
    4. runner, model and legacy MCP server identifiers, ``env.pass_vars`` names, schemas,
       HITL configs;
    5. warnings for ``env.pass_vars`` missing from ``env`` (default ``os.environ``);
    6. warnings for sessions used by several runners, or by a runner other than the
       session token's;
    7. MCP servers: duplicate names and unknown ``mcp_override`` names (errors), bare
       ``$NAME`` (error) and unset ``${env:NAME}`` (warning) in the servers each task starts;
    8. warnings for tasks whose every dependency has a ``skip_if``.

    Tasks inside loops are named ``loop/task``.
    """
    checker = _Preflight(
        workflow,
        which=which if which is not None else _which_on_path,
        registry=default_registry if registry is None else registry,
        env=os.environ if env is None else env,
    )
    return await checker.run()
