"""``ageflow run`` as a real process: SIGKILL and ``--resume``, and approval at a terminal."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_workflows import COUNTING, write

AGEFLOW = str(Path(sys.executable).parent / "ageflow")
DEADLINE_S = 60


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def calls_of(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split() if path.exists() else []


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AGEFLOW_TEST_CALLS": str(tmp_path / "calls.txt"),
        "AGEFLOW_TEST_RELEASE": str(tmp_path / "release"),
        "NO_COLOR": "1",
    }


class Terminal:
    """A pty for a child's stdin and stderr; everything it prints is drained in a thread."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.seen = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._drain, daemon=True)

    def start(self) -> None:
        os.close(self.slave)  # the child holds its own copy now
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not chunk:
                return
            with self._lock:
                self.seen += chunk

    def wait_for(self, marker: bytes) -> None:
        wait_until(lambda: marker in self.seen, f"{marker!r} on the terminal")

    def answer(self, line: bytes) -> None:
        os.write(self.master, line)

    def close(self) -> bytes:
        self._reader.join(timeout=DEADLINE_S)
        os.close(self.master)
        return self.seen


def answered_at_a_terminal(
    args: list[str], answer: bytes, env: dict[str, str]
) -> tuple[int, bytes, bytes]:
    """Run ``ageflow`` with stdin and stderr on a pty, typing ``answer`` at the prompt.

    Returns the exit code, stdout and everything the terminal showed.
    """
    terminal = Terminal()
    process = subprocess.Popen(
        [AGEFLOW, *args],
        stdin=terminal.slave,
        stdout=subprocess.PIPE,
        stderr=terminal.slave,
        env=env,
    )
    terminal.start()
    try:
        terminal.wait_for(b"[y/N]")
        terminal.answer(answer)
        out, _ = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
        shown = terminal.close()
    return process.returncode, out, shown


def test_run_killed_mid_task_resumes_without_rerunning_finished_steps(
    tmp_path: Path, env: dict[str, str]
) -> None:
    workflow = write(tmp_path, "wf.py", COUNTING)
    db = tmp_path / "runs.sqlite"
    calls = tmp_path / "calls.txt"
    first = subprocess.Popen(
        [AGEFLOW, "run", str(workflow), "--job-db", str(db), "--input", '{"text": " abcdef "}'],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        wait_until(lambda: "wait:start" in calls_of(calls), "the wait task to start")
    finally:
        first.send_signal(signal.SIGKILL)
    _, first_err = first.communicate(timeout=DEADLINE_S)
    assert first.returncode == -signal.SIGKILL
    run_id = first_err.decode().split("run ", 1)[1].split()[0]
    assert calls_of(calls) == ["clean", "wait:start"]

    (tmp_path / "release").touch()
    # The resumed run reaches the checkpoint; a person answers at a terminal (a pty).
    code, out, shown = answered_at_a_terminal(
        ["run", str(workflow), "--job-db", str(db), "--resume", run_id], b"y\n", env
    )
    assert code == 0, shown.decode(errors="replace")
    assert b"restored" in shown and b"Shout it?" in shown
    assert json.loads(out)["shout"] == {"text": "ABC", "delay": 0.0}
    # "clean" ran once; "wait" ran again (it was in flight), then the rest once each.
    assert calls_of(calls) == [
        "clean",
        "wait:start",
        "wait:start",
        "wait:end",
        "shorten",
        "shorten",
        "shorten",
        "shout",
    ]


def test_answering_no_at_the_terminal_rejects_the_checkpoint(
    tmp_path: Path, env: dict[str, str]
) -> None:
    workflow = write(tmp_path, "wf.py", COUNTING)
    (tmp_path / "release").touch()
    code, out, tail = answered_at_a_terminal(
        ["run", str(workflow), "--input", '{"text": "abcd"}'], b"n\n", env
    )
    assert code == 1
    assert out == b""
    assert b"rejected at its checkpoint" in tail
    assert "shout" not in calls_of(tmp_path / "calls.txt")


def test_json_output_closed_early_still_ends_the_run(tmp_path: Path, env: dict[str, str]) -> None:
    # `ageflow run --json ... | head -1`: the reader goes away after one line; the run
    # must still reach its checkpoint (rejected without a terminal) and exit.
    workflow = write(tmp_path, "wf.py", COUNTING)
    process = subprocess.Popen(
        [AGEFLOW, "run", str(workflow), "--json", "--input", '{"text": "abcd"}'],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None and process.stderr is not None
    first = json.loads(process.stdout.readline())
    assert first["type"] == "workflow:start"
    process.stdout.close()
    # Only now may the run go on ("wait" holds until this file exists): every later
    # event is written to a closed pipe.
    (tmp_path / "release").touch()
    process.stdout = None  # closed: communicate() reads stderr only
    try:
        _, err = process.communicate(timeout=DEADLINE_S)
        assert process.returncode == 1
    finally:
        if process.poll() is None:
            process.kill()
    assert b"rejected at its checkpoint" in err
    assert b"Traceback" not in err


@pytest.mark.parametrize("script", ["ageflow", "agentwf"])
def test_every_command_runs_as_an_installed_script(
    tmp_path: Path, env: dict[str, str], script: str
) -> None:
    command = str(Path(sys.executable).parent / script)
    workflow = str(write(tmp_path, "wf.py", COUNTING))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, *args],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
        )

    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("ageflow ")
    valid = run("validate", workflow)
    assert valid.returncode == 0 and "✓ Workflow is valid" in valid.stdout
    plan = run("dry-run", workflow)
    assert plan.returncode == 0 and "── Loop: trim (max: 5 iterations)" in plan.stdout
    made = run("init", "fresh")
    assert made.returncode == 0 and (tmp_path / "fresh" / "workflow.py").is_file()
    usage = run("mcp", "serve", workflow, "--port", "80")
    assert usage.returncode == 2
    assert usage.stderr.strip().splitlines() == ["ageflow: --port requires --http"]
    listed = run("jobs", "list", "--job-db", str(tmp_path / "none.sqlite"))
    assert listed.returncode == 1 and "no job database" in listed.stderr


def test_ctrl_c_stops_a_durable_run_which_stays_resumable(
    tmp_path: Path, env: dict[str, str]
) -> None:
    workflow = write(tmp_path, "wf.py", COUNTING)
    db = tmp_path / "runs.sqlite"
    process = subprocess.Popen(
        [AGEFLOW, "run", str(workflow), "--job-db", str(db), "--input", '{"text": "abcdef"}'],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        wait_until(lambda: "wait:start" in calls_of(tmp_path / "calls.txt"), "the wait task")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=DEADLINE_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert out == b""
    last = err.decode().strip().splitlines()[-1]
    assert last.startswith("ageflow: interrupted; run ") and last.endswith("can resume")
    run_id = last.split("run ", 1)[1].split()[0]
    (tmp_path / "release").touch()
    resumed = subprocess.run(
        [AGEFLOW, "run", str(workflow), "--job-db", str(db), "--resume", run_id],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=DEADLINE_S,
    )
    # Continued from the journal up to the checkpoint, rejected without a terminal.
    assert resumed.returncode == 1
    assert b"rejected at its checkpoint" in resumed.stderr
    assert calls_of(tmp_path / "calls.txt").count("clean") == 1
