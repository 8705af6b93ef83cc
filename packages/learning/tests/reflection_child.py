"""A process for the durable reflection test: reflection on a server runner over SQLite.

Usage: python reflection_child.py DIR start|recover

DIR holds runs.sqlite (the server's RunStore), learning.sqlite (skills and traces) and
calls.log. ``start`` stores two failed runs of a report workflow (publish failed below
research and write), then reflects on the newest through ``create_runner(...).run``; the
fake LLM holds the drafting call forever, after printing HOLDING, until the test kills the
process. ``recover`` recovers the unfinished reflection, waits for it and prints FINAL
with the run's state and then SKILL lines with the skills stored. Every LLM call is
appended to calls.log (flushed to disk) before it answers.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import anyio

from ageflow.core import RunnerRegistry, RunnerSpawnArgs, RunnerSpawnResult, ValidateResult
from ageflow.learning import ExecutionTrace, TaskTrace, reflection_workflow, run_reflection
from ageflow.learning_sqlite import LearningDatabase
from ageflow.server import create_runner
from ageflow.server_sqlite import SqliteRunStore

DAG = {"report": {"research": [], "write": ["research"], "publish": ["write"]}}
CREDIT = {
    "workflow_score": 0.3,
    "task_scores": {
        "research": {"score": 0.2, "diagnosis": "listed no sources"},
        "write": {"score": 0.9, "diagnosis": "cited what it had"},
    },
}
DRAFTS = {"skills": [{"agent": "research", "name": "cite", "content": "Cite sources."}]}


def say(line: str) -> None:
    print(line, flush=True)


class LoggingLLM:
    def __init__(self, log: Path, hold: bool) -> None:
        self.log = log
        self.hold = hold

    async def validate(self) -> ValidateResult:
        return ValidateResult(ok=True)

    def _append(self, line: str) -> None:
        with self.log.open("a") as log:
            log.write(line + "\n")
            log.flush()
            os.fsync(log.fileno())

    async def spawn(self, args: RunnerSpawnArgs) -> RunnerSpawnResult:
        name = args.task_name or ""
        await anyio.to_thread.run_sync(self._append, json.dumps({"pid": os.getpid(), "task": name}))
        if name == "draft" and self.hold:
            say("HOLDING draft")
            await anyio.sleep_forever()
        answer = CREDIT if name == "credit" else DRAFTS
        return RunnerSpawnResult(stdout=json.dumps(answer), tokens_in=5, tokens_out=7)


def failed_run(topic: str) -> ExecutionTrace:
    def step(name: str, ok: bool, output: str) -> TaskTrace:
        runner = "" if name == "publish" else "api"
        return TaskTrace(
            task_name=name, agent_runner=runner, prompt=name, output=output, success=ok
        )

    return ExecutionTrace(
        workflow_name="report",
        success=False,
        workflow_input={"topic": topic},
        task_traces=(
            step("research", True, '{"sources": []}'),
            step("write", True, '{"text": "a report"}'),
            step("publish", False, "the draft cites no sources"),
        ),
    )


async def start(folder: Path) -> None:
    registry = RunnerRegistry({"llm": LoggingLLM(folder / "calls.log", hold=True)})
    async with LearningDatabase(folder / "learning.sqlite") as db:
        for topic in ("tides", "moss"):
            await db.traces.save_trace(failed_run(topic))
        async with (
            SqliteRunStore(folder / "runs.sqlite") as store,
            create_runner(store=store, registry=registry) as runner,
        ):
            await run_reflection(
                skill_store=db.skills,
                trace_store=db.traces,
                runner="llm",
                dag=DAG,
                run=runner.run,
            )
    say("UNEXPECTED END")


async def recover(folder: Path) -> None:
    registry = RunnerRegistry({"llm": LoggingLLM(folder / "calls.log", hold=False)})
    async with LearningDatabase(folder / "learning.sqlite") as db:
        async with (
            SqliteRunStore(folder / "runs.sqlite") as store,
            create_runner(store=store, registry=registry) as runner,
        ):
            workflow = reflection_workflow(skill_store=db.skills, runner="llm")
            recovered = await runner.recover(workflow)
            say(f"RECOVERED {len(recovered)}")
            for run_id in recovered:
                final = await runner.wait(run_id)
                say("FINAL " + json.dumps(final.to_wire() if final else None))
        for skill in await db.skills.list_skills():
            say("SKILL " + skill.model_dump_json())


def main() -> None:
    folder, mode = Path(sys.argv[1]), sys.argv[2]
    anyio.run(start if mode == "start" else recover, folder)


if __name__ == "__main__":
    main()
