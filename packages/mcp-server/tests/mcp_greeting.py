"""The greeting workflow the MCP server tests and their child processes serve (not a test).

``greet`` says hello to a ``Person``; ``shout`` upper-cases it, after the approval
checkpoint "Shout it?" when ``checkpoint`` is set. Child processes run from this folder,
so they import it too.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from ageflow.core import Checkpoint, define_function, define_workflow, task
from ageflow.core.workflow import WorkflowDef


class Person(BaseModel):
    name: str


class Greeting(BaseModel):
    greeting: str


def greeting_workflow(
    name: str = "greet", *, checkpoint: bool = False, stray_print: bool = False, **mcp: Any
) -> WorkflowDef:
    """Two function tasks; ``mcp`` options, when given, become the workflow's ``mcp``.
    With ``stray_print``, ``greet`` prints to stdout (which must never reach a stdio
    protocol stream)."""

    def hello(person: Person) -> Greeting:
        if stray_print:
            print(f"stray output of {name}")
        return Greeting(greeting=f"Hello, {person.name}!")

    greet = define_function(hello, input=Person, output=Greeting)
    shout = define_function(
        lambda g: Greeting(greeting=g.greeting.upper()), input=Greeting, output=Greeting
    )
    return define_workflow(
        name=name,
        tasks={
            "greet": task(greet),
            "shout": task(
                shout,
                depends_on=["greet"],
                input=lambda ctx: ctx["greet"].output,
                hitl=Checkpoint("Shout it?") if checkpoint else None,
            ),
        },
        mcp=mcp or None,
    )
