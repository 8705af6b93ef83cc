"""The workflow ``ageflow mcp serve`` offers in the Tasks-extension tests (not a test module).

``TASKS_TEST_SHAPE`` picks it: ``job`` (default) runs ``prepare`` then ``work``; ``work``
fails with a typed error for ``fail: true`` and, for ``hold: true``, stays in flight until
the file ``<markers>/release`` exists. ``review`` runs ``greet`` then ``shout`` behind the
checkpoint "Ship it?". ``TASKS_TEST_REQUIRED=1`` makes the tool task-only. Every step
appends the server's pid to ``<markers>/<step>`` (``TASKS_TEST_MARKERS``) when it starts,
so a test counts how often each step ran, across processes.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from pydantic import BaseModel

from ageflow.core import Checkpoint, define_function, define_workflow, task

MARKERS = Path(os.environ.get("TASKS_TEST_MARKERS", "."))


class Order(BaseModel):
    name: str
    fail: bool = False
    hold: bool = False


class Greeting(BaseModel):
    greeting: str


def mark(step: str) -> None:
    with (MARKERS / step).open("a") as out:
        out.write(f"{os.getpid()}\n")


def prepare(order: Order) -> Order:
    mark("prepare")
    return Order(name=order.name.upper(), fail=order.fail, hold=order.hold)


async def work(order: Order) -> Greeting:
    mark("work")
    while order.hold and not (MARKERS / "release").exists():  # noqa: ASYNC110 (another process)
        await anyio.sleep(0.02)
    if order.fail:
        raise RuntimeError(f"work failed for {order.name}")
    return Greeting(greeting=f"done for {order.name}")


def greet(order: Order) -> Greeting:
    mark("greet")
    return Greeting(greeting=f"Hello, {order.name}!")


def shout(greeting: Greeting) -> Greeting:
    mark("shout")
    return Greeting(greeting=greeting.greeting.upper())


_mcp = {"task_support": "required"} if os.environ.get("TASKS_TEST_REQUIRED") == "1" else None

if os.environ.get("TASKS_TEST_SHAPE", "job") == "review":
    workflow = define_workflow(
        name="review",
        mcp=_mcp,
        tasks={
            "greet": task(define_function(greet, input=Order, output=Greeting)),
            "shout": task(
                define_function(shout, input=Greeting, output=Greeting),
                depends_on=["greet"],
                input=lambda ctx: ctx["greet"].output,
                hitl=Checkpoint("Ship it?"),
            ),
        },
    )
else:
    workflow = define_workflow(
        name="job",
        mcp=_mcp,
        tasks={
            "prepare": task(define_function(prepare, input=Order, output=Order)),
            "work": task(
                define_function(work, input=Order, output=Greeting),
                depends_on=["prepare"],
                input=lambda ctx: ctx["prepare"].output,
            ),
        },
    )
