"""``ageflow jobs`` through typer's CliRunner, on job files written by a real runner.

Each test builds its SQLite job file with ``ageflow.server`` directly (fast, in process):
jobs of the fixture ``review`` workflow that wait at their checkpoint, or finished ones.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from ageflow.cli.app import app
from ageflow.cli.loading import load_workflow
from ageflow.core.wire import now_ms
from ageflow.core.workflow import WorkflowDef
from ageflow.server import CheckpointPolicy, RunPolicy, create_runner
from ageflow.server_sqlite import SqliteRunStore

runner = CliRunner()
TESTS = Path(__file__).parent
OTHER_OWNER = "elsewhere.example:4242:cafe0001"

TWO_CHECKPOINTS = """
from pydantic import BaseModel
from ageflow.core import Checkpoint, define_function, define_workflow, task


class Text(BaseModel):
    text: str


def twice(t: Text) -> Text:
    return Text(text=t.text * 2)


workflow = define_workflow(
    name="twice",
    tasks={
        "first": task(define_function(twice, input=Text, output=Text), hitl=Checkpoint("One?")),
        "second": task(
            define_function(twice, input=Text, output=Text),
            depends_on=["first"],
            input=lambda ctx: ctx["first"].output,
            hitl=Checkpoint("Two?"),
        ),
    },
)
"""


@dataclass
class Jobs:
    db: Path
    workflow_file: Path
    greet_log: Path

    def invoke(self, *args: str) -> Any:
        return runner.invoke(app, ["jobs", *args, "--job-db", str(self.db)])

    def greeted(self) -> list[str]:
        return self.greet_log.read_text().splitlines() if self.greet_log.exists() else []


@pytest.fixture
def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Jobs:
    workflow_file = tmp_path / "review.py"
    shutil.copy(TESTS / "cli_jobs_review_workflow.py", workflow_file)
    greet_log = tmp_path / "greeted.txt"
    monkeypatch.setenv("CLI_TEST_GREET_LOG", str(greet_log))
    monkeypatch.chdir(tmp_path)
    return Jobs(tmp_path / "jobs.sqlite", workflow_file, greet_log)


def start(jobs: Jobs, *names: str, checkpoint: CheckpointPolicy = "pause") -> list[str]:
    """Run the review workflow for each name: paused jobs wait at their checkpoint."""
    return start_workflow(jobs.db, load_workflow(str(jobs.workflow_file)), names, checkpoint)


def start_workflow(
    db: Path, workflow: WorkflowDef, inputs: Any, checkpoint: CheckpointPolicy = "pause"
) -> list[str]:
    async def main() -> list[str]:
        ids = []
        async with SqliteRunStore(db) as store, create_runner(store=store) as server:
            for value in inputs:
                payload = {"name": value} if workflow.name == "review" else {"text": value}
                handle = await server.fire(
                    workflow, payload, policy=RunPolicy(checkpoint=checkpoint)
                )
                await server.wait_for(handle.run_id, "awaiting-checkpoint")
                ids.append(handle.run_id)
        return ids

    return anyio.run(main)


def take_over(db: Path, job_id: str) -> None:
    """Give the job to another live process (a lease far in the future)."""

    async def main() -> None:
        async with SqliteRunStore(db) as store:
            now = now_ms()
            assert await store.claim_run(job_id, OTHER_OWNER, now + 3_600_000, now)

    anyio.run(main)


def one_error_line(result: Any, code: int) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])


# -- list --------------------------------------------------------------------------------------


def test_list_shows_jobs_newest_first_with_their_checkpoint(jobs: Jobs) -> None:
    waiting = start(jobs, "Ann", "Bo")
    (done,) = start(jobs, "Cy", checkpoint="approve")
    result = jobs.invoke("list", "--json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert [job["runId"] for job in listed] == [done, waiting[1], waiting[0]]
    assert [job["state"] for job in listed] == [
        "done",
        "awaiting-checkpoint",
        "awaiting-checkpoint",
    ]
    assert listed[1]["pendingCheckpoint"]["taskName"] == "shout"
    assert listed[1]["owner"] is None and listed[1]["ownerLive"] is False

    table = jobs.invoke("list")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "WORKFLOW",
        "STATE",
        "CREATED",
        "UPDATED",
        "PENDING",
        "CHECKPOINT",
    ]
    ann = next(line for line in lines if line.startswith(waiting[0]))
    assert "review" in ann and "awaiting-checkpoint" in ann and "shout: Shout it?" in ann


def test_list_filters_by_state(jobs: Jobs) -> None:
    (waiting,) = start(jobs, "Ann")
    start(jobs, "Bo", checkpoint="approve")
    result = jobs.invoke("list", "--json", "--state", "awaiting-checkpoint")
    assert [job["runId"] for job in json.loads(result.stdout)] == [waiting]
    both = jobs.invoke("list", "--json", "--state", "done", "--state", "awaiting-checkpoint")
    assert len(json.loads(both.stdout)) == 2
    message = one_error_line(jobs.invoke("list", "--state", "paused"), 2)
    assert "--state must be one of: running | awaiting-checkpoint | done" in message


def test_empty_and_missing_job_files(jobs: Jobs) -> None:
    missing = one_error_line(jobs.invoke("list"), 1)
    assert missing.startswith(f'ageflow: no job database at "{jobs.db}"')
    assert not jobs.db.exists()  # reading never creates the file
    start(jobs)  # an empty, initialised file
    result = jobs.invoke("list")
    assert result.exit_code == 0 and result.stdout.strip() == f"No jobs in {jobs.db}."
    assert json.loads(jobs.invoke("list", "--json").stdout) == []


def test_default_job_file_is_under_the_working_directory(jobs: Jobs) -> None:
    default = Path(".ageflow") / "jobs.sqlite"
    default.parent.mkdir()
    start_workflow(default, load_workflow(str(jobs.workflow_file)), ["Ann"])
    result = runner.invoke(app, ["jobs", "list", "--json"])
    assert result.exit_code == 0, result.stderr
    assert [
        job["input"] if "input" in job else job["state"] for job in json.loads(result.stdout)
    ] == ["awaiting-checkpoint"]


# -- show --------------------------------------------------------------------------------------


def test_show_has_input_policy_steps_and_checkpoint(jobs: Jobs) -> None:
    (job,) = start(jobs, "Ann")
    result = jobs.invoke("show", job, "--json")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["runId"] == job and shown["state"] == "awaiting-checkpoint"
    assert shown["input"] == {"name": "Ann"}
    assert shown["policy"]["checkpoint"] == "pause"
    assert [step["taskName"] for step in shown["steps"]] == ["greet"]
    assert shown["steps"][0]["output"] == {"greeting": "Hello, Ann!"}

    text = jobs.invoke("show", job)
    assert text.exit_code == 0
    assert f"Job:                {job}" in text.stdout
    assert 'Input:              {"name": "Ann"}' in text.stdout
    assert "Pending checkpoint: shout: Shout it?" in text.stdout
    assert "Steps journaled:    1" in text.stdout
    assert "Owner:              none" in text.stdout


def test_show_of_a_finished_job_has_its_result(jobs: Jobs) -> None:
    (job,) = start(jobs, "Cy", checkpoint="approve")
    shown = json.loads(jobs.invoke("show", job, "--json").stdout)
    assert shown["result"]["outputs"]["shout"] == {"greeting": "HELLO, CY!"}
    assert 'Result:             {"greet"' in jobs.invoke("show", job).stdout


def test_unknown_job_is_one_line_exit_1(jobs: Jobs) -> None:
    start(jobs)
    for command in (["show", "nope"], ["cancel", "nope"], ["resume", "nope", "--approve"]):
        assert one_error_line(jobs.invoke(*command), 1) == f'ageflow: no job "nope" in {jobs.db}'


# -- resume ------------------------------------------------------------------------------------


def test_resume_approve_finishes_the_job_without_rerunning_finished_steps(jobs: Jobs) -> None:
    ann, bo = start(jobs, "Ann", "Bo")
    assert jobs.greeted() == ["Ann", "Bo"]
    result = jobs.invoke("resume", ann, "--approve", "--workflow", str(jobs.workflow_file))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        f"Approved the checkpoint of job {ann}.",
        f"Job {ann} is done.",
    ]
    assert json.loads("\n".join(result.stdout.splitlines()[2:]))["shout"] == {
        "greeting": "HELLO, ANN!"
    }
    assert jobs.greeted() == ["Ann", "Bo"]  # greet was restored from the journal
    states = {job["runId"]: job for job in json.loads(jobs.invoke("list", "--json").stdout)}
    assert states[ann]["state"] == "done" and states[ann]["owner"] is not None
    # The other job was not touched: still waiting, nobody owns it.
    assert states[bo]["state"] == "awaiting-checkpoint" and states[bo]["owner"] is None


def test_resume_reject_ends_the_job_failed_with_exit_0(jobs: Jobs) -> None:
    (job,) = start(jobs, "Ann")
    result = jobs.invoke("resume", job, "--reject", "--workflow", str(jobs.workflow_file))
    assert result.exit_code == 0, result.stderr
    assert f"Rejected the checkpoint of job {job}." in result.stdout
    assert f"Job {job} ended failed: HitlRejectedError" in result.stdout
    assert json.loads(jobs.invoke("show", job, "--json").stdout)["state"] == "failed"


def test_resume_stops_at_the_next_checkpoint(jobs: Jobs) -> None:
    twice = jobs.db.parent / "twice.py"
    twice.write_text(TWO_CHECKPOINTS, encoding="utf-8")
    (job,) = start_workflow(jobs.db, load_workflow(str(twice)), ["ab"])
    first = jobs.invoke("resume", job, "--approve", "--workflow", str(twice))
    assert first.exit_code == 0, first.stderr
    assert f"Job {job} waits at another checkpoint: second: Two?" in first.stdout
    shown = json.loads(jobs.invoke("show", job, "--json").stdout)
    assert shown["state"] == "awaiting-checkpoint" and shown["owner"] is None  # released
    second = jobs.invoke("resume", job, "--approve", "--workflow", str(twice))
    assert second.exit_code == 0, second.stderr
    assert json.loads(jobs.invoke("show", job, "--json").stdout)["result"]["outputs"]["second"] == {
        "text": "abababab"
    }


def test_resume_usage_errors(jobs: Jobs) -> None:
    (job,) = start(jobs, "Ann")
    assert one_error_line(jobs.invoke("resume", job), 2) == (
        "ageflow: jobs resume requires --approve or --reject"
    )
    message = one_error_line(jobs.invoke("resume", job, "--approve"), 2)
    assert message.startswith(
        'ageflow: jobs resume requires --workflow WORKFLOW (the definition of "review")'
    )


def test_resume_refuses_jobs_it_cannot_continue(jobs: Jobs, tmp_path: Path) -> None:
    (done,) = start(jobs, "Cy", checkpoint="approve")
    wf = str(jobs.workflow_file)
    assert one_error_line(jobs.invoke("resume", done, "--approve", "--workflow", wf), 1) == (
        f"ageflow: job {done} is done, not waiting at a checkpoint"
    )
    (waiting,) = start(jobs, "Ann")
    other = tmp_path / "greet.py"
    shutil.copy(TESTS / "cli_mcp_greet_workflow.py", other)
    message = one_error_line(
        jobs.invoke("resume", waiting, "--approve", "--workflow", str(other)), 1
    )
    assert message == (
        f'ageflow: job {waiting} belongs to workflow "review", but --workflow loaded "greet"'
    )


def test_jobs_of_a_live_server_are_refused(jobs: Jobs) -> None:
    (job,) = start(jobs, "Ann")
    take_over(jobs.db, job)
    wf = str(jobs.workflow_file)
    resumed = one_error_line(jobs.invoke("resume", job, "--approve", "--workflow", wf), 1)
    assert resumed == (
        f"ageflow: job {job} is owned by a running server (process 4242 on elsewhere.example); "
        "use that server's MCP tool resume_workflow instead"
    )
    cancelled = one_error_line(jobs.invoke("cancel", job), 1)
    assert cancelled.endswith("use that server's MCP tool cancel_workflow instead")
    shown = json.loads(jobs.invoke("show", job, "--json").stdout)
    assert shown["state"] == "awaiting-checkpoint" and shown["ownerLive"] is True
    assert (
        "Owner:              process 4242 on elsewhere.example (live)"
        in jobs.invoke("show", job).stdout
    )


# -- cancel and prune --------------------------------------------------------------------------


def test_cancel_marks_the_job_cancelled(jobs: Jobs) -> None:
    ann, bo = start(jobs, "Ann", "Bo")
    result = jobs.invoke("cancel", ann)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"Cancelled job {ann} (was awaiting-checkpoint)."
    states = {
        job["runId"]: job["state"] for job in json.loads(jobs.invoke("list", "--json").stdout)
    }
    assert states == {ann: "cancelled", bo: "awaiting-checkpoint"}
    again = jobs.invoke("cancel", ann)
    assert again.exit_code == 0
    assert again.stdout.strip() == f"Job {ann} is already cancelled; nothing to cancel."


def test_prune_deletes_finished_jobs_only(jobs: Jobs) -> None:
    (waiting,) = start(jobs, "Ann")
    finished = start(jobs, "Bo", "Cy", checkpoint="approve")
    kept = jobs.invoke("prune", "--older-than", "3600")
    assert (
        kept.exit_code == 0 and kept.stdout.strip() == f"Deleted 0 finished job(s) from {jobs.db}."
    )
    result = jobs.invoke("prune")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"Deleted {len(finished)} finished job(s) from {jobs.db}."
    assert [job["runId"] for job in json.loads(jobs.invoke("list", "--json").stdout)] == [waiting]
    assert one_error_line(jobs.invoke("prune", "--older-than", "-1"), 2).startswith("ageflow")
