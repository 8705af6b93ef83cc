"""``ageflow mcp serve WORKFLOW [flags]``: serve one workflow as an MCP tool.

Over stdio by default (until stdin closes), or Streamable HTTP with ``--http --port N``;
both stop on SIGTERM or SIGINT and exit 0. The flags are parsed by
:func:`ageflow.cli.mcp_serve_args.parse_mcp_serve_args` from the raw tokens; failures to
load the workflow, build the server or bind the port are one line on stderr, exit 1.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from typing import IO, TYPE_CHECKING, TextIO, cast

import anyio
import anyio.abc
import typer

from ageflow.cli.errors import CliError, one_line
from ageflow.cli.loading import load_workflow
from ageflow.cli.mcp_serve_args import NOT_GIVEN, McpServeArgs, parse_mcp_serve_args
from ageflow.cli.params import command_group
from ageflow.cli.signals import until_signal
from ageflow.core.errors import sole_error

if TYPE_CHECKING:
    from ageflow.mcp_server import McpServer
    from ageflow.mcp_server.http import HttpOptions

HELP = """Serve WORKFLOW (a .py file exporting `workflow`, or module:attribute) as an MCP tool.

\b
Transport (stdio by default, until stdin closes; SIGTERM/SIGINT stop either, exit 0):
  --http                      Streamable HTTP instead of stdio (needs --port)
  --port N                    HTTP port (1-65535)
  --host ADDR                 HTTP host (default 127.0.0.1; others need --auth-bearer)
  --auth-bearer TOKEN         require "Authorization: Bearer TOKEN"
  --cors-origin ORIGIN        allow a browser origin, or * (repeatable)
  --allowed-host HOST         accept this Host header too (repeatable)
  --rate-limit MAX/SECONDS    at most MAX requests per client IP per window (e.g. 60/60)
  --audit-log PATH            append one JSON line per audited request
  --trust-proxy               take the client IP from X-Forwarded-For
  --max-body-bytes N          largest request body (default 1048576)
  --max-sessions N            most open sessions (default 1000)
  --session-idle SECONDS      close sessions idle this long (default 1800)

\b
Limits and checkpoints:
  --max-cost USD / --no-max-cost            cost ceiling (lowers the workflow's)
  --max-duration SEC / --no-max-duration    duration ceiling
  --max-turns N / --no-max-turns            agent turn ceiling
  --hitl elicit|auto|fail     how checkpoints are answered (default elicit)

\b
Async jobs (start_<workflow> and the job tools, kept in a job store):
  --async                     enable durable jobs, and MCP Tasks on them
  --no-tasks                  with --async: the job tools only, no MCP Tasks
  --job-db PATH|URL           job file (default .ageflow/jobs.sqlite; :memory: = memory),
                              or postgresql://... for a store several servers share
  --job-ttl MS                keep finished jobs this long
  --checkpoint-ttl MS         fail jobs waiting at a checkpoint longer than this
  --lease MS                  how long a job stays this server's without a renewal
                              (default 15000); another server takes it over after
  --max-concurrent-jobs N     jobs running at once, server-wide
  --max-concurrent-jobs-per-workflow N

\b
Other:
  --name NAME                 server name (default: the workflow's name)
  --log-file PATH             also append the server's log lines to PATH
  --log-level LEVEL           default level of the run's MCP log messages (default info)
"""


class TeeLog(io.TextIOBase):
    """A text stream writing every line to stderr and to the ``--log-file``."""

    def __init__(self, *targets: IO[str]) -> None:
        self._targets = targets

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for target in self._targets:
            target.write(text)
        return len(text)

    def flush(self) -> None:
        for target in self._targets:
            target.flush()


def _os_error_message(exc: OSError, options: HttpOptions | None) -> str:
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        return f'cannot open "{exc.filename}": {reason}'
    if options is not None:
        return f"cannot listen on {options.host}:{options.port}: {reason}"
    return reason


def run_mcp_serve(args: McpServeArgs) -> None:
    """Load, build and serve; returns when the server stopped cleanly."""
    # The MCP stack is imported only when serving: other commands start faster.
    from ageflow.cli.mcp_serve_build import AuditLog, build_server, http_options

    workflow = load_workflow(args.workflow)
    server = build_server(args, workflow)
    with ExitStack() as stack:
        log = _open_log(args, stack)
        options: HttpOptions | None = None
        if args.http:
            audit = None
            if args.audit_log is not NOT_GIVEN:
                audit = AuditLog(args.audit_log)
                stack.callback(audit.close)
            options = http_options(args, audit)
        for warning in server.ceiling_warnings:  # clamped operator ceilings
            log.write(warning)
        log.flush()
        try:
            anyio.run(until_signal, _transport(server, options, log), backend="asyncio")
        except BaseException as exc:
            leaf = sole_error(exc)
            if isinstance(leaf, OSError):
                raise CliError(one_line(_os_error_message(leaf, options))) from leaf
            if leaf is not exc and isinstance(leaf, Exception):
                raise leaf from exc
            raise


def _transport(
    server: McpServer, options: HttpOptions | None, log: TextIO
) -> Callable[[], Awaitable[None]]:
    if options is None:
        from ageflow.mcp_server.stdio import serve_stdio

        return lambda: serve_stdio(server, log=log)
    from ageflow.mcp_server.http import serve_http
    from ageflow.server.gc_tuning import tune_gc_for_serving

    # serve_stdio tunes the collector itself (it owns the process's stdio); serve_http
    # may be embedded in someone else's process, so only this command does it for HTTP.
    tune_gc_for_serving()
    return lambda: serve_http(server, options, log=log)


def _open_log(args: McpServeArgs, stack: ExitStack) -> TextIO:
    if args.log_file is NOT_GIVEN:
        return sys.stderr
    try:
        file = stack.enter_context(open(args.log_file, "a", encoding="utf-8"))  # noqa: SIM115
    except OSError as exc:
        raise CliError(f'cannot open --log-file "{args.log_file}": {exc.strerror or exc}') from exc
    return cast(TextIO, TeeLog(sys.stderr, file))


def serve(ctx: typer.Context) -> None:
    run_mcp_serve(parse_mcp_serve_args(list(ctx.args)))


serve.__doc__ = HELP


def register(app: typer.Typer) -> None:
    mcp = command_group("mcp", "Serve workflows over the Model Context Protocol.")
    mcp.command(
        "serve",
        options_metavar="WORKFLOW [FLAGS]",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(serve)
    app.add_typer(mcp)
