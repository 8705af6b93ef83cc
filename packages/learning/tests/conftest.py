"""Fixtures: anyio backends, and a small report workflow with a fake LLM behind it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import BaseModel

from ageflow.core import (
    RetryConfig,
    RunnerRegistry,
    RunnerSpawnArgs,
    define_agent,
    define_function,
    define_workflow,
    task,
)
from ageflow.core.workflow import WorkflowDef
from ageflow.learning import dependency_map
from ageflow.testing.scripted_runner import ScriptedRunner


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    # The in-memory stores only use anyio, so they run on both backends.
    return str(request.param)


# --- a small report workflow and a fake LLM behind it -------------------------------------
#
#   research, style -> write -> publish (a function: fails when the draft cites no source)
#   style -> tweet
#
# The fake research agent lists sources only when its system prompt carries a skill that
# says to cite them, so a skill learned for "research" fixes the failure at "publish".


# The test modules repeat this text: a conftest is not importable under importlib mode.
CITE_SKILL = "Cite every source you used, by its id."


class Topic(BaseModel):
    topic: str


class Notes(BaseModel):
    notes: str
    sources: list[str]


class Style(BaseModel):
    tone: str


class WriteIn(BaseModel):
    sources: list[str]
    tone: str


class Text(BaseModel):
    text: str


def build_report() -> WorkflowDef:
    def agent(input: Any, output: Any, prompt: Callable[[Any], str]) -> Any:
        return define_agent(
            runner="fake", input=input, output=output, prompt=prompt, retry=RetryConfig(max=1)
        )

    def publish(draft: Text) -> Text:
        if "[" not in draft.text:
            raise ValueError("the draft cites no sources")
        return Text(text=f"published: {draft.text}")

    return define_workflow(
        name="report",
        tasks={
            "research": task(agent(Topic, Notes, lambda t: f"Research {t.topic}")),
            "style": task(agent(Topic, Style, lambda t: f"Pick a tone for {t.topic}")),
            "write": task(
                agent(WriteIn, Text, lambda w: f"Write, citing: {','.join(w.sources)}"),
                depends_on=["research", "style"],
                input=lambda ctx: WriteIn(
                    sources=ctx["research"].output.sources, tone=ctx["style"].output.tone
                ),
            ),
            "publish": task(
                define_function(publish, input=Text, output=Text),
                depends_on=["write"],
                input=lambda ctx: ctx["write"].output,
            ),
            "tweet": task(
                agent(Style, Text, lambda s: f"Tweet in a {s.tone} tone"),
                depends_on=["style"],
                input=lambda ctx: ctx["style"].output,
            ),
        },
    )


@dataclass
class FakeLLM:
    """Answers the report's agents, and the reflection's with scripted JSON."""

    # Skill texts that make research cite its sources.
    citing: set[str] = field(default_factory=lambda: {CITE_SKILL})
    credit: dict[str, Any] | None = None
    drafts: dict[str, Any] | None = None

    def respond(self, args: RunnerSpawnArgs) -> str:
        system = args.system_prompt or ""
        name = args.task_name
        if name == "research":
            cites = any(text in system for text in self.citing)
            return json.dumps({"notes": "facts", "sources": ["src-1"] if cites else []})
        if name == "style":
            return json.dumps({"tone": "plain"})
        if name == "write":
            cited = args.prompt.split(":", 1)[1].strip()
            marks = "".join(f"[{s}]" for s in cited.split(",") if s)
            return json.dumps({"text": f"A report {marks}".strip()})
        if name == "tweet":
            return json.dumps({"text": "a tweet"})
        if name == "credit":
            assert self.credit is not None, "no credit answer scripted"
            return json.dumps(self.credit)
        if name == "draft":
            assert self.drafts is not None, "no drafts scripted"
            return json.dumps(self.drafts)
        raise AssertionError(f"unexpected task {name!r}")


@pytest.fixture
def llm() -> FakeLLM:
    return FakeLLM()


@pytest.fixture
def runner(llm: FakeLLM) -> ScriptedRunner:
    return ScriptedRunner(llm.respond)


@pytest.fixture
def registry(runner: ScriptedRunner) -> RunnerRegistry:
    return RunnerRegistry({"fake": runner})


@pytest.fixture
def report() -> WorkflowDef:
    return build_report()


@pytest.fixture
def report_dag(report: WorkflowDef) -> dict[str, dict[str, tuple[str, ...]]]:
    return {report.name: dependency_map(report)}
