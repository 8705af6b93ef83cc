"""A workflow file for the replica tests (not a test module): ``ageflow mcp serve`` loads it.

``prepare`` then ``work`` then ``finish``, which waits at a checkpoint. ``work`` stays in
flight until the file ``<markers>/release-<name>`` (or ``<markers>/release-all``) exists.
Each step appends ``<pid> <name>`` to ``<markers>/<step>`` when it starts, so a test counts
how often, and where, each job's steps ran. The markers folder is ``REPLICA_MARKERS``;
the server writes its pid to ``REPLICA_PID_FILE`` when it loads this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
from pydantic import BaseModel

from ageflow.core import Checkpoint, define_function, define_workflow, task

MARKERS = Path(os.environ["REPLICA_MARKERS"])
Path(os.environ["REPLICA_PID_FILE"]).write_text(str(os.getpid()))


class Job(BaseModel):
    name: str


class Done(BaseModel):
    summary: str


def mark(step: str, job: Job) -> None:
    with (MARKERS / step).open("a") as out:
        out.write(f"{os.getpid()} {job.name}\n")


def prepare(job: Job) -> Job:
    mark("prepare", job)
    return job


async def work(job: Job) -> Job:
    mark("work", job)
    while not (MARKERS / f"release-{job.name}").exists():
        if (MARKERS / "release-all").exists():
            break
        await anyio.sleep(0.02)
    return job


def finish(job: Job) -> Done:
    mark("finish", job)
    return Done(summary=f"{job.name} done")


workflow = define_workflow(
    name="replica",
    tasks={
        "prepare": task(define_function(prepare, input=Job, output=Job)),
        "work": task(
            define_function(work, input=Job, output=Job),
            depends_on=["prepare"],
            input=lambda ctx: ctx["prepare"].output,
        ),
        "finish": task(
            define_function(finish, input=Job, output=Done),
            depends_on=["work"],
            input=lambda ctx: ctx["work"].output,
            hitl=Checkpoint("Finish it?"),
        ),
    },
)
