"""Sample workflows for testing runners end to end."""

from __future__ import annotations

from pydantic import BaseModel

from ageflow.core import (
    RetryConfig,
    WorkflowDef,
    define_agent,
    define_workflow,
    session_token,
    share_session_with,
    task,
)


class Topic(BaseModel):
    topic: str


class Draft(BaseModel):
    draft: str


class Review(BaseModel):
    verdict: str


def write_review_workflow(runner: str, model: str | None = None) -> WorkflowDef:
    """Two agents of one runner: ``write`` drafts, ``review`` continues its session.

    ``write`` retries a failed CLI call once (``subprocess_error``), so a runner test can
    show a retried failure too. Prompts start with WRITE / REVIEW for routing fakes.
    """
    writer = define_agent(
        runner=runner,
        model=model,
        input=Topic,
        output=Draft,
        prompt=lambda t: f"WRITE a draft about {t.topic}",
        retry=RetryConfig(max=2, on=["subprocess_error"]),
    )
    reviewer = define_agent(
        runner=runner,
        input=Draft,
        output=Review,
        prompt=lambda d: f"REVIEW this draft: {d.draft}",
    )
    return define_workflow(
        name="write-review",
        tasks={
            "write": task(writer, session=session_token("draft", runner)),
            "review": task(
                reviewer,
                depends_on=["write"],
                input=lambda ctx: Draft(draft=ctx["write"].output.draft),
                session=share_session_with("write"),
            ),
        },
    )
