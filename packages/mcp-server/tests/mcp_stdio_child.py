"""A stdio MCP server process for the stdio transport tests (not a test module).

Usage: python mcp_stdio_child.py DB PIDFILE

Serves two function-task workflows in async mode on the SQLite job file DB: ``greet``
(no checkpoint) and ``review`` (its second task waits at a checkpoint). The process
writes its pid to PIDFILE before serving so a test can SIGKILL it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
from pydantic import BaseModel

from ageflow.core import Checkpoint, define_function, define_workflow, task
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server import create_mcp_server
from ageflow.mcp_server.stdio import serve_stdio


class Person(BaseModel):
    name: str


class Greeting(BaseModel):
    greeting: str


def greeting_workflow(name: str, *, checkpoint: bool) -> WorkflowDef:
    def hello(person: Person) -> Greeting:
        # A stray print from task code must not reach the protocol stream (stdout).
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
    )


async def main(db: str) -> None:
    server = create_mcp_server(
        [
            greeting_workflow("greet", checkpoint=False),
            greeting_workflow("review", checkpoint=True),
        ],
        name="stdio-test",
        async_mode=True,
        job_db_path=db,
    )
    await serve_stdio(server)


if __name__ == "__main__":
    Path(sys.argv[2]).write_text(str(os.getpid()))
    anyio.run(main, sys.argv[1])
