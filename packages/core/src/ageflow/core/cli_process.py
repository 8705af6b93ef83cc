"""Running an agent CLI (``claude``, ``codex`` ...) as a child process, once per turn.

What every subprocess runner shares lives here, so it exists once:

- the child's environment from an :class:`EnvConfig` (:func:`build_child_env`);
- :func:`run_cli`: start the child in its own process group with stdin on ``/dev/null``,
  read stdout and stderr concurrently (stdout capped, stderr kept as a tail), and kill the
  whole group on timeout, cancellation or an over-long output, so nothing it started
  outlives the call;
- reading the CLI's answer: JSON lines (:func:`split_json_lines`), the interactive
  permission prompt (:func:`is_permission_prompt`), the prompt layout (:func:`compose_prompt`);
- the version probe behind each runner's ``validate()`` (:func:`probe_version`);
- the errors: :class:`CliNotFoundError`, :class:`CliSubprocessError` (retryable,
  code ``subprocess_error``), :class:`CliRateLimitError` (code ``rate_limit``),
  :class:`CliOutputTooLargeError`; a timeout raises core :class:`TaskTimeoutError`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import anyio
from anyio.abc import ByteReceiveStream, Process

from ageflow.core.config import EnvConfig
from ageflow.core.errors import AgentFlowError, TaskTimeoutError
from ageflow.core.runner import ValidateResult

__all__ = [
    "DEFAULT_KILL_GRACE_S",
    "STDERR_TAIL_BYTES",
    "CliNotFoundError",
    "CliOutputTooLargeError",
    "CliRateLimitError",
    "CliResult",
    "CliSubprocessError",
    "JsonLines",
    "build_child_env",
    "compose_prompt",
    "is_permission_prompt",
    "probe_version",
    "run_cli",
    "split_json_lines",
    "tail",
]

DEFAULT_KILL_GRACE_S = 2.0
"""How long a child gets to exit after SIGTERM before its group is sent SIGKILL."""

STDERR_TAIL_BYTES = 64 * 1024
"""Stderr is diagnostics: only its last bytes are kept, and a chatty CLI is never killed."""

ERROR_TAIL_CHARS = 2000
"""How much of stderr an error message quotes (its end, where the cause usually is)."""

SYSTEM_PROMPT_SEPARATOR = "\n\n---\n\n"


# --- errors ----------------------------------------------------------------------------


def tail(text: str, max_chars: int = ERROR_TAIL_CHARS) -> str:
    """The end of ``text`` (stripped), marked with ``...`` when something was cut."""
    text = text.strip()
    return text if len(text) <= max_chars else "..." + text[-max_chars:]


class CliNotFoundError(AgentFlowError):
    """The CLI executable could not be started: not on PATH, or not executable.

    Not retried: another attempt would not find it either (the message has no
    "subprocess", on purpose, see the executor's classification).
    """

    code: ClassVar[str] = "cli_not_found"
    _json_fields = ("executable",)

    def __init__(self, executable: str, *, hint: str = "", cause: object = None) -> None:
        self.executable = executable
        message = f"Cannot run {executable!r}: executable not found on PATH or not executable"
        super().__init__(f"{message}. {hint}" if hint else message, cause=cause)


class CliSubprocessError(AgentFlowError):
    """The CLI exited with a non-zero code (or died by a signal, a negative code).

    Code ``subprocess_error``: the executor retries it when the policy lists that kind.
    """

    code: ClassVar[str] = "subprocess_error"
    _json_fields = ("executable", "exit_code", "stderr")

    def __init__(
        self,
        label: str,
        exit_code: int,
        stderr: str,
        *,
        executable: str | None = None,
        detail: str | None = None,
        cause: object = None,
    ) -> None:
        self.executable = executable or label.lower()
        self.exit_code = exit_code
        self.stderr = tail(stderr)
        reason = detail if detail is not None else self.stderr
        super().__init__(f"{label} subprocess exited with code {exit_code}: {reason}", cause=cause)


class CliRateLimitError(AgentFlowError):
    """The CLI reported a rate or usage limit. Code ``rate_limit``.

    ``retry_after_s`` is set when the CLI said when the limit resets; the executor then
    waits at least that long before the next attempt (if ``rate_limit`` is retried).
    """

    code: ClassVar[str] = "rate_limit"
    _json_fields = ("executable", "retry_after_s", "detail")

    def __init__(
        self,
        label: str,
        detail: str,
        *,
        executable: str | None = None,
        retry_after_s: float | None = None,
        cause: object = None,
    ) -> None:
        self.executable = executable or label.lower()
        self.detail = tail(detail)
        self.retry_after_s = retry_after_s
        when = f" (resets in {retry_after_s:.0f}s)" if retry_after_s is not None else ""
        super().__init__(f"{label} hit a rate limit{when}: {self.detail}", cause=cause)


class CliOutputTooLargeError(AgentFlowError):
    """The CLI wrote more to stdout than allowed; it was killed.

    Not retried (a new attempt would most likely do the same).
    """

    code: ClassVar[str] = "output_too_large"
    _json_fields = ("executable", "limit_bytes")

    def __init__(self, executable: str, limit_bytes: int, *, cause: object = None) -> None:
        self.executable = executable
        self.limit_bytes = limit_bytes
        super().__init__(
            f"{executable!r} wrote more than {limit_bytes} bytes to stdout; it was stopped",
            cause=cause,
        )


# --- environment -----------------------------------------------------------------------


def _scrubbed(name: str, scrub: Sequence[str | re.Pattern[str]]) -> bool:
    for rule in scrub:
        if isinstance(rule, re.Pattern):
            if rule.search(name):
                return True
        elif rule == name:
            return True
    return False


def build_child_env(env: EnvConfig | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a CLI child gets: ``base`` (default ``os.environ``) minus scrubbed names.

    A ``scrub`` entry is an exact name (a string) or a compiled regex matched with
    ``search``. A name listed in ``pass_vars`` is always passed when ``base`` has it, even
    if a scrub rule matches it: the explicit pass wins.
    """
    source = dict(os.environ if base is None else base)
    if env is None:
        return source
    keep = set(env.pass_vars)
    return {
        name: value
        for name, value in source.items()
        if name in keep or not _scrubbed(name, env.scrub)
    }


# --- the child process -----------------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    """A finished CLI call. ``stdout`` is complete; ``stderr`` may be only its tail."""

    exit_code: int
    stdout: str
    stderr: str
    pid: int


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    # The group may be empty already (everyone exited): nothing to do then.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


async def _stop_group(process: Process, grace_s: float) -> None:
    """SIGTERM the child's whole group, SIGKILL it after ``grace_s``, reap the child.

    Runs shielded: it is reached from a cancelled scope and must still finish.
    """
    pgid = process.pid  # the child leads its own session and group (start_new_session)
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            _signal_group(pgid, signal.SIGTERM)
            with anyio.move_on_after(grace_s):
                await process.wait()
        # Also sweeps grandchildren that ignored SIGTERM or outlived the leader.
        _signal_group(pgid, signal.SIGKILL)
        await process.wait()


class _OutputOverflow(Exception):
    pass


async def _read_capped(stream: ByteReceiveStream, limit: int | None, into: bytearray) -> None:
    async for chunk in stream:
        into.extend(chunk)
        if limit is not None and len(into) > limit:
            raise _OutputOverflow


async def _read_tail(stream: ByteReceiveStream, keep: int, into: bytearray) -> None:
    async for chunk in stream:
        into.extend(chunk)
        if len(into) > keep:
            del into[: len(into) - keep]


async def run_cli(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    max_stdout_bytes: int | None = None,
    timeout_ms: int | None = None,
    task_name: str | None = None,
    kill_grace_s: float = DEFAULT_KILL_GRACE_S,
    not_found_hint: str = "",
) -> CliResult:
    """Run ``argv`` to completion and return its exit code and decoded output.

    The child starts in a new session (so its own process group), with stdin on
    ``/dev/null`` so an interactive question cannot block it. Whenever the call ends early
    (``timeout_ms`` passed, the caller is cancelled, stdout exceeds ``max_stdout_bytes``)
    the whole group gets SIGTERM, then SIGKILL after ``kill_grace_s``, and the child is
    reaped before this returns or raises. After a normal exit, anything left in the group
    is killed too, so a stray grandchild cannot hold the pipes open.

    Raises :class:`CliNotFoundError` when ``argv[0]`` cannot be started,
    :class:`TaskTimeoutError` (``task_name`` or ``"unknown"``) on timeout and
    :class:`CliOutputTooLargeError` on too much stdout. A non-zero exit is *not* an error
    here: the caller reads the output first (rate limits, error events) and decides.
    """
    executable = argv[0]
    try:
        # Shielded: a cancellation landing while the child is being set up would lose the
        # handle of a child that already runs; it is delivered inside the try below instead.
        with anyio.CancelScope(shield=True):
            process = await anyio.open_process(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )
    except (FileNotFoundError, PermissionError, NotADirectoryError) as exc:
        raise CliNotFoundError(executable, hint=not_found_hint, cause=exc) from exc

    stdout = bytearray()
    stderr = bytearray()
    overflow = False
    timed_out = False
    try:
        stdout_stream, stderr_stream = process.stdout, process.stderr
        assert stdout_stream is not None
        assert stderr_stream is not None
        with anyio.CancelScope() as deadline:
            if timeout_ms is not None:
                deadline.deadline = anyio.current_time() + timeout_ms / 1000

            async def read_stdout() -> None:
                nonlocal overflow
                try:
                    await _read_capped(stdout_stream, max_stdout_bytes, stdout)
                except _OutputOverflow:
                    overflow = True
                    deadline.cancel()

            async def wait_and_sweep() -> None:
                await process.wait()
                # The leader is gone: kill what it left behind so the pipes reach EOF.
                _signal_group(process.pid, signal.SIGKILL)

            async with anyio.create_task_group() as group:
                group.start_soon(read_stdout)
                group.start_soon(_read_tail, stderr_stream, STDERR_TAIL_BYTES, stderr)
                group.start_soon(wait_and_sweep)
        timed_out = deadline.cancelled_caught and not overflow
        if overflow or timed_out:
            await _stop_group(process, kill_grace_s)
    except BaseException:
        # Cancelled from outside (or a bug): the child must not outlive us.
        await _stop_group(process, kill_grace_s)
        raise
    finally:
        with anyio.CancelScope(shield=True):
            await process.aclose()

    if overflow:
        assert max_stdout_bytes is not None
        raise CliOutputTooLargeError(executable, max_stdout_bytes)
    if timed_out:
        assert timeout_ms is not None
        raise TaskTimeoutError(task_name or "unknown", timeout_ms)
    returncode = process.returncode
    return CliResult(
        exit_code=returncode if returncode is not None else -1,
        stdout=_decode(bytes(stdout)),
        stderr=_decode(bytes(stderr)),
        pid=process.pid,
    )


# --- reading the answer ----------------------------------------------------------------


@dataclass(frozen=True)
class JsonLines:
    """Stdout split into JSON objects and the lines that were not JSON."""

    objects: list[dict[str, Any]]
    non_json: list[str]


def split_json_lines(stdout: str) -> JsonLines:
    """Each non-empty stripped line parsed as JSON; JSON that is not an object is ignored."""
    objects: list[dict[str, Any]] = []
    non_json: list[str] = []
    for raw in stdout.split("\n"):
        line = raw.strip()
        if not line:
            continue
        try:
            parsed = json.loads(line)
        except ValueError:
            non_json.append(line)
            continue
        if isinstance(parsed, dict):
            objects.append(parsed)
    return JsonLines(objects=objects, non_json=non_json)


_PERMISSION_PROMPT = re.compile(r"\[y/n\]|\(y/n\)", re.IGNORECASE)


def is_permission_prompt(non_json_lines: Sequence[str]) -> bool:
    """Whether the non-JSON output asks a yes/no question (``[y/n]``, ``(Y/n)`` ...).

    Only non-JSON lines count: a model answer that mentions ``[y/n]`` is not a prompt.
    """
    return _PERMISSION_PROMPT.search("\n".join(non_json_lines)) is not None


def compose_prompt(system_prompt: str | None, prompt: str) -> str:
    """The text a CLI receives: the system prompt (when non-empty), a rule, the prompt."""
    if system_prompt:
        return f"{system_prompt}{SYSTEM_PROMPT_SEPARATOR}{prompt}"
    return prompt


# --- validate() ------------------------------------------------------------------------

_VERSION = re.compile(r"\d+\.\d+\.\d+")
VERSION_PROBE_TIMEOUT_MS = 15_000


async def probe_version(
    executable: str,
    *,
    install_hint: str,
    env: Mapping[str, str] | None = None,
    timeout_ms: int = VERSION_PROBE_TIMEOUT_MS,
) -> ValidateResult:
    """``<executable> --version`` as a health check; never raises.

    ``version`` is the first ``x.y.z`` in the output, or the whole output when there is none.
    """
    child_env = dict(os.environ if env is None else env)
    name = os.path.basename(executable)
    if shutil.which(executable, path=child_env.get("PATH")) is None:
        return ValidateResult(
            ok=False, error=f"{name} CLI not found on PATH. Install via: {install_hint}"
        )
    try:
        done = await run_cli([executable, "--version"], env=child_env, timeout_ms=timeout_ms)
    except AgentFlowError as exc:
        return ValidateResult(ok=False, error=f"{name} --version failed: {exc}")
    except OSError as exc:
        return ValidateResult(ok=False, error=f"{name} --version failed: {exc}")
    if done.exit_code != 0:
        return ValidateResult(ok=False, error=f"{name} --version failed: {tail(done.stderr)}")
    output = done.stdout.strip()
    match = _VERSION.search(output)
    return ValidateResult(ok=True, version=match.group(0) if match else output)
