"""Options of the HTTP transport, the audit event it reports, and the rules they obey."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ageflow.mcp_server.http_security import is_loopback_host


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_requests`` POSTs per client IP in each ``window_seconds`` window."""

    window_seconds: float
    max_requests: int


@dataclass(frozen=True)
class AuditEvent:
    """One audited request: every POST, and every request refused for auth.

    ``method`` and ``tool_name`` come from the JSON-RPC body (``tool_name`` is
    ``params.name`` of a single message) and are None when there is none.
    """

    ts: float  # epoch seconds
    remote_ip: str
    method: str | None
    tool_name: str | None
    auth_denied: bool
    rate_limited: bool


@dataclass(frozen=True)
class HttpOptions:
    """How the HTTP transport listens and whom it lets in."""

    port: int  # 0 = OS-assigned
    host: str = "127.0.0.1"
    path: str = "/mcp"
    auth_bearer: str | None = None
    cors_origins: str | Sequence[str] | None = None  # "*", one origin, or a list
    allowed_hosts: Sequence[str] | None = None  # extra Host header values accepted
    rate_limit: RateLimit | None = None
    audit_log: Callable[[AuditEvent], None] | None = None
    trust_proxy: bool = False
    max_body_bytes: int = 1_048_576
    max_sessions: int = 1000
    session_idle_seconds: float = 1800.0
    # Resumption (Last-Event-ID): the SSE retry hint, the event store's bounds and file
    # (None: beside the job file, in memory without one), and SEP-1699's stream closing.
    sse_retry_ms: int = 1000
    event_store_max_events: int = 10_000
    event_store_max_age_seconds: float = 3600.0
    event_store_path: str | None = None
    sse_close_seconds: float | None = 60.0


class HttpConfigError(ValueError):
    """HTTP options that break a rule; the message is one line."""


def validate_http_options(options: HttpOptions) -> None:
    """Raise :class:`HttpConfigError` for options the transport refuses to serve with."""
    if not 0 <= options.port <= 65535:
        raise HttpConfigError(f"port must be between 0 and 65535, got {options.port}")
    if not options.path.startswith("/"):
        raise HttpConfigError(f'path must start with "/", got "{options.path}"')
    if options.auth_bearer is not None and not options.auth_bearer.strip():
        raise HttpConfigError("auth_bearer must not be empty")
    if options.auth_bearer is None and not is_loopback_host(options.host):
        raise HttpConfigError(
            f'host "{options.host}" is non-loopback: bearer auth (auth_bearer) is required '
            "to listen on it"
        )
    if options.max_body_bytes <= 0:
        raise HttpConfigError(f"max_body_bytes must be positive, got {options.max_body_bytes}")
    if options.max_sessions <= 0:
        raise HttpConfigError(f"max_sessions must be positive, got {options.max_sessions}")
    idle = options.session_idle_seconds
    if not (math.isfinite(idle) and idle > 0):
        raise HttpConfigError(f"session_idle_seconds must be positive and finite, got {idle}")
    if options.sse_retry_ms < 0:
        raise HttpConfigError(f"sse_retry_ms must not be negative, got {options.sse_retry_ms}")
    if options.event_store_max_events <= 0 or not options.event_store_max_age_seconds > 0:
        raise HttpConfigError("event store bounds (max events, max age) must be positive")
    close = options.sse_close_seconds
    if close is not None and not (math.isfinite(close) and close > 0):
        raise HttpConfigError(f"sse_close_seconds must be positive, got {close}")
    limit = options.rate_limit
    if limit is not None:
        if not (math.isfinite(limit.window_seconds) and limit.window_seconds > 0):
            raise HttpConfigError(
                f"rate limit window_seconds must be positive, got {limit.window_seconds}"
            )
        if limit.max_requests <= 0:
            raise HttpConfigError(
                f"rate limit max_requests must be positive, got {limit.max_requests}"
            )
