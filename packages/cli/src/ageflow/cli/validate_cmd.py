"""``ageflow validate WORKFLOW``: preflight checks, without running anything."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio
import typer
from rich.console import Console

from ageflow.cli.errors import CliError
from ageflow.cli.loading import load_workflow
from ageflow.cli.params import WorkflowSpec
from ageflow.core.registry import default_registry
from ageflow.core.tasks import AgentTask, LoopDef
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.preflight import run_preflight


def validate(workflow: WorkflowSpec) -> None:
    """Check a workflow without running it: runners, dependencies, sessions, MCP servers."""
    definition = load_workflow(workflow)
    # Runners a workflow file registered at import are checked as registered runners,
    # so HTTP runners (api) are never looked up as executables.
    result = anyio.run(run_preflight, definition)
    result.errors.extend(anyio.run(_check_registered_runners, definition))
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"[bold]Validating:[/bold] {workflow}")
    for warning in result.warnings:
        out.print(f"  [yellow]⚠[/yellow] {warning}", markup=True)
    for error in result.errors:
        out.print(f"  [red]✗[/red] {error}")
    if result.errors:
        raise CliError(f"validation failed ({len(result.errors)} error(s))")
    out.print("\n[bold green]✓ Workflow is valid[/bold green]")


async def _check_registered_runners(workflow: WorkflowDef) -> list[str]:
    """Ask each registered runner the workflow uses whether it can work (CLI installed ...)."""
    errors = []
    for name in sorted(runner_names(workflow.tasks)):
        runner = default_registry.get(name)
        if runner is None:
            continue  # preflight already reported it
        check = await runner.validate()
        if not check.ok:
            errors.append(f'Runner "{name}" is not usable: {check.error}')
    return errors


def runner_names(tasks: Mapping[str, Any]) -> set[str]:
    """The runner names of every agent task, loop bodies included."""
    names: set[str] = set()
    for node in tasks.values():
        if isinstance(node, AgentTask):
            names.add(node.agent.runner)
        elif isinstance(node, LoopDef) and isinstance(node.tasks, Mapping):
            names |= runner_names(node.tasks)
    return names


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
