"""What the commands print on stdout: rich tables for people, JSON for programs."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

# Piped or redirected output gets this many columns at least, so a table row stays one
# line for grep and friends.
PIPED_WIDTH = 240


def stdout_console() -> Console:
    """A console on stdout without syntax highlighting; wide when it is not a terminal."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, PIPED_WIDTH)
    return console


def print_json(document: Any) -> None:
    """``document`` as one indented JSON document on stdout."""
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


def listing_table() -> Table:
    """A borderless table with bold headers: one row per item, columns apart by spaces."""
    return Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
