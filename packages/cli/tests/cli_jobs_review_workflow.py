"""A workflow file for the job tests (not a test module; copied into tmp_path).

``greet`` builds a greeting from the input; ``shout`` upper-cases it after a checkpoint.
Every run of ``greet`` appends a line to the file named by ``CLI_TEST_GREET_LOG`` (when
set), so a test can tell that a resumed job did not run its finished step again.
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
    log = os.environ.get("CLI_TEST_GREET_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as file:
            file.write(person.name + "\n")
    return Greeting(greeting=f"Hello, {person.name}!")


def louder(greeting: Greeting) -> Greeting:
    return Greeting(greeting=greeting.greeting.upper())


workflow = define_workflow(
    name="review",
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
