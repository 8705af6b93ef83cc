"""``ClaudeRunner``: one agent turn is one ``claude --print`` child process."""

from __future__ import annotations

import os
from typing import ClassVar

from ageflow.core.cli_process import (
    DEFAULT_KILL_GRACE_S,
    CliRateLimitError,
    CliSubprocessError,
    build_child_env,
    is_permission_prompt,
    probe_version,
    run_cli,
)
from ageflow.core.config import DEFAULT_MAX_OUTPUT_BYTES
from ageflow.core.errors import AgentHitlConflictError, InlineToolsNotSupportedError
from ageflow.core.runner import RunnerSpawnArgs, RunnerSpawnResult, ValidateResult
from ageflow.runners.claude.argv import build_argv
from ageflow.runners.claude.output import parse_claude_output, rate_limit_in, retry_after_from

__all__ = ["INSTALL_HINT", "ClaudeRateLimitError", "ClaudeRunner", "ClaudeSubprocessError"]

INSTALL_HINT = "npm install -g @anthropic-ai/claude-code"

STDOUT_HEADROOM = 8
"""Raw stdout may be this many times ``max_output_bytes``: it is JSON around the answer
(escaping, metadata); the executor checks the answer's own size."""


class ClaudeSubprocessError(CliSubprocessError):
    """``claude`` failed: non-zero exit, or a result flagged ``is_error``. Retryable."""

    def __init__(
        self, exit_code: int, stderr: str, *, detail: str | None = None, cause: object = None
    ) -> None:
        super().__init__(
            "Claude", exit_code, stderr, executable="claude", detail=detail, cause=cause
        )


class ClaudeRateLimitError(CliRateLimitError):
    """``claude`` reported a rate or usage limit (code ``rate_limit``)."""

    def __init__(
        self, detail: str, *, retry_after_s: float | None = None, cause: object = None
    ) -> None:
        super().__init__(
            "Claude", detail, executable="claude", retry_after_s=retry_after_s, cause=cause
        )


class ClaudeRunner:
    """Runs each turn as ``claude --output-format json --print ... -- <prompt>``.

    ``executable`` is looked up on the child's PATH (a path works too). ``cwd`` is the
    directory the CLI works in (default: this process's). ``kill_grace_s`` is how long the
    CLI gets between SIGTERM and SIGKILL when it is stopped early.
    """

    runner_name: ClassVar[str] = "claude"

    def __init__(
        self,
        executable: str = "claude",
        *,
        cwd: str | os.PathLike[str] | None = None,
        kill_grace_s: float = DEFAULT_KILL_GRACE_S,
    ) -> None:
        self.executable = executable
        self.cwd = cwd
        self.kill_grace_s = kill_grace_s

    def build_argv(self, args: RunnerSpawnArgs) -> list[str]:
        """The command line ``spawn(args)`` runs."""
        return build_argv(args, self.executable)

    async def validate(self) -> ValidateResult:
        """``claude --version``; never raises."""
        return await probe_version(self.executable, install_hint=INSTALL_HINT)

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        if args.inline_tools:
            raise InlineToolsNotSupportedError(self.runner_name)
        limit = (args.max_output_bytes or DEFAULT_MAX_OUTPUT_BYTES) * STDOUT_HEADROOM
        done = await run_cli(
            self.build_argv(args),
            env=build_child_env(args.env),
            cwd=self.cwd,
            max_stdout_bytes=limit,
            timeout_ms=args.timeout_ms,
            task_name=args.task_name,
            kill_grace_s=self.kill_grace_s,
            not_found_hint=f"Install via: {INSTALL_HINT}",
        )
        output = parse_claude_output(done.stdout)
        if done.exit_code != 0 or output.is_error:
            answer = output.text if output.result is not None else ""
            if rate_limit_in(done.stderr, answer):
                raise ClaudeRateLimitError(
                    done.stderr.strip() or answer,
                    retry_after_s=retry_after_from(answer, done.stderr),
                )
            if done.exit_code != 0:
                raise ClaudeSubprocessError(
                    done.exit_code, done.stderr, detail=None if done.stderr.strip() else answer
                )
        if is_permission_prompt(output.non_json):
            raise AgentHitlConflictError("unknown")
        if output.is_error:
            assert output.result is not None
            subtype = output.result.get("subtype", "error")
            raise ClaudeSubprocessError(
                0, done.stderr, detail=f"the result is an error ({subtype}): {output.text}"
            )
        return RunnerSpawnResult(
            stdout=output.text,
            session_handle=output.session_handle,
            tokens_in=output.tokens_in,
            tokens_out=output.tokens_out,
        )
