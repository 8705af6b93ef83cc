"""A stdio MCP server process for the two-job restart test (not a test module).

Usage: python mcp_restart_child.py DB PIDFILE MARKERS

Serves two function-task workflows in async mode on the SQLite job file DB, with room
for two jobs at once:

* ``slow``: ``prepare`` then ``work``; ``work`` stays in flight until the file
  MARKERS/release exists.
* ``review``: ``greet`` then ``shout``, which waits at a checkpoint.

Every task appends a line to MARKERS/<workflow>.<task> when it starts, so a test can
count how often each step ran across processes. The pid goes to PIDFILE before serving
so a test can SIGKILL the process.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from mcp_greeting import Greeting, Person

from ageflow.core import Checkpoint, define_function, define_workflow, task
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server import ConcurrencyConfig, create_mcp_server
from ageflow.mcp_server.stdio import serve_stdio


def mark(markers: Path, step: str) -> None:
    with (markers / step).open("a") as out:
        out.write(f"{os.getpid()}\n")


def slow_workflow(markers: Path) -> WorkflowDef:
    def prepare(person: Person) -> Person:
        mark(markers, "slow.prepare")
        return Person(name=person.name.upper())

    async def work(person: Person) -> Greeting:
        mark(markers, "slow.work")
        # Held in flight until the test releases it; polling a file keeps the child simple.
        while True:
            if (markers / "release").exists():
                break
            await anyio.sleep(0.02)
        return Greeting(greeting=f"worked for {person.name}")

    return define_workflow(
        name="slow",
        tasks={
            "prepare": task(define_function(prepare, input=Person, output=Person)),
            "work": task(
                define_function(work, input=Person, output=Greeting),
                depends_on=["prepare"],
                input=lambda ctx: ctx["prepare"].output,
            ),
        },
    )


def review_workflow(markers: Path) -> WorkflowDef:
    def greet(person: Person) -> Greeting:
        mark(markers, "review.greet")
        return Greeting(greeting=f"Hello, {person.name}!")

    def shout(greeting: Greeting) -> Greeting:
        mark(markers, "review.shout")
        return Greeting(greeting=greeting.greeting.upper())

    return define_workflow(
        name="review",
        tasks={
            "greet": task(define_function(greet, input=Person, output=Greeting)),
            "shout": task(
                define_function(shout, input=Greeting, output=Greeting),
                depends_on=["greet"],
                input=lambda ctx: ctx["greet"].output,
                hitl=Checkpoint("Shout it?"),
            ),
        },
    )


async def main(db: str, markers: Path) -> None:
    server = create_mcp_server(
        [slow_workflow(markers), review_workflow(markers)],
        name="restart-test",
        async_mode=True,
        job_db_path=db,
        concurrency=ConcurrencyConfig(max_concurrent_jobs=2),
    )
    await serve_stdio(server)


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(str(os.getpid()))
    anyio.run(main, sys.argv[1], Path(sys.argv[3]))
