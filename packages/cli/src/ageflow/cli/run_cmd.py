"""``ageflow run WORKFLOW``: run a workflow here, showing its tasks as they go.

The run goes through the embeddable runner (ageflow.server). With ``--job-db`` it is
stored in a SQLite file as it goes, so after an interruption ``--resume RUN_ID``
continues it from its journal: finished tasks are restored, not run again. A
checkpoint pauses the run durably, then is asked at the terminal (or rejected when
nobody can answer).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from pydantic_core import to_jsonable_python
from rich.console import Console

from ageflow.cli.checkpoint_prompt import decide_checkpoint
from ageflow.cli.errors import CliError, UsageError
from ageflow.cli.loading import load_workflow
from ageflow.cli.params import WorkflowSpec
from ageflow.cli.run_input import parse_input
from ageflow.cli.run_view import RunView
from ageflow.cli.signals import until_signal
from ageflow.core.events import CheckpointEvent, RunHandle, WorkflowEvent
from ageflow.core.wire import compact_json
from ageflow.core.workflow import WorkflowDef
from ageflow.server import (
    InMemoryRunStore,
    RunNotFoundError,
    RunOwnedElsewhereError,
    RunPolicy,
    RunStore,
    UnknownWorkflowError,
    WorkflowRunner,
    create_runner,
)
from ageflow.server_sqlite import SqliteRunStore

INTERRUPTED_EXIT_CODE = 130


class RunInterrupted(CliError):
    """The user stopped the run (Ctrl-C or SIGTERM)."""

    exit_code = INTERRUPTED_EXIT_CODE


def run(
    workflow: WorkflowSpec,
    input: Annotated[
        str | None,
        typer.Option("--input", help="The run input: JSON, or @path to a JSON file."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print events as JSON lines instead of the view.")
    ] = False,
    job_db: Annotated[
        Path | None,
        typer.Option("--job-db", help="Store the run in this SQLite file so it can resume."),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option("--resume", metavar="RUN_ID", help="Continue a stored run (with --job-db)."),
    ] = None,
) -> None:
    """Run a workflow and print its result as JSON."""
    if resume is not None and job_db is None:
        raise UsageError("--resume requires --job-db (the file the run is stored in)")
    if resume is not None and input is not None:
        raise UsageError("--input cannot be used with --resume: the run keeps its stored input")
    value = parse_input(input)
    definition = load_workflow(workflow)
    outcome = anyio.run(_run, definition, value, as_json, job_db, resume, workflow)
    if outcome.state != "done":
        reason = outcome.error.message if outcome.error is not None else outcome.state
        name = f"{outcome.error.name}: " if outcome.error is not None else ""
        raise CliError(f"run {outcome.run_id} {outcome.state}: {name}{reason}")
    if not as_json:
        assert outcome.result is not None
        print(json.dumps(to_jsonable_python(outcome.result.outputs), indent=2))


@asynccontextmanager
async def _open_store(job_db: Path | None) -> AsyncIterator[RunStore]:
    if job_db is None:
        yield InMemoryRunStore()
        return
    job_db.parent.mkdir(parents=True, exist_ok=True)
    async with SqliteRunStore(job_db) as store:
        yield store


async def _run(
    workflow: WorkflowDef,
    value: Any,
    as_json: bool,
    job_db: Path | None,
    resume: str | None,
    spec: str,
) -> RunHandle:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    checkpoints, arrivals = anyio.create_memory_object_stream[CheckpointEvent](math.inf)
    with RunView(err, live=err.is_terminal and not as_json) as view:
        show = _print_json_line if as_json else view.on_event

        def on_event(event: WorkflowEvent) -> None:
            if isinstance(event, CheckpointEvent):  # first: showing it may fail
                checkpoints.send_nowait(event)
            show(event)

        async with _open_store(job_db) as store, create_runner(store=store) as runner:
            handle = await _start(runner, workflow, value, resume, on_event)
            if job_db is not None:
                err.print(
                    f"run {handle.run_id} (durable in {job_db}; continue it with "
                    f"`ageflow run {spec} --job-db {job_db} --resume {handle.run_id}`)",
                    style="dim",
                )

            async def follow() -> None:
                async with anyio.create_task_group() as group:
                    group.start_soon(_close_when_finished, runner, handle.run_id, checkpoints)
                    await _answer_checkpoints(runner, handle.run_id, arrivals, view)
                    group.cancel_scope.cancel()

            if await until_signal(follow):
                raise RunInterrupted(
                    f"interrupted; run {handle.run_id} "
                    + ("is stored and can resume" if job_db else "is lost (no --job-db)")
                )
            final = await runner.get(handle.run_id)
    assert final is not None
    return final


async def _start(
    runner: WorkflowRunner,
    workflow: WorkflowDef,
    value: Any,
    resume: str | None,
    on_event: Callable[[WorkflowEvent], None],
) -> RunHandle:
    if resume is None:
        # "pause" stores the waiting checkpoint first, so a run killed while a person
        # decides comes back waiting at the same place.
        return await runner.fire(workflow, value, on_event=on_event, policy=RunPolicy())
    try:
        return await runner.recover_run(workflow, resume, on_event=on_event)
    except RunNotFoundError as exc:
        raise CliError(f"--resume {resume}: no such run in the job file") from exc
    except UnknownWorkflowError as exc:
        raise CliError(
            f'--resume {resume}: the run belongs to workflow "{exc.workflow_name}", '
            f'not "{workflow.name}"'
        ) from exc
    except RunOwnedElsewhereError as exc:
        raise CliError(
            f"--resume {resume}: another live process ({exc.owner}) is running it"
        ) from exc


async def _close_when_finished(
    runner: WorkflowRunner, run_id: str, checkpoints: MemoryObjectSendStream[CheckpointEvent]
) -> None:
    await runner.wait(run_id)
    checkpoints.close()


async def _answer_checkpoints(
    runner: WorkflowRunner,
    run_id: str,
    arrivals: MemoryObjectReceiveStream[CheckpointEvent],
    view: RunView,
) -> None:
    """Answer each checkpoint the run reaches, in order, until the run ends.

    Following the events (not the state) answers every checkpoint exactly once, even
    when one comes right after another.
    """
    async for checkpoint in arrivals:
        with view.paused():
            approved = await decide_checkpoint(checkpoint.task_name, checkpoint.message)
        # The event comes just before the pause is stored; resume needs the stored pause.
        handle = await runner.wait_for(run_id, "awaiting-checkpoint")
        if handle is not None and handle.state == "awaiting-checkpoint":
            await runner.resume(run_id, approved)


def _print_json_line(event: WorkflowEvent) -> None:
    try:
        sys.stdout.write(compact_json(event.to_wire()) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (`| head -1`): stop printing, let the run finish as usual.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
