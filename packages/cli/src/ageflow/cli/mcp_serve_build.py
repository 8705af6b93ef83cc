"""From parsed ``mcp serve`` flags to an MCP server and its HTTP options.

Every construction failure (a workflow that cannot be a tool, bad concurrency limits,
HTTP options the transport refuses) becomes a one-line :class:`CliError` (D42).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import IO, TYPE_CHECKING

from ageflow.cli.errors import CliError, one_line
from ageflow.cli.mcp_serve_args import NOT_GIVEN, McpServeArgs, given_or, present
from ageflow.cli.version import cli_version
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server import (
    ABSENT,
    CliCeilings,
    ConcurrencyConfig,
    McpServer,
    McpServerError,
    ResolvedConcurrencyConfig,
    create_mcp_server,
    single_workflow_concurrency_config,
)
from ageflow.mcp_server.logging_bridge import DEFAULT_LOG_LEVEL
from ageflow.mcp_server.server import (
    DEFAULT_JOB_CHECKPOINT_TTL_MS,
    DEFAULT_JOB_LEASE_MS,
    DEFAULT_JOB_TTL_MS,
)

if TYPE_CHECKING:
    from ageflow.mcp_server.http import AuditEvent, HttpOptions


def operator_ceilings(args: McpServeArgs) -> CliCeilings:
    """The three ceiling flags as given (absent ones stay absent)."""
    try:
        return CliCeilings(
            max_cost_usd=given_or(args.max_cost_usd, ABSENT),
            max_duration_sec=given_or(args.max_duration_sec, ABSENT),
            max_turns=given_or(args.max_turns, ABSENT),
        )
    except ValueError as exc:
        # --max-cost 0 passes the flag rule but a zero ceiling is refused by the server.
        raise CliError(one_line(str(exc))) from exc


def concurrency_config(
    args: McpServeArgs, workflow: WorkflowDef
) -> ResolvedConcurrencyConfig | None:
    """The one-workflow concurrency rules, when a concurrency flag was given."""
    if args.max_concurrent_jobs is NOT_GIVEN and args.max_concurrent_jobs_per_workflow is NOT_GIVEN:
        return None
    return single_workflow_concurrency_config(
        workflow.name,
        ConcurrencyConfig(
            max_concurrent_jobs=given_or(args.max_concurrent_jobs, ABSENT),
            max_concurrent_jobs_per_workflow=given_or(
                args.max_concurrent_jobs_per_workflow, ABSENT
            ),
        ),
    )


def build_server(args: McpServeArgs, workflow: WorkflowDef) -> McpServer:
    """The server the flags describe; construction errors become one-line CliErrors."""
    ceilings = operator_ceilings(args)
    try:
        server = create_mcp_server(
            workflow,
            name=present(args.server_name) or workflow.name,
            version=cli_version(),  # D37: the installed version, never a constant
            hitl=args.hitl_strategy,
            ceilings=ceilings,
            concurrency=concurrency_config(args, workflow),
            async_mode=args.async_mode,
            job_db_path=args.job_db_path if args.async_mode else None,
            job_ttl_ms=given_or(args.job_ttl_ms, DEFAULT_JOB_TTL_MS),
            job_checkpoint_ttl_ms=given_or(
                args.job_checkpoint_ttl_ms, DEFAULT_JOB_CHECKPOINT_TTL_MS
            ),
            job_lease_ms=given_or(args.job_lease_ms, DEFAULT_JOB_LEASE_MS),
            log_level=given_or(args.log_level, DEFAULT_LOG_LEVEL),
            tasks=args.tasks,
        )
    except (McpServerError, ValueError) as exc:
        raise CliError(one_line(str(exc))) from exc
    return server


class AuditLog:
    """``--audit-log``: one JSON object per audited request, appended to a file."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise CliError(f'cannot open --audit-log "{path}": {exc.strerror or exc}') from exc
        self._lock = threading.Lock()

    def __call__(self, event: AuditEvent) -> None:
        line = json.dumps(asdict(event), separators=(",", ":"))
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def http_options(args: McpServeArgs, audit: Callable[[AuditEvent], None] | None) -> HttpOptions:
    """The HTTP transport's options from the flags, validated like the transport does."""
    # Imported here: the HTTP stack (uvicorn, starlette) is only needed with --http.
    from ageflow.mcp_server.http import (
        HttpConfigError,
        HttpOptions,
        RateLimit,
        validate_http_options,
    )

    assert args.port is not NOT_GIVEN
    defaults = HttpOptions(port=args.port)
    rate = present(args.rate_limit)
    try:
        options = HttpOptions(
            port=args.port,
            host=args.host,
            auth_bearer=present(args.auth_bearer),
            cors_origins=list(args.cors_origins) or None,
            allowed_hosts=list(args.allowed_hosts) or None,
            rate_limit=None if rate is None else RateLimit(rate.window_seconds, rate.max_requests),
            audit_log=audit,
            trust_proxy=args.trust_proxy,
            max_body_bytes=given_or(args.max_body_bytes, defaults.max_body_bytes),
            max_sessions=given_or(args.max_sessions, defaults.max_sessions),
            session_idle_seconds=given_or(args.session_idle_sec, defaults.session_idle_seconds),
        )
        validate_http_options(options)
    except HttpConfigError as exc:
        raise CliError(one_line(str(exc))) from exc
    return options
