"""A server process for the crash tests: runs workflows on a SQLite file, reports on stdout.

Usage:
  python crash_child.py DB LOG start RUNS [--hold TASK | --hold-after TASK | --pause]
  python crash_child.py DB LOG recover [--approve]

``start`` fires RUNS runs (inputs "in-0", "in-1", ...) and, depending on the option,
holds every run inside TASK's runner call (mid-task), holds after TASK's step is committed
(between tasks), or lets them reach the checkpoint; it prints one line per event the test
waits for and then waits to be killed. ``recover`` recovers every unfinished run,
approves pending checkpoints with --approve, waits for all to end and prints each run's
final handle as a JSON line. Every runner call is appended to LOG as
{"pid", "run", "task"} before it answers, so the test can count calls per step.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

import anyio
from pydantic import BaseModel

from ageflow.core import (
    Checkpoint,
    RetryConfig,
    RunnerRegistry,
    RunnerSpawnArgs,
    RunnerSpawnResult,
    ValidateResult,
    WorkflowHooks,
    define_agent,
    define_workflow,
    task,
)
from ageflow.server import RunPolicy, create_runner
from ageflow.server_sqlite import SqliteRunStore


class Text(BaseModel):
    text: str


def say(line: str) -> None:
    print(line, flush=True)


class LoggingRunner:
    """Appends each call to the log, then answers deterministically from the prompt."""

    def __init__(self, log: str, hold: str | None) -> None:
        self.log = log
        self.hold = hold

    async def validate(self) -> ValidateResult:
        return ValidateResult(ok=True)

    def _append(self, line: str) -> None:
        with open(self.log, "a") as log:
            log.write(line + "\n")
            log.flush()
            os.fsync(log.fileno())

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        task_name, _, payload = args.prompt.partition("|")
        run = re.search(r"in-\d+", payload).group(0)  # type: ignore[union-attr]
        entry = json.dumps({"pid": os.getpid(), "run": run, "task": task_name})
        await anyio.to_thread.run_sync(self._append, entry)
        if task_name == self.hold:
            say(f"HOLDING {run} {task_name}")
            await anyio.sleep_forever()
        return RunnerSpawnResult(
            stdout=json.dumps({"text": f"{task_name}<{payload}>"}), tokens_in=3, tokens_out=5
        )


def build_workflow(hold_after: str | None = None) -> Any:
    def agent(name: str) -> Any:
        # The run's input travels at the front of every prompt so the log can name the run.
        return define_agent(
            runner="logged",
            input=Text,
            output=Text,
            prompt=lambda t, n=name: f"{n}|{t.text}",
            retry=RetryConfig(max=1),
        )

    async def after_complete(task_name: str, _output: Any, _metrics: Any) -> None:
        if task_name == hold_after:
            say(f"COMMITTED {task_name}")
            await anyio.sleep_forever()

    return define_workflow(
        name="crashy",
        tasks={
            "a": task(agent("a")),
            "b": task(agent("b"), depends_on=["a"], input=lambda c: c["a"].output),
            "gate": task(
                agent("gate"),
                depends_on=["b"],
                input=lambda c: c["b"].output,
                hitl=Checkpoint("continue?"),
            ),
            "c": task(agent("c"), depends_on=["gate"], input=lambda c: c["gate"].output),
        },
        hooks=WorkflowHooks(on_task_complete=after_complete),
    )


async def start(db: str, log: str, runs: int, option: str | None, target: str | None) -> None:
    hold = target if option == "--hold" else None
    hold_after = target if option == "--hold-after" else None
    registry = RunnerRegistry({"logged": LoggingRunner(log, hold)})
    workflow = build_workflow(hold_after)
    # Pause at the checkpoint only when the test wants the run waiting there.
    policy = RunPolicy(checkpoint="pause" if option == "--pause" else "approve")
    async with SqliteRunStore(db) as store, create_runner(store=store, registry=registry) as runner:
        handles = [
            await runner.fire(workflow, {"text": f"in-{i}"}, policy=policy) for i in range(runs)
        ]
        for handle in handles:
            say(f"STARTED {handle.run_id}")
        if option == "--pause":
            for handle in handles:
                await runner.wait_for(handle.run_id, "awaiting-checkpoint")
                say(f"AWAITING {handle.run_id}")
        if option is None:
            for handle in handles:
                final = await runner.wait(handle.run_id)
                say("FINAL " + json.dumps(final.to_wire() if final else None))
            return
        await anyio.sleep_forever()


async def recover(db: str, log: str, approve: bool) -> None:
    registry = RunnerRegistry({"logged": LoggingRunner(log, None)})
    async with SqliteRunStore(db) as store, create_runner(store=store, registry=registry) as runner:
        recovered = await runner.recover(build_workflow())
        say(f"RECOVERED {len(recovered)}")
        for run_id in recovered:
            handle = await runner.get(run_id)
            if approve and handle is not None and handle.state == "awaiting-checkpoint":
                await runner.resume(run_id, True)
        for run_id in recovered:
            final = await runner.wait(run_id)
            say("FINAL " + json.dumps(final.to_wire() if final else None))


def main() -> None:
    db, log, mode, *rest = sys.argv[1:]
    if mode == "start":
        runs = int(rest[0])
        option = rest[1] if len(rest) > 1 else None
        target = rest[2] if len(rest) > 2 else None
        anyio.run(start, db, log, runs, option, target)
    else:
        anyio.run(recover, db, log, "--approve" in rest)


if __name__ == "__main__":
    main()
