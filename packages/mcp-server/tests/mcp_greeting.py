"""The greeting workflow the MCP server tests and their child processes serve (not a test).

``greet`` says hello to a ``Person``; ``shout`` upper-cases it, after the approval
checkpoint "Shout it?" when ``checkpoint`` is set.
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


def greeting_workflow(name: str = "greet", *, checkpoint: bool = False, **mcp: Any) -> WorkflowDef:
    """Two function tasks; ``mcp`` options, when given, become the workflow's ``mcp``."""
    greet = define_function(
        lambda p: Greeting(greeting=f"Hello, {p.name}!"), input=Person, output=Greeting
    )
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
