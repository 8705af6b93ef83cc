"""The two kinds of failure the CLI reports: misuse of the command line, and everything else.

A command raises one of these with a one-line message; the application prints
``<command path>: <message>`` on stderr and exits with the error's code, without a
traceback (``--debug`` adds it).
"""

from __future__ import annotations

from typing import ClassVar


class CliError(Exception):
    """A failure the user can act on: the message says what went wrong. Exit code 1."""

    exit_code: ClassVar[int] = 1


class UsageError(CliError):
    """The command line breaks a rule: the message names the flag and the rule. Exit code 2."""

    exit_code: ClassVar[int] = 2


class WorkflowLoadError(CliError):
    """The workflow file or module cannot be imported, or does not export a workflow."""


def one_line(text: str) -> str:
    """``text`` folded onto one line, so every error stays one line on the terminal."""
    return " ".join(text.split())
