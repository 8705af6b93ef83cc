"""Command-line parameters shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead.")]

WorkflowSpec = Annotated[
    str,
    typer.Argument(
        metavar="WORKFLOW",
        help="A .py file that exports `workflow`, or module:attribute.",
        show_default=False,
    ),
]


def command_group(name: str, help: str) -> typer.Typer:
    """A group of subcommands (``ageflow <name> ...``), configured like the root: a bare
    ``ageflow <name>`` shows its help, no shell completion, plain-text help."""
    return typer.Typer(
        name=name, help=help, no_args_is_help=True, add_completion=False, rich_markup_mode=None
    )
