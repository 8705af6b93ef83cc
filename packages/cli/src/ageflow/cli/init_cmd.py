"""``ageflow init NAME``: a new project folder with a workflow and tests that pass at once.

The workflow has one agent served by the ``claude`` CLI (registered when the file is
imported) and an approval-free function step; its tests run it with
``ageflow.testing``'s mock runner, so they need neither the CLI nor an API key.
"""

from __future__ import annotations

import re
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from ageflow.cli.errors import CliError
from ageflow.cli.version import cli_version

PROJECT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")

WORKFLOW_TEMPLATE = '''\
"""The {name} workflow: an agent writes a greeting, plain code signs it."""

from __future__ import annotations

from pydantic import BaseModel

from ageflow.core import define_agent, define_function, define_workflow, task
from ageflow.core.registry import get_runner, register_runner
from ageflow.runners.claude import ClaudeRunner

# Importing this file registers the runner its agents use (the CLI imports it).
if get_runner("claude") is None:
    register_runner("claude", ClaudeRunner())


class Message(BaseModel):
    message: str


class Reply(BaseModel):
    reply: str


greeter = define_agent(
    runner="claude",
    model="claude-sonnet-4-6",
    input=Message,
    output=Reply,
    prompt=lambda m: f"Reply warmly to this message: {{m.message}}",
)


def sign(reply: Reply) -> Reply:
    return Reply(reply=f"{{reply.reply}} (from {name})")


workflow = define_workflow(
    name="{name}",
    tasks={{
        "greet": task(greeter),
        "sign": task(
            define_function(sign, input=Reply, output=Reply, name="sign"),
            depends_on=["greet"],
            input=lambda ctx: ctx["greet"].output,
        ),
    }},
)
'''

TEST_TEMPLATE = '''\
"""Tests for the {name} workflow: the agent is mocked, so no CLI or API key is needed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import anyio

from ageflow.testing import create_test_harness

_spec = importlib.util.spec_from_file_location(
    "{module}_workflow", Path(__file__).parent.parent / "workflow.py"
)
assert _spec is not None and _spec.loader is not None
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
workflow = _module.workflow


def test_greeting_is_signed() -> None:
    harness = create_test_harness(workflow)
    harness.mock_agent("greet", {{"reply": "Hello!"}})
    result = anyio.run(harness.run, {{"message": "Hello, ageflow!"}})
    assert result.outputs["sign"].reply == "Hello! (from {name})"
    assert harness.get_task("greet").call_count == 1
'''

PYPROJECT_TEMPLATE = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
dependencies = [
  "ageflow-cli>={version}",
  "ageflow-runner-claude>={version}",
]

[project.optional-dependencies]
test = ["pytest>=8", "ageflow-testing>={version}"]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""


def init(
    name: str = typer.Argument(..., metavar="NAME", help="The project folder to create."),
) -> None:
    """Create a project: workflow.py, tests/ that pass at once, and pyproject.toml."""
    if not PROJECT_NAME.match(name):
        raise CliError(
            f'Invalid project name "{name}": use only letters, numbers, hyphens, and underscores'
        )
    root = Path.cwd() / name
    if root.exists():
        raise CliError(
            f'Directory "{name}" already exists. Choose a different name or remove the directory.'
        )
    version = cli_version() if cli_version()[0].isdigit() and "+" not in cli_version() else "0.1"
    files = {
        "workflow.py": WORKFLOW_TEMPLATE.format(name=name),
        "tests/test_workflow.py": TEST_TEMPLATE.format(name=name, module=name.replace("-", "_")),
        "pyproject.toml": PYPROJECT_TEMPLATE.format(name=name, version=version),
    }
    out = Console(highlight=False, soft_wrap=True)
    out.print(f"[bold]Scaffolding project: {escape(name)}[/bold]\n")
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        out.print(f"  [green]✓[/green] {escape(name)}/{relative}")
    out.print("\n[bold]Next steps:[/bold]")
    for step in (
        f"cd {name}",
        'pip install -e ".[test]"',
        "pytest",
        "ageflow validate workflow.py",
        'ageflow run workflow.py --input \'{"message": "Hello"}\'',
    ):
        out.print(f"  [dim]{escape(step)}[/dim]")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
