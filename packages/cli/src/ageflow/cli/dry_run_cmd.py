"""``ageflow dry-run WORKFLOW``: the execution plan, prompts and output shapes, running nothing.

Every kind of task is shown: agents with their prompt rendered on a placeholder input,
function tasks with their input and output shapes, and loops with their bodies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from ageflow.cli.errors import CliError
from ageflow.cli.loading import load_workflow
from ageflow.cli.params import WorkflowSpec
from ageflow.cli.placeholders import example_input, json_schema_of, placeholder
from ageflow.core.dag import topological_sort
from ageflow.core.errors import AgentFlowError
from ageflow.core.tasks import AgentTask, FunctionTask, LoopDef

UNRENDERABLE_PROMPT = "[prompt could not be rendered — depends on runtime context]"


def dry_run(workflow: WorkflowSpec) -> None:
    """Show how a workflow would run (batches, prompts, output shapes) without running it."""
    definition = load_workflow(workflow)
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"[bold]Dry-run: {escape(definition.name)}[/bold] [dim]({escape(workflow)})[/dim]")
    try:
        batches = _batches(definition.tasks)
    except AgentFlowError as exc:
        raise CliError(str(exc)) from exc
    out.print(f"\n[dim]Execution order: {len(batches)} batch(es)[/dim]")
    for index, batch in enumerate(batches, start=1):
        mode = "parallel" if len(batch) > 1 else "sequential"
        out.print(f"[dim]Batch {index} {escape(f'[{mode}]')}: {escape(', '.join(batch))}[/dim]")
    for lines in _describe_map(definition.tasks, indent=""):
        out.print(lines)
    out.print()


def _batches(tasks: Mapping[str, Any]) -> list[list[str]]:
    for node in tasks.values():
        if isinstance(node, LoopDef) and isinstance(node.tasks, Mapping):
            _batches(node.tasks)  # check the body too: a cycle inside a loop is an error
    return topological_sort({name: node.depends_on for name, node in tasks.items()})


def _describe_map(tasks: Mapping[str, Any], indent: str) -> list[str]:
    lines: list[str] = []
    for name, node in tasks.items():
        deps = f" (depends on: {', '.join(node.depends_on)})" if node.depends_on else ""
        if isinstance(node, LoopDef):
            lines.append(
                f"\n{indent}[bold]── Loop: {escape(name)}[/bold]"
                f"[dim] (max: {node.max} iterations){escape(deps)}[/dim]"
            )
            if isinstance(node.tasks, Mapping):
                lines.extend(_describe_map(node.tasks, indent + "  "))
        elif isinstance(node, FunctionTask):
            lines.append(
                f"\n{indent}[bold]── Function: {escape(name)}[/bold][dim]{escape(deps)}[/dim]"
            )
            lines.extend(_shape(indent, "Input shape", node.fn.input_schema, "input"))
            lines.extend(_shape(indent, "Output shape", node.fn.output_schema, name))
        elif isinstance(node, AgentTask):
            agent = node.agent
            lines.append(
                f"\n{indent}[bold]── Task: {escape(name)}[/bold]"
                f" {escape(f'[{agent.runner}]')}[dim]{escape(deps)}[/dim]"
            )
            lines.append(f"{indent}[dim]Prompt:[/dim]")
            lines.append(
                _indented(escape(_render_prompt(agent.prompt, agent.input)), indent + "  ")
            )
            lines.extend(_shape(indent, "Output shape", agent.output, name))
    return lines


def _render_prompt(prompt: Any, input_schema: Any) -> str:
    try:
        return str(prompt(example_input(input_schema)))
    except Exception:  # prompts may read runtime context a dry run does not have
        return UNRENDERABLE_PROMPT


def _shape(indent: str, label: str, schema: Any, key: str) -> list[str]:
    value = placeholder(json_schema_of(schema), key)
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return [f"{indent}[dim]{label}:[/dim]", _indented(escape(text), indent + "  ")]


def _indented(text: str, indent: str) -> str:
    return "\n".join(indent + line for line in text.splitlines())


def register(app: typer.Typer) -> None:
    app.command("dry-run")(dry_run)
