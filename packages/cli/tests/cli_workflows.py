"""Workflow files the CLI tests write into their tmp_path (not a test module).

Each constant is the source of one workflow file. Function tasks append their name to
the file named by the ``AGEFLOW_TEST_CALLS`` environment variable, so a test can count
which steps really ran across processes.
"""

from __future__ import annotations

from pathlib import Path

COUNTING = """
import os

import anyio
from pydantic import BaseModel

from ageflow.core import Checkpoint, define_function, define_workflow, loop, task


class Text(BaseModel):
    text: str
    delay: float = 0


def record(name: str) -> None:
    path = os.environ.get("AGEFLOW_TEST_CALLS")
    if path:
        with open(path, "a", encoding="utf-8") as calls:
            calls.write(name + "\\n")


def clean(t: Text) -> Text:
    record("clean")
    return Text(text=t.text.strip(), delay=t.delay)


async def wait(t: Text) -> Text:
    record("wait:start")
    release = os.environ.get("AGEFLOW_TEST_RELEASE")
    if release:  # held until the test creates this file
        while not os.path.exists(release):
            await anyio.sleep(0.02)
    else:
        await anyio.sleep(t.delay)
    record("wait:end")
    return t


def shorten(t: Text) -> Text:
    record("shorten")
    return Text(text=t.text[:-1], delay=t.delay)


def shout(t: Text) -> Text:
    record("shout")
    return Text(text=t.text.upper())


workflow = define_workflow(
    name="counting",
    tasks={
        "clean": task(define_function(clean, input=Text, output=Text, name="clean")),
        "wait": task(
            define_function(wait, input=Text, output=Text, name="wait"),
            depends_on=["clean"],
            input=lambda ctx: ctx["clean"].output,
        ),
        "trim": loop(
            tasks={
                "shorten": task(
                    define_function(shorten, input=Text, output=Text, name="shorten"),
                    # First iteration: the loop's input; then the previous iteration's text.
                    input=lambda ctx: (
                        ctx.feedback["shorten"].output if ctx.feedback else ctx["wait"].output
                    ),
                )
            },
            max=5,
            until=lambda ctx: len(ctx["shorten"].output.text) <= 3,
            depends_on=["wait"],
            input=lambda ctx: ctx["wait"].output,
        ),
        "shout": task(
            define_function(shout, input=Text, output=Text, name="shout"),
            depends_on=["trim"],
            input=lambda ctx: ctx["trim"].output["shorten"].output,
            hitl=Checkpoint("Shout it?"),
        ),
    },
)
"""

PLAIN = """
from pydantic import BaseModel

from ageflow.core import define_function, define_workflow, task


class Text(BaseModel):
    text: str


def upper(t: Text) -> Text:
    if t.text == "boom":
        raise ValueError("cannot shout boom")
    return Text(text=t.text.upper())


workflow = define_workflow(
    name="plain",
    tasks={"upper": task(define_function(upper, input=Text, output=Text, name="upper"))},
)
"""

AGENT = '''
from pydantic import BaseModel

from ageflow.core import ValidateResult, define_agent, define_workflow, task
from ageflow.core.registry import register_runner


class Question(BaseModel):
    question: str
    tags: list[str]


class Answer(BaseModel):
    answer: str
    score: int


class HttpLikeRunner:
    """Registered under "api": never an executable on PATH (defect D38)."""

    async def validate(self) -> ValidateResult:
        return ValidateResult(ok=True, version="test")

    async def spawn(self, args):
        raise AssertionError("not called by validate or dry-run")


register_runner("api", HttpLikeRunner())

workflow = define_workflow(
    name="agentic",
    tasks={
        "ask": task(
            define_agent(
                runner="api",
                input=Question,
                output=Answer,
                prompt=lambda q: f"Answer {q.question} about {q.tags[0]}",
            )
        ),
        "broken": task(
            define_agent(runner="api", input=Question, output=Answer, prompt=lambda q: 1 / 0),
            depends_on=["ask"],
        ),
    },
)
'''

MISSING_RUNNER = """
from ageflow.core import define_agent, define_workflow, task

workflow = define_workflow(
    name="missing",
    tasks={
        "ask": task(define_agent(runner="no-such-runner-cli", input=str, output=str, prompt=str))
    },
)
"""


def write(directory: Path, name: str, source: str) -> Path:
    """``source`` written as ``directory/name``; returns the path."""
    path = directory / name
    path.write_text(source, encoding="utf-8")
    return path
