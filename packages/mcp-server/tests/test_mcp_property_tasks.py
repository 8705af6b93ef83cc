"""Property: any JSON params for ``tasks/*`` (and a task-augmented ``tools/call``) get a
task result or a typed JSON-RPC error; the server stays up and its real tasks are intact.

Requests go through the SDK client's JSON-RPC dispatcher (its typed helpers only send
well-formed params), on one server for all examples, as in test_mcp_property_tools.py.
"""

from __future__ import annotations

from typing import Any

import mcp.types as types
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp.shared.exceptions import MCPError
from test_mcp_property_tools import LiveServer, json_values, live  # noqa: F401  (fixture)

METHODS = ("tasks/get", "tasks/result", "tasks/cancel", "tasks/list", "tools/call")
TASK_STATUSES = {"working", "input_required", "completed", "failed", "cancelled"}
# What a bad request may be answered with: invalid params, method not found (a shape the
# SDK routes nowhere), or the SDK's invalid-request answer to malformed params.
REQUEST_ERRORS = {types.INVALID_PARAMS, types.METHOD_NOT_FOUND, types.INVALID_REQUEST}


def send(server: LiveServer, method: str, params: Any) -> dict[str, Any]:
    dispatcher = server.client.session._dispatcher
    answer: dict[str, Any] = server.portal.call(dispatcher.send_raw_request, method, params, {})
    return answer


def test_any_tasks_params_get_a_task_or_a_typed_error(live: LiveServer) -> None:  # noqa: F811
    real = send(live, "tools/call", {"name": "review", "arguments": {"name": "Ann"}, "task": {}})
    task_id = real["task"]["taskId"]
    # MCP params are JSON objects, and their _meta an object: the client's dispatcher
    # sends nothing else (it merges its own _meta in).
    keys = st.text(max_size=8).filter(lambda key: key != "_meta")
    params = st.one_of(
        st.dictionaries(keys, json_values, max_size=4),
        st.fixed_dictionaries(
            {"taskId": st.sampled_from([task_id]) | json_values},
            optional={"cursor": json_values},
        ),
        st.fixed_dictionaries(
            {"name": st.sampled_from(["review", "greet", "double", "nope"]) | json_values},
            optional={"arguments": json_values, "task": json_values},
        ),
    )
    codes: set[int] = set()

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(method=st.sampled_from(METHODS), params=params)
    @example(method="tasks/get", params={"taskId": "0" * 32})
    @example(method="tasks/get", params={"taskId": 7})
    @example(method="tools/call", params={"name": "greet", "arguments": {"name": 1}, "task": {}})
    def every_request_answers(method: str, params: Any) -> None:
        if (
            method in ("tasks/result", "tasks/cancel")
            and isinstance(params, dict)
            and params.get("taskId") == task_id
        ):
            return  # would wait for, or end, the task the property checks at the end
        if (
            method == "tools/call"
            and isinstance(params, dict)
            and isinstance(params.get("task"), dict)
            and params.get("name") == "review"
        ):
            return  # a valid review task waits at its checkpoint: not a bad request
        try:
            answer = send(live, method, params)
        except MCPError as exc:
            error = exc
        else:
            error = None
        if error is not None:
            # Internal errors only for a task the server could not start (a full server).
            assert error.code in REQUEST_ERRORS or method == "tools/call", error
            codes.add(error.code)
            return
        if method == "tasks/get":
            assert answer["status"] in TASK_STATUSES, answer
        elif method == "tasks/list":
            assert all(task["status"] in TASK_STATUSES for task in answer["tasks"])
        elif method == "tools/call" and "task" in answer:
            assert answer["task"]["status"] in TASK_STATUSES, answer

    every_request_answers()

    assert types.INVALID_PARAMS in codes
    # Still serving, and the real task is untouched: it still waits for its approval.
    assert send(live, "tasks/get", {"taskId": task_id})["status"] == "input_required"
