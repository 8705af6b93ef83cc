"""Bad requests to the Tasks extension of ``ageflow mcp serve`` (a subprocess) get typed
JSON-RPC errors: ``-32021`` for a task-only tool or ``tasks/*`` without the extension
declared, ``-32602`` for unknown, malformed or another principal's task ids and wrong
shapes, ``-32020`` (HTTP 400) for a ``tasks/*`` POST whose ``Mcp-Name`` is not its task id.
"""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from mcp_task_ext import (
    TASKS,
    TasksClient,
    create_task,
    http_client,
    http_server,
    raw_request,
    rpc_error,
    serve_env,
    stdio_client,
    task_request,
    wait_for_status,
)

pytestmark = pytest.mark.anyio


async def test_task_only_tool_and_undeclared_tasks_methods_are_32021(tmp_path: Path) -> None:
    env = serve_env(tmp_path, TASKS_TEST_REQUIRED="1")
    async with stdio_client(tmp_path / "jobs.sqlite", env) as plain:
        error = await rpc_error(plain.call_tool("job", {"name": "ann"}))
        assert error.code == -32021
        assert TASKS in error.error.data["requiredCapabilities"]["extensions"]
        undeclared = await rpc_error(task_request(plain.session, "tasks/get", taskId="x"))
        assert undeclared.code == -32021
    async with stdio_client(tmp_path / "jobs.sqlite", env, [TasksClient()]) as client:
        result = await client.call_tool("job", {"name": "ann"})  # as a task, it runs
        assert result.structured_content == {"greeting": "done for ANN"}


async def test_bad_ids_and_shapes_are_32602_and_the_server_stays_up(tmp_path: Path) -> None:
    async with stdio_client(
        tmp_path / "jobs.sqlite", serve_env(tmp_path, TASKS_TEST_SHAPE="review"), [TasksClient()]
    ) as client:
        session = client.session
        task = await create_task(client, "review", {"name": "Ann"})
        waiting = await wait_for_status(session, task.task_id, "input_required")
        (key,) = waiting["inputRequests"]
        bad = [
            ("tasks/get", {"taskId": "0" * 32}),
            ("tasks/get", {"taskId": 7}),
            ("tasks/get", {}),
            ("tasks/cancel", {"taskId": ""}),
            ("tasks/update", {"taskId": task.task_id}),
            ("tasks/update", {"taskId": task.task_id, "inputResponses": [1]}),
            ("tasks/update", {"taskId": task.task_id, "inputResponses": {key: "yes"}}),
            (
                "tasks/update",
                {"taskId": task.task_id, "inputResponses": {key: {"action": "accept"}}},
            ),
            ("tasks/update", {"taskId": "nope", "inputResponses": {}}),
        ]
        for method, params in bad:
            error = await rpc_error(raw_request(session, method, params))
            assert error.code == -32602, (method, params, error)
        # Still serving, and the task still waits for its answer.
        assert (await task_request(session, "tasks/get", taskId=task.task_id))["status"] == (
            "input_required"
        )


async def test_a_task_belongs_to_its_principal_not_its_session(tmp_path: Path) -> None:
    db, env = tmp_path / "jobs.sqlite", serve_env(tmp_path)
    async with http_server(db, env, "--auth-bearer", "token-a") as (url, _):
        async with http_client(url, [TasksClient()], token="token-a") as client:
            task = await create_task(client, "job", {"name": "ann"})
            await wait_for_status(client.session, task.task_id, "completed")
        # Another connection with the same token finds it.
        async with http_client(url, [TasksClient()], token="token-a") as again:
            found = await task_request(again.session, "tasks/get", taskId=task.task_id)
            assert found["status"] == "completed"
        # The Mcp-Name header must name the task on tasks/*.
        async with httpx2.AsyncClient(timeout=10) as http:
            body = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tasks/get",
                "params": {
                    "taskId": task.task_id,
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {"extensions": {TASKS: {}}},
                    },
                },
            }
            headers = {
                "Authorization": "Bearer token-a",
                "Accept": "application/json, text/event-stream",
                "Mcp-Protocol-Version": "2026-07-28",
                "Mcp-Method": "tasks/get",
            }
            for name in (None, "other"):
                sent = headers if name is None else {**headers, "Mcp-Name": name}
                answer = await http.post(url, json=body, headers=sent)
                assert answer.status_code == 400 and answer.json()["error"]["code"] == -32020
            ok = await http.post(url, json=body, headers={**headers, "Mcp-Name": task.task_id})
            assert ok.status_code == 200 and ok.json()["result"]["status"] == "completed"
    # Another token, and the stdio principal, are told the task does not exist.
    async with (
        http_server(db, env, "--auth-bearer", "token-b") as (url, _),
        http_client(url, [TasksClient()], token="token-b") as other,
    ):
        error = await rpc_error(task_request(other.session, "tasks/get", taskId=task.task_id))
        assert error.code == -32602
    async with stdio_client(db, env, [TasksClient()]) as local:
        error = await rpc_error(task_request(local.session, "tasks/cancel", taskId=task.task_id))
        assert error.code == -32602
