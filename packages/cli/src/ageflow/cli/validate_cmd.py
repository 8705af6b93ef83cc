"""``ageflow validate WORKFLOW``: preflight checks, without running anything."""

from __future__ import annotations

import anyio
import typer
from rich.console import Console

from ageflow.cli.errors import CliError
from ageflow.cli.loading import load_workflow
from ageflow.cli.params import WorkflowSpec
from ageflow.executor.preflight import run_preflight


def validate(workflow: WorkflowSpec) -> None:
    """Check a workflow without running it: runners, dependencies, sessions, MCP servers."""
    definition = load_workflow(workflow)
    # Runners a workflow file registered at import are checked as registered runners,
    # so HTTP runners (api) are never looked up as executables.
    result = anyio.run(run_preflight, definition)
    out = Console(highlight=False)
    out.print(f"[bold]Validating:[/bold] {workflow}")
    for warning in result.warnings:
        out.print(f"  [yellow]⚠[/yellow] {warning}", markup=True)
    for error in result.errors:
        out.print(f"  [red]✗[/red] {error}")
    if result.errors:
        raise CliError(f"validation failed ({len(result.errors)} error(s))")
    out.print("\n[bold green]✓ Workflow is valid[/bold green]")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
