"""``mcp serve`` flags: the pure parser, and its errors as the command reports them.

Values are checked on ``parse_mcp_serve_args``; every error is checked through the real
command (typer's CliRunner on ``ageflow.cli.app.app``): exit code 2 and exactly one line
``ageflow: <message>`` on stderr, before anything is loaded.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ageflow.cli.app import app
from ageflow.cli.errors import UsageError
from ageflow.cli.mcp_serve_args import (
    DEFAULT_JOB_DB,
    NOT_GIVEN,
    McpServeArgs,
    RateLimitSpec,
    parse_mcp_serve_args,
)

runner = CliRunner()


def parse(*tokens: str) -> McpServeArgs:
    return parse_mcp_serve_args(list(tokens))


def usage_error(*tokens: str) -> str:
    """The one stderr line of ``ageflow mcp serve <tokens>``, which must exit 2."""
    result = runner.invoke(app, ["mcp", "serve", *tokens])
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ageflow: ")
    return lines[0].removeprefix("ageflow: ")


# -- the workflow argument (D40) ----------------------------------------------------------------


def test_defaults_with_only_the_workflow() -> None:
    args = parse("wf.py")
    assert args.workflow == "wf.py"
    assert args.hitl_strategy == "elicit"
    assert not args.async_mode and not args.http and not args.trust_proxy
    for name in ("max_cost_usd", "max_duration_sec", "max_turns", "port", "job_db", "log_file"):
        assert getattr(args, name) is NOT_GIVEN, name
    assert args.cors_origins == () and args.allowed_hosts == ()


@pytest.mark.parametrize(
    "tokens",
    [
        ("--max-cost", "1.5", "wf.py"),
        ("--name", "srv", "wf.py", "--hitl", "auto"),
        ("--hitl", "auto", "--max-cost", "1.5", "wf.py", "--name", "srv"),
    ],
)
def test_flag_value_before_the_path_is_not_taken_for_it(tokens: tuple[str, ...]) -> None:
    assert parse(*tokens).workflow == "wf.py"


def test_value_before_path_keeps_its_flag() -> None:
    args = parse("--max-cost", "1.5", "--name", "srv", "wf.py")
    assert (args.workflow, args.max_cost_usd, args.server_name) == ("wf.py", 1.5, "srv")


def test_missing_workflow() -> None:
    assert "Missing required workflow file argument" in usage_error()
    assert "Missing required workflow file argument" in usage_error("--async")


def test_two_positionals_are_refused() -> None:
    message = usage_error("a.py", "b.py")
    assert "expected one workflow, got 2: a.py b.py" in message
    # A value whose flag was forgotten is the typical cause.
    assert "expected one workflow" in usage_error("--max-cost", "1", "2", "wf.py")


def test_unknown_flag() -> None:
    assert usage_error("wf.py", "--unknown-flag") == "Unknown flag: --unknown-flag"
    assert usage_error("wf.py", "-x") == "Unknown flag: -x"


# -- ceilings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tokens", "field", "value"),
    [
        (("--max-cost", "1.5"), "max_cost_usd", 1.5),
        (("--max-cost", "0"), "max_cost_usd", 0.0),
        (("--max-cost", " 2 "), "max_cost_usd", 2.0),
        (("--no-max-cost",), "max_cost_usd", None),
        (("--max-cost", "2", "--no-max-cost"), "max_cost_usd", None),
        (("--no-max-cost", "--max-cost", "3"), "max_cost_usd", 3.0),
        (("--max-duration", "120"), "max_duration_sec", 120.0),
        (("--max-duration", "0.5"), "max_duration_sec", 0.5),
        (("--no-max-duration",), "max_duration_sec", None),
        (("--max-turns", "10"), "max_turns", 10),
        (("--max-turns", "5.0"), "max_turns", 5),
        (("--max-turns", "1e1"), "max_turns", 10),
        (("--max-turns", "0x10"), "max_turns", 16),
        (("--no-max-turns",), "max_turns", None),
        (("--max-cost=4",), "max_cost_usd", 4.0),
    ],
)
def test_ceiling_values(tokens: tuple[str, ...], field: str, value: object) -> None:
    got = getattr(parse("wf.py", *tokens), field)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (("--max-cost",), "--max-cost requires a numeric argument"),
        (("--max-cost", "--async"), "--max-cost requires a numeric argument"),
        (("--max-cost", "abc"), "--max-cost must be a non-negative number, got: abc"),
        (("--max-cost", "inf"), "--max-cost must be a non-negative number, got: inf"),
        (("--max-cost", "1_0"), "--max-cost must be a non-negative number, got: 1_0"),
        (("--max-cost=-1",), "--max-cost must be a non-negative number, got: -1"),
        (("--max-duration",), "--max-duration requires a numeric argument"),
        (("--max-duration", "0"), "--max-duration must be a positive number, got: 0"),
        (("--max-duration", "nan"), "--max-duration must be a positive number, got: nan"),
        (("--max-turns",), "--max-turns requires a numeric argument"),
        (("--max-turns", "1.5"), "--max-turns must be a positive integer, got: 1.5"),
        (("--max-turns", "0"), "--max-turns must be a positive integer, got: 0"),
        (("--no-max-cost=1",), "--no-max-cost takes no value, got: --no-max-cost=1"),
    ],
)
def test_ceiling_errors(tokens: tuple[str, ...], message: str) -> None:
    assert usage_error("wf.py", *tokens) == message


# -- hitl, name, log file -------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["elicit", "auto", "fail"])
def test_hitl_strategies(strategy: str) -> None:
    assert parse("wf.py", "--hitl", strategy).hitl_strategy == strategy


@pytest.mark.parametrize(
    ("tokens", "shown"),
    [
        (("--hitl", "invalid"), "invalid"),
        (("--hitl",), "(missing)"),
        (("--hitl", "--http"), "--http"),
    ],
)
def test_hitl_errors(tokens: tuple[str, ...], shown: str) -> None:
    assert usage_error("wf.py", *tokens) == (
        f"--hitl must be one of: elicit | auto | fail, got: {shown}"
    )


def test_name_and_log_file_kept_verbatim() -> None:
    args = parse("wf.py", "--name", "my-server", "--log-file", "logs/serve log.txt")
    assert args.server_name == "my-server"
    assert args.log_file == "logs/serve log.txt"


def test_combined_flags() -> None:
    args = parse("--max-cost", "2", "--hitl", "auto", "--max-turns", "5", "--name", "g", "wf.py")
    assert (args.max_cost_usd, args.hitl_strategy, args.max_turns, args.server_name) == (
        2.0,
        "auto",
        5,
        "g",
    )


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (("--name",), "--name requires a string argument"),
        (("--name", "--async"), "--name requires a string argument"),
        (("--log-file",), "--log-file requires a path argument"),
    ],
)
def test_name_and_log_file_errors(tokens: tuple[str, ...], message: str) -> None:
    assert usage_error("wf.py", *tokens) == message


# -- async jobs -------------------------------------------------------------------------------


def test_async_flags() -> None:
    args = parse(
        "wf.py",
        "--async",
        "--job-ttl",
        "1800000",
        "--checkpoint-ttl",
        "900000",
        "--job-db",
        "state/jobs db.sqlite",
        "--max-concurrent-jobs",
        "3",
        "--max-concurrent-jobs-per-workflow",
        "4",
    )
    assert args.async_mode is True
    assert (args.job_ttl_ms, args.job_checkpoint_ttl_ms) == (1_800_000, 900_000)
    assert args.job_db == args.job_db_path == "state/jobs db.sqlite"
    assert (args.max_concurrent_jobs, args.max_concurrent_jobs_per_workflow) == (3, 4)


def test_async_is_durable_by_default_and_memory_is_opt_in() -> None:
    assert parse("wf.py", "--async").job_db_path == DEFAULT_JOB_DB == ".ageflow/jobs.sqlite"
    assert parse("wf.py", "--async", "--job-db", ":memory:").job_db_path == ":memory:"


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (("--job-ttl",), "--job-ttl requires a numeric argument (ms)"),
        (("--job-ttl", "0"), "--job-ttl must be a positive integer in ms, got: 0"),
        (("--checkpoint-ttl",), "--checkpoint-ttl requires a numeric argument (ms)"),
        (
            ("--checkpoint-ttl", "1.5"),
            "--checkpoint-ttl must be a positive integer in ms, got: 1.5",
        ),
        (("--job-db",), "--job-db requires a path argument"),
        (("--max-concurrent-jobs",), "--max-concurrent-jobs requires a numeric argument"),
        (("--max-concurrent-jobs", "--http"), "--max-concurrent-jobs requires a numeric argument"),
        (
            ("--max-concurrent-jobs", "0"),
            "--max-concurrent-jobs must be a positive integer, got: 0",
        ),
        # "-2" is a value here (only "--" marks a missing one), so the number rule reports it.
        (
            ("--max-concurrent-jobs", "-2"),
            "--max-concurrent-jobs must be a positive integer, got: -2",
        ),
        (
            ("--max-concurrent-jobs-per-workflow", "1.5"),
            "--max-concurrent-jobs-per-workflow must be a positive integer, got: 1.5",
        ),
        (
            ("--max-concurrent-jobs-per-workflow",),
            "--max-concurrent-jobs-per-workflow requires a numeric argument",
        ),
    ],
)
def test_async_flag_errors(tokens: tuple[str, ...], message: str) -> None:
    assert usage_error("wf.py", "--async", *tokens) == message


def test_number_rules_are_checked_before_the_async_requirement() -> None:
    assert "positive integer" in usage_error("wf.py", "--max-concurrent-jobs", "0")


@pytest.mark.parametrize(
    ("tokens", "flag"),
    [
        (("--job-ttl", "1000"), "--job-ttl"),
        (("--checkpoint-ttl", "1000"), "--checkpoint-ttl"),
        (("--job-db", "x.sqlite"), "--job-db"),
        (("--lease", "1000"), "--lease"),
        (("--no-tasks",), "--no-tasks"),
        (("--max-concurrent-jobs", "2"), "--max-concurrent-jobs"),
        (("--max-concurrent-jobs-per-workflow", "2"), "--max-concurrent-jobs-per-workflow"),
    ],
)
def test_async_only_flags_require_async(tokens: tuple[str, ...], flag: str) -> None:
    assert usage_error("wf.py", *tokens) == f"{flag} requires --async"


def test_tasks_are_on_with_async_unless_no_tasks() -> None:
    assert parse("wf.py", "--async").tasks is True
    assert parse("wf.py", "--async", "--no-tasks").tasks is False
    assert parse("wf.py", "--async", "--lease", "1500").job_lease_ms == 1500


# -- HTTP -------------------------------------------------------------------------------------


def test_http_flags() -> None:
    args = parse(
        "wf.py",
        "--http",
        "--port",
        "8080",
        "--host",
        "0.0.0.0",
        "--auth-bearer",
        "s3cret",
        "--trust-proxy",
        "--max-body-bytes",
        "2048",
        "--max-sessions",
        "10",
        "--session-idle",
        "90.5",
        "--cors-origin",
        "https://a.example",
        "--cors-origin",
        "*",
        "--allowed-host",
        "mcp.example",
        "--allowed-host",
        "mcp.example:8080",
        "--rate-limit",
        "60/30",
        "--audit-log",
        "audit.jsonl",
    )
    assert args.http and args.port == 8080 and args.host == "0.0.0.0"
    assert args.auth_bearer == "s3cret" and args.trust_proxy
    assert (args.max_body_bytes, args.max_sessions, args.session_idle_sec) == (2048, 10, 90.5)
    assert args.cors_origins == ("https://a.example", "*")
    assert args.allowed_hosts == ("mcp.example", "mcp.example:8080")
    assert args.rate_limit == RateLimitSpec(max_requests=60, window_seconds=30.0)
    assert args.audit_log == "audit.jsonl"


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_hosts_need_no_token(host: str) -> None:
    assert parse("wf.py", "--http", "--port", "1", "--host", host).host == host


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        (("--port",), "--port requires a numeric argument"),
        (("--port", "0"), "--port must be a valid port number (1-65535), got: 0"),
        (("--port", "65536"), "--port must be a valid port number (1-65535), got: 65536"),
        (("--port", "80.5"), "--port must be a valid port number (1-65535), got: 80.5"),
        (("--host",), "--host requires a host argument"),
        (("--auth-bearer",), "--auth-bearer requires a token argument"),
        (("--max-body-bytes",), "--max-body-bytes requires a numeric argument"),
        (("--max-body-bytes", "0"), "--max-body-bytes must be a positive integer, got: 0"),
        (("--max-sessions",), "--max-sessions requires a numeric argument"),
        (("--max-sessions", "2.5"), "--max-sessions must be a positive integer, got: 2.5"),
        (("--session-idle",), "--session-idle requires a numeric argument (seconds)"),
        (("--session-idle", "0"), "--session-idle must be a positive number of seconds, got: 0"),
        (("--cors-origin",), "--cors-origin requires an origin argument"),
        (("--allowed-host",), "--allowed-host requires a host argument"),
        (("--audit-log",), "--audit-log requires a path argument"),
        (("--rate-limit",), "--rate-limit requires a <max_requests>/<window_seconds> argument"),
        (("--trust-proxy=yes",), "--trust-proxy takes no value, got: --trust-proxy=yes"),
    ],
)
def test_http_flag_errors(tokens: tuple[str, ...], message: str) -> None:
    assert usage_error("wf.py", "--http", "--port", "9000", *tokens) == message


@pytest.mark.parametrize("value", ["60", "60/", "/60", "0/60", "60/0", "1.5/60", "a/b", "60/-1"])
def test_rate_limit_errors(value: str) -> None:
    message = usage_error("wf.py", "--http", "--port", "9000", "--rate-limit", value)
    assert message.startswith("--rate-limit must be <max_requests>/<window_seconds>")
    assert message.endswith(f"got: {value}")


def test_rate_limit_fractional_window() -> None:
    args = parse("wf.py", "--http", "--port", "9", "--rate-limit", "5/0.5")
    assert args.rate_limit == RateLimitSpec(5, 0.5)


@pytest.mark.parametrize(
    ("tokens", "flag"),
    [
        (("--port", "8080"), "--port"),
        (("--host", "localhost"), "--host"),
        (("--auth-bearer", "t"), "--auth-bearer"),
        (("--trust-proxy",), "--trust-proxy"),
        (("--max-body-bytes", "10"), "--max-body-bytes"),
        (("--max-sessions", "10"), "--max-sessions"),
        (("--session-idle", "10"), "--session-idle"),
        (("--cors-origin", "*"), "--cors-origin"),
        (("--allowed-host", "h"), "--allowed-host"),
        (("--rate-limit", "1/1"), "--rate-limit"),
        (("--audit-log", "a.jsonl"), "--audit-log"),
    ],
)
def test_http_only_flags_require_http(tokens: tuple[str, ...], flag: str) -> None:
    assert usage_error("wf.py", *tokens) == f"{flag} requires --http"


def test_http_requires_port() -> None:
    assert usage_error("wf.py", "--http") == "--http requires --port <n>"


def test_non_loopback_host_requires_a_token() -> None:
    message = usage_error("wf.py", "--http", "--port", "80", "--host", "0.0.0.0")
    assert message.startswith(
        'HTTP transport on non-loopback host "0.0.0.0" requires --auth-bearer'
    )
    args = parse("wf.py", "--http", "--port", "80", "--host", "0.0.0.0", "--auth-bearer", "t")
    assert args.auth_bearer == "t"


def test_cross_rules_are_checked_in_order() -> None:
    # async rule first, then the HTTP-only rules in flag order, then --http's own rules.
    assert usage_error("wf.py", "--job-db", "x", "--port", "1") == "--job-db requires --async"
    assert usage_error("wf.py", "--host", "h", "--port", "1") == "--port requires --http"


def test_direct_call_raises_usage_error() -> None:
    with pytest.raises(UsageError, match="Unknown flag: --nope"):
        parse_mcp_serve_args(["wf.py", "--nope"])


def test_help_lists_the_flags() -> None:
    result = runner.invoke(app, ["mcp", "serve", "--help"])
    assert result.exit_code == 0
    for flag in ("--max-cost", "--async", "--job-db", "--http", "--trust-proxy", "--rate-limit"):
        assert flag in result.stdout
    assert "Usage: ageflow mcp serve WORKFLOW" in result.stdout


def test_load_error_is_one_line_exit_1_before_anything_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["mcp", "serve", "missing.py", "--async"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        'ageflow: Cannot import workflow file "missing.py": no such file'
    ]
    assert not (tmp_path / ".ageflow").exists()


def test_zero_cost_ceiling_reaches_the_server(tmp_path: Path) -> None:
    # The flag rule allows 0 (as the original did) and so do the server's ceilings:
    # nothing may be spent, so only free (function) tasks can run.
    from ageflow.cli.loading import load_workflow
    from ageflow.cli.mcp_serve_build import build_server

    workflow = tmp_path / "greet.py"
    shutil.copy(Path(__file__).with_name("cli_mcp_greet_workflow.py"), workflow)
    args = parse_mcp_serve_args([str(workflow), "--max-cost", "0"])
    server = build_server(args, load_workflow(str(workflow)))
    assert server.ceilings.max_cost_usd == 0
    assert server.ceiling_warnings == ()
