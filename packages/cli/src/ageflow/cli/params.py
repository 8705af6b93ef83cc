"""Command-line parameters shared by several commands, declared once."""

from __future__ import annotations

from typing import Annotated

import typer

WorkflowSpec = Annotated[
    str,
    typer.Argument(
        metavar="WORKFLOW",
        help="A .py file that exports `workflow`, or module:attribute.",
        show_default=False,
    ),
]
