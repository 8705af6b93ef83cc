"""Write a commit message for a diff with Codex (through ``codex exec``).

    draft (agent, codex) -> format (function)

The diff travels in the prompt and Codex runs in a read-only sandbox: it may look around
the working directory for context but cannot change anything. Its answer is validated
against ``CommitParts`` (a Conventional Commits type, a subject of at most 72 characters);
``format`` joins the parts into the message text.

Set ``AGEFLOW_CODEX_MODEL`` (e.g. ``gpt-5``) to pick a model; by default the CLI's own.
"""

import os
from typing import Literal

from pydantic import BaseModel, Field

from ageflow.core import (
    RetryConfig,
    TaskContext,
    define_agent,
    define_function,
    define_workflow,
    task,
)
from ageflow.core.registry import register_runner
from ageflow.runners.codex import CodexRunner

# read-only: the agent only has to read; skip_git_repo_check: it may run outside a repo.
register_runner("codex", CodexRunner(sandbox="read-only", skip_git_repo_check=True))


class Change(BaseModel):
    diff: str = Field(min_length=1, max_length=100_000, description="A unified diff")
    scope: str | None = Field(
        default=None, max_length=40, pattern=r"^[\w./-]+$", description="Optional scope"
    )


class CommitParts(BaseModel):
    type: Literal["feat", "fix", "docs", "refactor", "test", "perf", "build", "chore"]
    subject: str = Field(min_length=1, max_length=72, description="Imperative, no full stop")
    body: str = Field(default="", description="Why the change was made; may be empty")


class CommitMessage(BaseModel):
    message: str
    subject_line: str


def commit_prompt(change: Change) -> str:
    scope = f" Use the scope {change.scope!r}." if change.scope else ""
    return (
        "Write a Conventional Commits message for this diff: a type, an imperative subject "
        "of at most 72 characters without a trailing full stop, and a short body that says "
        f"why, not what.{scope}\n\n```diff\n{change.diff}\n```"
    )


draft = define_agent(
    runner="codex",
    model=os.environ.get("AGEFLOW_CODEX_MODEL") or None,
    input=Change,
    output=CommitParts,
    prompt=commit_prompt,
    retry=RetryConfig(max=2, on=["subprocess_error", "output_validation_error", "rate_limit"]),
    timeout_ms=300_000,
)


class FormatInput(BaseModel):
    parts: CommitParts
    scope: str | None = None


@define_function(input=FormatInput, output=CommitMessage, name="format")
def format_commit(value: FormatInput) -> CommitMessage:
    head = f"{value.parts.type}({value.scope})" if value.scope else value.parts.type
    subject_line = f"{head}: {value.parts.subject.rstrip('.')}"
    body = value.parts.body.strip()
    return CommitMessage(
        message=f"{subject_line}\n\n{body}\n" if body else f"{subject_line}\n",
        subject_line=subject_line,
    )


def format_input(ctx: TaskContext) -> FormatInput:
    # The scope comes from the workflow input; the agent only wrote the parts.
    return FormatInput(parts=ctx["draft"].output, scope=Change.model_validate(ctx.input).scope)


workflow = define_workflow(
    name="commit_message",
    description="Write a Conventional Commits message for a diff with Codex.",
    tasks={
        "draft": task(draft),  # the root: receives the workflow input
        "format": task(
            format_commit,
            depends_on=["draft"],
            input=format_input,
        ),
    },
)
