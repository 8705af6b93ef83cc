"""Tasks of the extension form survive a SIGKILL of ``ageflow mcp serve``: a task in flight
inside a step (``working``) and one at its checkpoint (``input_required``); a new process
on the same job file answers ``tasks/get`` for both at once, finishes the first from its
journal and takes the second's approval through ``tasks/update``. The step markers show
that no finished step ran again (only the step in flight at the kill runs twice)."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp_task_ext import (
    DEADLINE_S,
    TasksClient,
    create_task,
    http_client,
    http_server,
    runs_of,
    serve_env,
    stdio_client,
    task_request,
    wait_for_status,
)

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def served(transport: str, db: Path, markers: Path, shape: str) -> AsyncIterator[Client]:
    env = serve_env(markers, TASKS_TEST_SHAPE=shape)
    if transport == "stdio":
        async with stdio_client(db, env, [TasksClient()]) as client:
            yield client
        return
    async with http_server(db, env) as (url, _), http_client(url, [TasksClient()]) as client:
        yield client


async def wait_for_runs(markers: Path, step: str, count: int) -> list[int]:
    with anyio.fail_after(DEADLINE_S):
        while len(runs := runs_of(markers, step)) < count:  # noqa: ASYNC110 (a file)
            await anyio.sleep(0.02)
        return runs


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_working_task_survives_a_sigkill(transport: str, tmp_path: Path) -> None:
    db, markers = tmp_path / "jobs.sqlite", tmp_path / "markers"
    markers.mkdir()
    async with served(transport, db, markers, "job") as client:
        created = await create_task(client, "job", {"name": "ann", "hold": True})
        (first_pid,) = await wait_for_runs(markers, "work", 1)
        os.kill(first_pid, signal.SIGKILL)

    async with served(transport, db, markers, "job") as client:
        task = await task_request(client.session, "tasks/get", taskId=created.task_id)
        assert task["status"] == "working" and task["createdAt"] == created.created_at
        runs = await wait_for_runs(markers, "work", 2)  # the step in flight runs again
        assert runs[0] == first_pid and runs[1] != first_pid
        (markers / "release").touch()
        done = await wait_for_status(client.session, created.task_id, "completed")
        assert done["result"]["structuredContent"] == {"greeting": "done for ANN"}
    assert runs_of(markers, "prepare") == [first_pid]  # finished before the kill: not re-run
    assert len(runs_of(markers, "work")) == 2


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_input_required_task_survives_a_sigkill(transport: str, tmp_path: Path) -> None:
    db, markers = tmp_path / "jobs.sqlite", tmp_path / "markers"
    markers.mkdir()
    async with served(transport, db, markers, "review") as client:
        created = await create_task(client, "review", {"name": "Bo"})
        before = await wait_for_status(client.session, created.task_id, "input_required")
        (first_pid,) = runs_of(markers, "greet")
        os.kill(first_pid, signal.SIGKILL)

    async with served(transport, db, markers, "review") as client:
        after = await task_request(client.session, "tasks/get", taskId=created.task_id)
        # At once, with the same input request under the same key.
        assert after["status"] == "input_required"
        assert after["inputRequests"] == before["inputRequests"]
        (key,) = after["inputRequests"]
        yes = {key: {"action": "accept", "content": {"approved": True}}}
        await task_request(
            client.session, "tasks/update", taskId=created.task_id, inputResponses=yes
        )
        done = await wait_for_status(client.session, created.task_id, "completed")
        assert done["result"]["structuredContent"] == {"greeting": "HELLO, BO!"}
        # The key is answered: answering it again is ignored, the task stays completed.
        await task_request(
            client.session, "tasks/update", taskId=created.task_id, inputResponses=yes
        )
        again = await task_request(client.session, "tasks/get", taskId=created.task_id)
        assert again["status"] == "completed"
    assert runs_of(markers, "greet") == [first_pid]
    assert len(runs_of(markers, "shout")) == 1
