"""The ``ageflow`` application: global options, error reporting, and the commands.

Every command lives in its own module and registers itself on ``app`` here. Errors
leave as one line on stderr: usage errors exit 2, every other failure exits 1, and
``--debug`` (or ``AGEFLOW_DEBUG=1``) re-raises so the traceback is shown.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any, NoReturn

import typer
from typer.core import TyperGroup

from ageflow.cli import (
    dry_run_cmd,
    feedback_cmd,
    init_cmd,
    jobs_cmd,
    learn_cmd,
    mcp_serve,
    run_cmd,
    validate_cmd,
)
from ageflow.cli.errors import CliError, one_line
from ageflow.cli.version import cli_version
from ageflow.core.errors import sole_error


class _Settings:
    """Process-wide switches set by the global options."""

    debug: bool = os.environ.get("AGEFLOW_DEBUG", "") not in ("", "0")


settings = _Settings()


class OneLineErrors(TyperGroup):
    """The root group: turns every failure into one line on stderr and an exit code."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        try:
            code = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except BaseExceptionGroup as group:
            # A CliError raised inside a task group arrives wrapped: report the error itself.
            inner = sole_error(group)
            if isinstance(inner, CliError):
                _fail(inner, inner.exit_code, "ageflow")
            if isinstance(inner, Exception) and not isinstance(inner, BaseExceptionGroup):
                _fail(inner, 1, "ageflow", f"{type(inner).__name__}: {inner}")
            raise
        except CliError as exc:
            _fail(exc, exc.exit_code, "ageflow")
        except typer.Abort as exc:
            _fail(exc, 130, "ageflow", "aborted")
        except typer.TyperException as exc:
            # typer's own usage errors (missing argument, unknown option): exit code 2.
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
                # A bare `ageflow` (or group) shows its help, not a one-line error.
                print(ctx.get_help(), file=sys.stderr)
                sys.exit(2)
            path = ctx.command_path if ctx is not None else "ageflow"
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            _fail(exc, int(getattr(exc, "exit_code", 1)), path, message)
        except Exception as exc:
            _fail(exc, 1, "ageflow", f"{type(exc).__name__}: {exc}")
        # Without standalone mode click returns the exit code of typer.Exit, else None.
        sys.exit(code if isinstance(code, int) else 0)


def _fail(exc: BaseException, code: int, path: str, message: str | None = None) -> NoReturn:
    if settings.debug:
        raise exc
    text = one_line(message if message is not None else str(exc))
    print(f"{path or 'ageflow'}: {text}", file=sys.stderr)
    sys.exit(code)


app = typer.Typer(
    cls=OneLineErrors,
    name="ageflow",
    help="Run, validate and scaffold workflows, serve them over MCP, manage jobs and skills.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"ageflow {cli_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    """Run, validate and scaffold ageflow workflows, serve them over MCP, manage jobs and skills."""
    if debug:
        settings.debug = True


run_cmd.register(app)
validate_cmd.register(app)
dry_run_cmd.register(app)
init_cmd.register(app)
mcp_serve.register(app)
jobs_cmd.register(app)
learn_cmd.register(app)
feedback_cmd.register(app)


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The console script: ``ageflow`` and ``agentwf``."""
    app(args=list(argv) if argv is not None else None, prog_name="ageflow")
    raise AssertionError("unreachable: the root group always exits")
