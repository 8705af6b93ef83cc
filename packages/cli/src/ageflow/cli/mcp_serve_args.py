"""The flags of ``ageflow mcp serve``, parsed by hand from the raw tokens.

``parse_mcp_serve_args`` is pure: it reads a token list and returns :class:`McpServeArgs`
or raises :class:`UsageError` with one line naming the flag and the rule. Flags are read
left to right, each value flag consuming its value, and the one token left that is not a
flag is the workflow (D40: a flag value before the path is no longer taken for it).

Fields keep "not given" (``NOT_GIVEN``) apart from "given as None" (``--no-max-cost``):
a ceiling not given leaves the workflow's own, None asks for unlimited. The marker is
this module's own (the server's ``ABSENT`` at the boundary), so parsing never imports
the MCP stack.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import Enum
from pathlib import Path
from typing import Final, Literal, TypeVar, get_args

from ageflow.cli._mcp_serve_tokens import (
    RateLimitSpec,
    Tokens,
    dash,
    double_dash,
    never,
    non_negative_number,
    port,
    positive_int,
    positive_number,
    rate_limit,
)
from ageflow.cli.errors import UsageError


class NotGiven(Enum):
    NOT_GIVEN = "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN
"""A flag that was not on the command line (unlike None, which some flags set)."""

HitlStrategy = Literal["elicit", "auto", "fail"]
HITL_STRATEGIES: Final[tuple[HitlStrategy, ...]] = ("elicit", "auto", "fail")
LogLevel = Literal["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]
LOG_LEVELS: Final[tuple[LogLevel, ...]] = get_args(LogLevel)
"""The MCP log levels, severity ascending (the server's ``logging_bridge`` has the same)."""
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})
DEFAULT_HTTP_HOST: Final = "127.0.0.1"
DEFAULT_JOB_DB: Final = str(Path(".ageflow") / "jobs.sqlite")
MEMORY_JOB_DB: Final = ":memory:"
USAGE: Final = "ageflow mcp serve WORKFLOW [flags]"

T = TypeVar("T")
D = TypeVar("D")


@dataclass(frozen=True, slots=True)
class McpServeArgs:
    """What the command line asked for; ``NOT_GIVEN`` = the flag was not on it."""

    workflow: str
    max_cost_usd: float | NotGiven | None = NOT_GIVEN
    max_duration_sec: float | NotGiven | None = NOT_GIVEN
    max_turns: int | NotGiven | None = NOT_GIVEN
    max_concurrent_jobs: int | NotGiven = NOT_GIVEN
    max_concurrent_jobs_per_workflow: int | NotGiven = NOT_GIVEN
    hitl_strategy: HitlStrategy = "elicit"
    server_name: str | NotGiven = NOT_GIVEN
    log_file: str | NotGiven = NOT_GIVEN
    log_level: LogLevel | NotGiven = NOT_GIVEN
    async_mode: bool = False
    tasks: bool = True
    job_ttl_ms: int | NotGiven = NOT_GIVEN
    job_checkpoint_ttl_ms: int | NotGiven = NOT_GIVEN
    job_lease_ms: int | NotGiven = NOT_GIVEN
    job_db: str | NotGiven = NOT_GIVEN
    http: bool = False
    port: int | NotGiven = NOT_GIVEN
    http_host: str | NotGiven = NOT_GIVEN
    auth_bearer: str | NotGiven = NOT_GIVEN
    trust_proxy: bool = False
    max_body_bytes: int | NotGiven = NOT_GIVEN
    max_sessions: int | NotGiven = NOT_GIVEN
    session_idle_sec: float | NotGiven = NOT_GIVEN
    cors_origins: tuple[str, ...] = field(default=())
    allowed_hosts: tuple[str, ...] = field(default=())
    rate_limit: RateLimitSpec | NotGiven = NOT_GIVEN
    audit_log: str | NotGiven = NOT_GIVEN

    @property
    def job_db_path(self) -> str:
        """The job file of ``--async``: ``--job-db``, else ``.ageflow/jobs.sqlite`` (cwd)."""
        return DEFAULT_JOB_DB if self.job_db is NOT_GIVEN else self.job_db

    @property
    def host(self) -> str:
        return DEFAULT_HTTP_HOST if self.http_host is NOT_GIVEN else self.http_host

    def given(self, name: str) -> bool:
        """Whether the flag behind field ``name`` appeared on the command line."""
        value = getattr(self, name)
        return value is not NOT_GIVEN and value is not False and value != ()


# -- the flag table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _ValueFlag:
    """A flag with a value: where it goes, how it is read, and its two messages."""

    dest: str
    convert: Callable[[str], object | None]
    missing: str
    invalid: str | None = None  # "{v}" = the token; None: every value is accepted
    missing_if: Callable[[str], bool] = dash
    repeatable: bool = False


def _text(token: str) -> str:
    return token


def _log_level(token: str) -> LogLevel | None:
    lowered = token.lower()
    return next((level for level in LOG_LEVELS if level == lowered), None)


_VALUE_FLAGS: Final[dict[str, _ValueFlag]] = {
    "--max-cost": _ValueFlag(
        "max_cost_usd",
        non_negative_number,
        "--max-cost requires a numeric argument",
        "--max-cost must be a non-negative number, got: {v}",
    ),
    "--max-duration": _ValueFlag(
        "max_duration_sec",
        positive_number,
        "--max-duration requires a numeric argument",
        "--max-duration must be a positive number, got: {v}",
    ),
    "--max-turns": _ValueFlag(
        "max_turns",
        positive_int,
        "--max-turns requires a numeric argument",
        "--max-turns must be a positive integer, got: {v}",
    ),
    "--max-concurrent-jobs": _ValueFlag(
        "max_concurrent_jobs",
        positive_int,
        "--max-concurrent-jobs requires a numeric argument",
        "--max-concurrent-jobs must be a positive integer, got: {v}",
        missing_if=double_dash,  # so "-2" reaches the positive-integer check
    ),
    "--max-concurrent-jobs-per-workflow": _ValueFlag(
        "max_concurrent_jobs_per_workflow",
        positive_int,
        "--max-concurrent-jobs-per-workflow requires a numeric argument",
        "--max-concurrent-jobs-per-workflow must be a positive integer, got: {v}",
        missing_if=double_dash,
    ),
    "--name": _ValueFlag("server_name", _text, "--name requires a string argument"),
    "--log-file": _ValueFlag("log_file", _text, "--log-file requires a path argument"),
    "--log-level": _ValueFlag(
        "log_level",
        _log_level,
        "--log-level requires a level argument",
        f"--log-level must be one of: {' | '.join(LOG_LEVELS)}, got: {{v}}",
    ),
    "--job-ttl": _ValueFlag(
        "job_ttl_ms",
        positive_int,
        "--job-ttl requires a numeric argument (ms)",
        "--job-ttl must be a positive integer in ms, got: {v}",
    ),
    "--checkpoint-ttl": _ValueFlag(
        "job_checkpoint_ttl_ms",
        positive_int,
        "--checkpoint-ttl requires a numeric argument (ms)",
        "--checkpoint-ttl must be a positive integer in ms, got: {v}",
    ),
    "--lease": _ValueFlag(
        "job_lease_ms",
        positive_int,
        "--lease requires a numeric argument (ms)",
        "--lease must be a positive integer in ms, got: {v}",
    ),
    "--job-db": _ValueFlag("job_db", _text, "--job-db requires a path argument"),
    "--port": _ValueFlag(
        "port",
        port,
        "--port requires a numeric argument",
        "--port must be a valid port number (1-65535), got: {v}",
    ),
    "--host": _ValueFlag("http_host", _text, "--host requires a host argument"),
    "--auth-bearer": _ValueFlag("auth_bearer", _text, "--auth-bearer requires a token argument"),
    "--max-body-bytes": _ValueFlag(
        "max_body_bytes",
        positive_int,
        "--max-body-bytes requires a numeric argument",
        "--max-body-bytes must be a positive integer, got: {v}",
    ),
    "--max-sessions": _ValueFlag(
        "max_sessions",
        positive_int,
        "--max-sessions requires a numeric argument",
        "--max-sessions must be a positive integer, got: {v}",
    ),
    "--session-idle": _ValueFlag(
        "session_idle_sec",
        positive_number,
        "--session-idle requires a numeric argument (seconds)",
        "--session-idle must be a positive number of seconds, got: {v}",
    ),
    "--cors-origin": _ValueFlag(
        "cors_origins", _text, "--cors-origin requires an origin argument", repeatable=True
    ),
    "--allowed-host": _ValueFlag(
        "allowed_hosts", _text, "--allowed-host requires a host argument", repeatable=True
    ),
    "--rate-limit": _ValueFlag(
        "rate_limit",
        rate_limit,
        "--rate-limit requires a <max_requests>/<window_seconds> argument",
        "--rate-limit must be <max_requests>/<window_seconds> (a positive integer and a "
        "positive number of seconds, e.g. 60/60), got: {v}",
    ),
    "--audit-log": _ValueFlag("audit_log", _text, "--audit-log requires a path argument"),
}

# Flags without a value: the field and the value they set.
_SWITCHES: Final[dict[str, tuple[str, object]]] = {
    "--no-max-cost": ("max_cost_usd", None),
    "--no-max-duration": ("max_duration_sec", None),
    "--no-max-turns": ("max_turns", None),
    "--async": ("async_mode", True),
    "--no-tasks": ("tasks", False),
    "--http": ("http", True),
    "--trust-proxy": ("trust_proxy", True),
}

ASYNC_ONLY: Final[tuple[tuple[str, str], ...]] = (
    ("--job-ttl", "job_ttl_ms"),
    ("--checkpoint-ttl", "job_checkpoint_ttl_ms"),
    ("--lease", "job_lease_ms"),
    ("--job-db", "job_db"),
    ("--max-concurrent-jobs", "max_concurrent_jobs"),
    ("--max-concurrent-jobs-per-workflow", "max_concurrent_jobs_per_workflow"),
)
HTTP_ONLY: Final[tuple[tuple[str, str], ...]] = (
    ("--port", "port"),
    ("--host", "http_host"),
    ("--auth-bearer", "auth_bearer"),
    ("--trust-proxy", "trust_proxy"),
    ("--max-body-bytes", "max_body_bytes"),
    ("--max-sessions", "max_sessions"),
    ("--session-idle", "session_idle_sec"),
    ("--cors-origin", "cors_origins"),
    ("--allowed-host", "allowed_hosts"),
    ("--rate-limit", "rate_limit"),
    ("--audit-log", "audit_log"),
)

_FIELD_NAMES: Final = frozenset(f.name for f in fields(McpServeArgs))


def _hitl(inline: str | None, tokens: Tokens) -> HitlStrategy:
    # --hitl takes whatever follows (even a flag), so a forgotten value is named in the error.
    value = tokens.value(inline, missing_if=never)
    for strategy in HITL_STRATEGIES:
        if value == strategy:
            return strategy
    shown = "(missing)" if value is None else value
    raise UsageError(f"--hitl must be one of: elicit | auto | fail, got: {shown}")


def parse_mcp_serve_args(argv: list[str]) -> McpServeArgs:
    """Parse the tokens after ``mcp serve``; raises UsageError for the first broken rule."""
    tokens = Tokens(argv)
    values: dict[str, object] = {}
    positionals: list[str] = []
    while tokens:
        token, inline = tokens.next_flag_or_positional()
        if token == "--hitl":
            values["hitl_strategy"] = _hitl(inline, tokens)
        elif token in _SWITCHES:
            if inline is not None:
                raise UsageError(f"{token} takes no value, got: {token}={inline}")
            dest, value = _SWITCHES[token]
            values[dest] = value
        elif token in _VALUE_FLAGS:
            flag = _VALUE_FLAGS[token]
            raw = tokens.value(inline, missing_if=flag.missing_if)
            if raw is None:
                raise UsageError(flag.missing)
            converted = flag.convert(raw)
            if converted is None:
                assert flag.invalid is not None
                raise UsageError(flag.invalid.format(v=raw))
            if flag.repeatable:
                earlier = values.get(flag.dest, ())
                assert isinstance(earlier, tuple)
                values[flag.dest] = (*earlier, converted)
            else:
                values[flag.dest] = converted  # a later occurrence overrides an earlier one
        elif token.startswith("-") and token != "-":
            raise UsageError(f"Unknown flag: {token}")
        else:
            positionals.append(token)
    if not positionals:
        raise UsageError(f"Missing required workflow file argument. Usage: {USAGE}")
    if len(positionals) > 1:
        raise UsageError(
            f"expected one workflow, got {len(positionals)}: {' '.join(positionals)} "
            "(is a flag missing before a value?)"
        )
    assert set(values) <= _FIELD_NAMES
    args = McpServeArgs(workflow=positionals[0], **values)  # type: ignore[arg-type]
    _check_combinations(args)
    return args


def _check_combinations(args: McpServeArgs) -> None:
    """The rules between flags, in a fixed order (the first broken one is reported)."""
    if not args.async_mode:
        for flag, name in ASYNC_ONLY:
            if args.given(name):
                raise UsageError(f"{flag} requires --async")
        if not args.tasks:  # a switch that clears a default, so not in ASYNC_ONLY
            raise UsageError("--no-tasks requires --async")
    if not args.http:
        for flag, name in HTTP_ONLY:
            if args.given(name):
                raise UsageError(f"{flag} requires --http")
        return
    if args.port is NOT_GIVEN:
        raise UsageError("--http requires --port <n>")
    if args.host not in LOOPBACK_HOSTS and args.auth_bearer is NOT_GIVEN:
        raise UsageError(
            f'HTTP transport on non-loopback host "{args.host}" requires --auth-bearer; '
            "this prevents accidentally exposing your workflows to the public internet."
        )


def present(value: T | NotGiven) -> T | None:
    """``value``, or None when it was not given (for options whose None means default)."""
    return None if value is NOT_GIVEN else value


def given_or(value: T | NotGiven, default: D) -> T | D:
    """``value``, or ``default`` when it was not given."""
    return default if value is NOT_GIVEN else value
