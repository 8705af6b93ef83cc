"""``CodexRunner``: one agent turn is one ``codex exec --json`` child process."""

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
from ageflow.runners.codex.argv import SandboxMode, build_argv
from ageflow.runners.codex.output import parse_codex_output, rate_limit_in

__all__ = ["INSTALL_HINT", "CodexRateLimitError", "CodexRunner", "CodexSubprocessError"]

INSTALL_HINT = "npm install -g @openai/codex"

STDOUT_HEADROOM = 8
"""Raw stdout may be this many times ``max_output_bytes``: the event stream carries
reasoning and tool items besides the answer; the executor checks the answer's size."""


class CodexSubprocessError(CliSubprocessError):
    """``codex`` failed: non-zero exit, or a ``turn.failed``/``error`` event. Retryable."""

    def __init__(
        self, exit_code: int, stderr: str, *, detail: str | None = None, cause: object = None
    ) -> None:
        super().__init__("Codex", exit_code, stderr, executable="codex", detail=detail, cause=cause)


class CodexRateLimitError(CliRateLimitError):
    """``codex`` reported a rate or usage limit (code ``rate_limit``)."""

    def __init__(self, detail: str, *, cause: object = None) -> None:
        super().__init__("Codex", detail, executable="codex", cause=cause)


class CodexRunner:
    """Runs each turn as ``codex exec --json ... <prompt>``.

    ``skip_git_repo_check`` adds ``--skip-git-repo-check`` (codex refuses to run outside a
    git repository without it); ``sandbox`` adds ``--sandbox <mode>``. ``cwd`` and
    ``kill_grace_s`` are as for the claude runner.
    """

    runner_name: ClassVar[str] = "codex"

    def __init__(
        self,
        executable: str = "codex",
        *,
        cwd: str | os.PathLike[str] | None = None,
        skip_git_repo_check: bool = False,
        sandbox: SandboxMode | None = None,
        kill_grace_s: float = DEFAULT_KILL_GRACE_S,
    ) -> None:
        self.executable = executable
        self.cwd = cwd
        self.skip_git_repo_check = skip_git_repo_check
        self.sandbox: SandboxMode | None = sandbox
        self.kill_grace_s = kill_grace_s

    def build_argv(self, args: RunnerSpawnArgs) -> list[str]:
        """The command line ``spawn(args)`` runs."""
        return build_argv(
            args,
            self.executable,
            skip_git_repo_check=self.skip_git_repo_check,
            sandbox=self.sandbox,
        )

    async def validate(self) -> ValidateResult:
        """``codex --version``; never raises."""
        return await probe_version(self.executable, install_hint=INSTALL_HINT)

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        if args.inline_tools:
            raise InlineToolsNotSupportedError(self.runner_name)
        argv = self.build_argv(args)
        limit = (args.max_output_bytes or DEFAULT_MAX_OUTPUT_BYTES) * STDOUT_HEADROOM
        done = await run_cli(
            argv,
            env=build_child_env(args.env),
            cwd=self.cwd,
            max_stdout_bytes=limit,
            timeout_ms=args.timeout_ms,
            task_name=args.task_name,
            kill_grace_s=self.kill_grace_s,
            not_found_hint=f"Install via: {INSTALL_HINT}",
        )
        output = parse_codex_output(done.stdout)
        failed = done.exit_code != 0 or output.turn_failed
        if failed and rate_limit_in(done.stderr, *output.errors):
            raise CodexRateLimitError(done.stderr.strip() or "; ".join(output.errors))
        if done.exit_code != 0:
            detail = None if done.stderr.strip() else "; ".join(output.errors)
            raise CodexSubprocessError(done.exit_code, done.stderr, detail=detail)
        if is_permission_prompt(output.non_json):
            raise AgentHitlConflictError("unknown")
        if output.turn_failed:
            detail = "the turn failed: " + "; ".join(output.errors)
            raise CodexSubprocessError(0, done.stderr, detail=detail)
        return RunnerSpawnResult(
            stdout=output.text,
            session_handle=output.session_handle,
            tokens_in=output.tokens_in,
            tokens_out=output.tokens_out,
        )
