"""A store that is never closed: the process still exits, with a ResourceWarning."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    import anyio
    from pydantic import BaseModel

    from ageflow.core import (
        RunnerRegistry, RunnerSpawnArgs, RunnerSpawnResult, ValidateResult,
        define_agent, define_workflow, task,
    )
    from ageflow.server import create_runner
    from ageflow.server_sqlite import SqliteRunStore


    class Text(BaseModel):
        text: str


    class Echo:
        async def validate(self) -> ValidateResult:
            return ValidateResult(ok=True)

        async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
            return RunnerSpawnResult(stdout=json.dumps({"text": args.prompt}))


    agent = define_agent(runner="echo", input=Text, output=Text, prompt=lambda t: t.text)
    workflow = define_workflow(
        name="unclosed",
        tasks={
            "a": task(agent),
            "b": task(agent, depends_on=["a"], input=lambda c: c["a"].output),
        },
    )


    async def main() -> None:
        store = SqliteRunStore(sys.argv[1])  # never closed, as a new user might write it
        registry = RunnerRegistry({"echo": Echo()})
        async with create_runner(store=store, registry=registry) as runner:
            await runner.run(workflow, {"text": "hi"})
        print("MAIN RETURNED", flush=True)


    anyio.run(main)
    """
)


def test_an_unclosed_store_lets_the_process_exit_and_warns(tmp_path: Path) -> None:
    script = tmp_path / "unclosed.py"
    script.write_text(SCRIPT)
    db = tmp_path / "runs.sqlite"
    # A hang shows as TimeoutExpired; the generous limit is for a slow machine, not a measure.
    done = subprocess.run(
        [sys.executable, "-W", "always::ResourceWarning", str(script), str(db)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    assert "MAIN RETURNED" in done.stdout
    assert "ResourceWarning" in done.stderr
    assert "SqliteRunStore" in done.stderr and "was not closed" in done.stderr
    # What the run committed is in the file.
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM steps").fetchone()[0] == 2
