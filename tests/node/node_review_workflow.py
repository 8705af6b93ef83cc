"""The workflow the node clients call (not a test module; served by ``ageflow mcp serve``).

``greet`` builds a greeting; ``shout`` upper-cases it after the checkpoint "Shout it?".
The workflow's name comes from ``NODE_TEST_WORKFLOW_NAME`` (default ``review``), so the
conformance suite's scenarios can find it under the tool name they call.
"""

from __future__ import annotations

import os

from pydantic import BaseModel

from ageflow.core import Checkpoint, define_function, define_workflow, task


class Person(BaseModel):
    name: str


class Greeting(BaseModel):
    greeting: str


def hello(person: Person) -> Greeting:
    return Greeting(greeting=f"Hello, {person.name}!")


def louder(greeting: Greeting) -> Greeting:
    return Greeting(greeting=greeting.greeting.upper())


workflow = define_workflow(
    name=os.environ.get("NODE_TEST_WORKFLOW_NAME", "review"),
    tasks={
        "greet": task(define_function(hello, input=Person, output=Greeting)),
        "shout": task(
            define_function(louder, input=Greeting, output=Greeting),
            depends_on=["greet"],
            input=lambda ctx: ctx["greet"].output,
            hitl=Checkpoint("Shout it?"),
        ),
    },
)
