"""Property: any JSON params for the Tasks extension's methods (``tasks/get``,
``tasks/update``, ``tasks/cancel``) and for a declaring ``tools/call`` get a task or a typed
JSON-RPC error from ``ageflow mcp serve`` (a subprocess, stdio, protocol 2026-07-28); the
server stays up and its real task is intact (still ``input_required``, same request)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError
from mcp_task_ext import (
    TasksClient,
    create_task,
    raw_request,
    serve_env,
    stdio_client,
    wait_for_status,
)
from test_mcp_property_tools import json_values

METHODS = ("tasks/get", "tasks/update", "tasks/cancel", "tools/call")
STATUSES = {"working", "input_required", "completed", "failed", "cancelled"}
# Typed answers to a bad request: invalid params, method not found, invalid request; and
# for tools/call a task the server could not start (internal error, with our error).
REQUEST_ERRORS = {-32602, -32601, -32600}


def test_any_extension_params_get_a_task_or_a_typed_error(tmp_path: Path) -> None:
    env = serve_env(tmp_path, TASKS_TEST_SHAPE="review")
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(
            stdio_client(tmp_path / "jobs.sqlite", env, [TasksClient()])
        ) as client,
    ):
        real = portal.call(create_task, client, "review", {"name": "Ann"})
        task_id = real.task_id
        before = portal.call(wait_for_status, client.session, task_id, "input_required")
        (key,) = before["inputRequests"]
        keys = st.text(max_size=8).filter(lambda k: k != "_meta")
        answers = st.one_of(
            json_values,
            st.fixed_dictionaries(
                {"action": st.sampled_from(["accept", "decline", "cancel", "x"]) | json_values},
                optional={"content": json_values},
            ),
        )
        params = st.one_of(
            st.dictionaries(keys, json_values, max_size=4),
            st.fixed_dictionaries(
                {"taskId": st.sampled_from(["0" * 32, "", task_id + "x"]) | json_values},
                optional={
                    "inputResponses": st.dictionaries(
                        st.sampled_from(["nope", "checkpoint:other"]) | keys, answers, max_size=3
                    )
                    | json_values
                },
            ),
            st.fixed_dictionaries(
                {"name": st.sampled_from(["review", "nope"]) | json_values},
                optional={"arguments": json_values},
            ),
        )
        codes: set[int] = set()

        @settings(
            max_examples=120,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(method=st.sampled_from(METHODS), params=params)
        @example(method="tasks/get", params={"taskId": 7})
        @example(method="tasks/update", params={"taskId": task_id, "inputResponses": [1]})
        @example(
            method="tasks/update",
            params={"taskId": task_id, "inputResponses": {key: {"action": "accept"}}},
        )
        def every_request_answers(method: str, params: Any) -> None:
            if (
                method == "tools/call"
                and isinstance(params, dict)
                and params.get("name") == "review"
            ):
                args = params.get("arguments")
                if isinstance(args, dict) and isinstance(args.get("name"), str):
                    return  # a valid call: a real task, not a bad request
            error: MCPError | None = None
            try:
                answer = portal.call(raw_request, client.session, method, params)
            except MCPError as exc:
                error = exc
            if error is not None:
                assert error.code in REQUEST_ERRORS or method == "tools/call", error
                codes.add(error.code)
                return
            created = method == "tools/call" and answer.get("resultType") == "task"
            if method == "tasks/get" or created:
                assert answer["status"] in STATUSES, answer

        every_request_answers()
        assert -32602 in codes
        after = portal.call(raw_request, client.session, "tasks/get", {"taskId": task_id})
        assert after["status"] == "input_required"
        assert after["inputRequests"] == before["inputRequests"]
