"""A durable run survives a SIGKILL: the server process dies while a run waits for
approval, a new process recovers it from the SQLite journal and finishes it.

    python examples/durable_restart.py

No LLM and no network: the workflow's steps are plain functions that record each call,
so the transcript can show that finished steps are not run again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio

from ageflow.core import Checkpoint, FunctionDef, define_function, define_workflow, task
from ageflow.server import create_runner
from ageflow.server_sqlite import SqliteRunStore

CALLS = Path(os.environ.get("EXAMPLE_CALLS", "calls.log"))


def step(name: str) -> FunctionDef[str, str]:
    def run(text: str) -> str:
        with CALLS.open("a") as log:
            log.write(f"{name} (pid {os.getpid()})\n")
        return f"{text} -> {name}"

    return define_function(run, input=str, output=str, name=name)


workflow = define_workflow(
    name="publish",
    tasks={
        "draft": task(step("draft")),
        "edit": task(step("edit"), depends_on=["draft"], input=lambda c: c["draft"].output),
        "publish": task(
            step("publish"),
            depends_on=["edit"],
            input=lambda c: c["edit"].output,
            hitl=Checkpoint("Publish this article?"),
        ),
    },
)


async def serve(db: str) -> None:
    """First process: start a run and wait at the checkpoint until killed."""
    async with SqliteRunStore(db) as store, create_runner(store=store) as runner:
        handle = await runner.fire(workflow, "an idea")
        waiting = await runner.wait_for(handle.run_id, "awaiting-checkpoint")
        assert waiting is not None
        assert waiting.pending_checkpoint is not None
        print(json.dumps({"run": handle.run_id, "asks": waiting.pending_checkpoint.message}))
        sys.stdout.flush()
        await anyio.sleep_forever()


async def recover(db: str) -> None:
    """Second process: recover, approve, and print the result."""
    async with SqliteRunStore(db) as store, create_runner(store=store) as runner:
        for run_id in await runner.recover(workflow):
            handle = await runner.get(run_id)
            print(f"  recovered {run_id[:8]}: state {handle.state if handle else '?'}")
            await runner.resume(run_id, True)
            done = await runner.wait(run_id)
            assert done is not None
            assert done.result is not None
            print(f"  approved; state {done.state}; output: {done.result.outputs['publish']}")


def main() -> None:
    if len(sys.argv) == 3:
        anyio.run(serve if sys.argv[1] == "serve" else recover, sys.argv[2])
        return
    with tempfile.TemporaryDirectory() as tmp:
        db, calls = str(Path(tmp) / "runs.sqlite"), Path(tmp) / "calls.log"
        env = {**os.environ, "EXAMPLE_CALLS": str(calls)}
        print("1. A server process starts the run; it pauses for approval.")
        first = subprocess.Popen(
            [sys.executable, __file__, "serve", db], stdout=subprocess.PIPE, text=True, env=env
        )
        assert first.stdout is not None
        info = json.loads(first.stdout.readline())
        print(f"  run {info['run'][:8]} asks: {info['asks']}")
        print(f"2. SIGKILL the server (pid {first.pid}) while it waits.")
        first.send_signal(signal.SIGKILL)
        first.wait()
        print("3. A new server process recovers the run from the SQLite journal.")
        done = subprocess.run(
            [sys.executable, __file__, "recover", db], capture_output=True, text=True, env=env
        )
        print(done.stdout.rstrip())
        if done.returncode:
            print(done.stderr)
            sys.exit(done.returncode)
        print("4. Every step ran exactly once across both processes:")
        print("  " + "\n  ".join(calls.read_text().splitlines()))


if __name__ == "__main__":
    main()
