"""Triage a GitHub issue with Claude (through the ``claude`` CLI), then route it in code.

    classify (agent, claude) -> route (function)

The agent only reads the issue text in its prompt, so it gets no tools at all
(``tools=[]`` becomes ``claude --tools ""``). Its answer is validated against ``Triage``;
an answer that does not fit is retried. ``route`` turns the verdict into a team, labels and
a paging decision with plain rules, so the part that matters for on-call is not left to
the model.

Set ``AGEFLOW_CLAUDE_MODEL`` (e.g. ``sonnet``) to pick a model; by default the CLI's own.
"""

import os
from typing import Literal

from pydantic import BaseModel, Field

from ageflow.core import RetryConfig, define_agent, define_function, define_workflow, task
from ageflow.core.registry import register_runner
from ageflow.runners.claude import ClaudeRunner

register_runner("claude", ClaudeRunner())

TEAMS = {"bug": "engineering", "feature": "product", "question": "support"}


class Issue(BaseModel):
    title: str = Field(min_length=1, max_length=200, description="Issue title")
    body: str = Field(default="", max_length=20_000, description="Issue description")


class Triage(BaseModel):
    kind: Literal["bug", "feature", "question"]
    severity: int = Field(ge=1, le=4, description="1 = critical, 4 = cosmetic")
    summary: str = Field(min_length=1, max_length=200, description="One sentence")


class Routing(BaseModel):
    team: str
    labels: list[str]
    page_on_call: bool
    summary: str


def triage_prompt(issue: Issue) -> str:
    return (
        "Triage this GitHub issue. Decide whether it is a bug, a feature request or a "
        "question; rate its severity from 1 (critical: data loss, outage, security) to 4 "
        "(cosmetic); and summarise it in one sentence.\n\n"
        f"Title: {issue.title}\n\n{issue.body}"
    )


classify = define_agent(
    runner="claude",
    model=os.environ.get("AGEFLOW_CLAUDE_MODEL") or None,
    input=Issue,
    output=Triage,
    prompt=triage_prompt,
    tools=[],  # reading the prompt needs no tool: deny all of them
    retry=RetryConfig(max=2, on=["subprocess_error", "output_validation_error", "rate_limit"]),
    timeout_ms=180_000,
)


@define_function(input=Triage, output=Routing)
def route(triage: Triage) -> Routing:
    return Routing(
        team=TEAMS[triage.kind],
        labels=[triage.kind, f"severity-{triage.severity}"],
        page_on_call=triage.kind == "bug" and triage.severity == 1,
        summary=triage.summary,
    )


workflow = define_workflow(
    name="triage_issue",
    description="Classify a GitHub issue with Claude and route it to a team.",
    tasks={
        "classify": task(classify),  # the root: receives the workflow input
        "route": task(route, depends_on=["classify"], input=lambda ctx: ctx["classify"].output),
    },
)
