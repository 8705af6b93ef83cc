"""A workflow file for the ``mcp serve`` tests (not a test module; copied into tmp_path).

Two function tasks: ``greet`` builds a greeting from the input, ``shout`` upper-cases it.
"""

from __future__ import annotations

from pydantic import BaseModel

from ageflow.core import define_function, define_workflow, task


class Person(BaseModel):
    name: str


class Greeting(BaseModel):
    greeting: str


def hello(person: Person) -> Greeting:
    # Stray output of task code must never reach the protocol stream (stdout).
    print(f"stray output while greeting {person.name}")
    return Greeting(greeting=f"Hello, {person.name}!")


def louder(greeting: Greeting) -> Greeting:
    return Greeting(greeting=greeting.greeting.upper())


workflow = define_workflow(
    name="greet",
    tasks={
        "greet": task(define_function(hello, input=Person, output=Greeting)),
        "shout": task(
            define_function(louder, input=Greeting, output=Greeting),
            depends_on=["greet"],
            input=lambda ctx: ctx["greet"].output,
        ),
    },
)
