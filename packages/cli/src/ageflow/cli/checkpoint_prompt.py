"""Answering an approval checkpoint at the terminal.

A person at a terminal is asked; anything else (a pipe, CI, a test harness) gets a
rejection, so an unattended run never approves on its own.
"""

from __future__ import annotations

import sys

import anyio.to_thread

from ageflow.executor.hitl import stdin_is_interactive

APPROVE_ANSWERS = frozenset({"y", "yes"})


def _ask(question: str) -> bool:
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in APPROVE_ANSWERS


async def decide_checkpoint(task_name: str, message: str) -> bool:
    """Approve or reject the checkpoint of ``task_name``: asked on a terminal, else rejected."""
    if not stdin_is_interactive():
        return False
    # readline blocks: it runs in a worker thread, abandoned if the run is cancelled.
    return await anyio.to_thread.run_sync(
        _ask, f"  ? {task_name}: {message}", abandon_on_cancel=True
    )
