"""Crash recovery with real processes: SIGKILL a server process, recover in a new one.

The child (crash_child.py) runs a four-task workflow a -> b -> gate (checkpoint) -> c on a
SQLite file and logs every runner call. After a SIGKILL (mid-task, between tasks, or at
the checkpoint) a fresh process recovers: every run must end with the output an
uninterrupted run gives, and no finished step may be called again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

pytestmark = pytest.mark.anyio

CHILD = Path(__file__).with_name("crash_child.py")
RUNS = 3


async def read_until(process: Process, prefix: str, count: int) -> list[str]:
    """Read the child's stdout until ``count`` lines start with ``prefix``."""
    assert process.stdout is not None
    found: list[str] = []
    buffer = b""
    with anyio.fail_after(30):
        while len(found) < count:
            chunk = await process.stdout.receive()
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            found += [line.decode() for line in lines if line.decode().startswith(prefix)]
    return found


async def start_and_kill(
    db: Path, log: Path, option: str, target: str | None, wait_for: str
) -> None:
    args = [sys.executable, str(CHILD), str(db), str(log), "start", str(RUNS), option]
    if target is not None:
        args.append(target)
    process = await anyio.open_process(args)
    try:
        await read_until(process, wait_for, RUNS)
    finally:
        process.kill()  # SIGKILL: no cleanup, no lease release
        await process.wait()


async def run_child(*args: str) -> list[dict[str, Any]]:
    done = await anyio.run_process([sys.executable, str(CHILD), *args], check=False)
    assert done.returncode == 0, done.stderr.decode()
    return [
        json.loads(line[len("FINAL ") :])
        for line in done.stdout.decode().splitlines()
        if line.startswith("FINAL ")
    ]


def outputs_by_input(finals: list[dict[str, Any]]) -> dict[str, Any]:
    by_input = {}
    for final in finals:
        assert final["state"] == "done", final
        outputs = final["result"]["outputs"]
        run_input = outputs["a"]["text"].split("<", 1)[1].rstrip(">")
        by_input[run_input] = outputs
    return by_input


def calls(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Outputs of uninterrupted runs of the same inputs."""
    base = tmp_path_factory.mktemp("reference")
    args = [str(base / "ref.sqlite"), str(base / "ref.log"), "start", str(RUNS)]
    done = subprocess.run(
        [sys.executable, str(CHILD), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    finals = [
        json.loads(line[len("FINAL ") :])
        for line in done.stdout.splitlines()
        if line.startswith("FINAL ")
    ]
    assert len(finals) == RUNS
    return outputs_by_input(finals)


@pytest.mark.parametrize(
    ("option", "target", "wait_for", "in_flight"),
    [
        ("--hold", "b", "HOLDING", "b"),  # (a) killed mid-task
        ("--hold-after", "a", "COMMITTED", None),  # (b) killed between tasks
        ("--pause", None, "AWAITING", None),  # (c) killed awaiting a checkpoint
    ],
    ids=["mid-task", "between-tasks", "awaiting-checkpoint"],
)
async def test_sigkill_then_recover(
    tmp_path: Path,
    expected: dict[str, Any],
    option: str,
    target: str | None,
    wait_for: str,
    in_flight: str | None,
) -> None:
    db, log = tmp_path / "jobs.sqlite", tmp_path / "calls.log"
    await start_and_kill(db, log, option, target, wait_for)
    before = Counter((c["run"], c["task"]) for c in calls(log))

    finals = await run_child(str(db), str(log), "recover", "--approve")
    assert len(finals) == RUNS
    assert outputs_by_input(finals) == expected

    total = Counter((c["run"], c["task"]) for c in calls(log))
    for run_input in expected:
        for task_name in ("a", "b", "gate", "c"):
            count = total[(run_input, task_name)]
            if task_name == in_flight:
                assert count == 2, (run_input, task_name, count)  # cut off, so called again
            else:
                assert count == 1, (run_input, task_name, count)  # finished steps: never again
    # Nothing the first process finished was redone by the second.
    second_pid_calls = {(c["run"], c["task"]) for c in calls(log)[sum(before.values()) :]}
    assert all(key not in second_pid_calls or key[1] == in_flight for key in before)


async def test_two_live_processes_never_run_the_same_run(tmp_path: Path) -> None:
    db, log = tmp_path / "jobs.sqlite", tmp_path / "calls.log"
    # Process A holds its runs at the checkpoint (alive, leases renewed).
    first = await anyio.open_process(
        [sys.executable, str(CHILD), str(db), str(log), "start", str(RUNS), "--pause"]
    )
    try:
        await read_until(first, "AWAITING", RUNS)
        # Process B, on the same file, recovers: A is alive, so it must take nothing.
        done = await anyio.run_process(
            [sys.executable, str(CHILD), str(db), str(log), "recover", "--approve"]
        )
        assert "RECOVERED 0" in done.stdout.decode()
    finally:
        first.kill()
        await first.wait()
    # Once A is dead, a recovering process takes every run over at once and finishes it.
    finals = await run_child(str(db), str(log), "recover", "--approve")
    assert len(finals) == RUNS
    assert all(final["state"] == "done" for final in finals)
    per_step = Counter((c["run"], c["task"]) for c in calls(log))
    assert set(per_step.values()) == {1}  # every step of every run ran exactly once


async def test_sigkill_between_an_inline_attempt_and_its_fall_back(
    tmp_path: Path, expected: dict[str, Any]
) -> None:
    # The test hook makes every inline write report a lock and kills the process at the
    # sixth fall-back, before the thread writes it: mid-run, after some commits.
    db, log = tmp_path / "jobs.sqlite", tmp_path / "calls.log"
    env = {**os.environ, "AGEFLOW_SQLITE_INLINE_FAULT": "kill-on-fallback:6"}
    args = [sys.executable, str(CHILD), str(db), str(log), "start", str(RUNS)]
    done = await anyio.run_process(args, check=False, env=env)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()

    finals = await run_child(str(db), str(log), "recover", "--approve")
    assert outputs_by_input(finals) == expected  # every run recovered and finished
    with sqlite3.connect(db) as conn:  # each journal whole, in dependency order
        for (run_id,) in conn.execute("SELECT run_id FROM runs"):
            keys = [
                k
                for (k,) in conn.execute(
                    "SELECT step_key FROM steps WHERE run_id = ? ORDER BY seq", (run_id,)
                )
            ]
            assert keys == ["a", "b", "gate", "c"], (run_id, keys)
    per_step = Counter((c["run"], c["task"]) for c in calls(log))
    assert max(per_step.values()) <= 2  # at most the step cut off ran again
