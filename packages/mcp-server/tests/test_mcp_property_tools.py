"""Property: any JSON value as a tool's arguments gets a success or a well-formed error.

One async-mode server serves every example (through the SDK's in-process client, on an
event loop owned by a blocking portal), so the property also shows the server survives
all of them and still answers tools/list afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from mcp import Client
from pydantic import BaseModel

from ageflow.core import Checkpoint, define_function, define_workflow, task
from ageflow.mcp_server import ConcurrencyConfig, ErrorCode, McpServer, create_mcp_server
from ageflow.mcp_server.error_results import read_error
from ageflow.mcp_server.jobs import JOB_STATES

ERROR_CODES = {code.value for code in ErrorCode}
OBSERVERS = ("get_workflow_status", "get_workflow_result", "resume_workflow", "cancel_workflow")


class Person(BaseModel):
    name: str


class Greeting(BaseModel):
    greeting: str


def build_server() -> McpServer:
    hello = define_function(
        lambda p: Greeting(greeting=f"Hello, {p.name}!"), input=Person, output=Greeting
    )
    greet = define_workflow(name="greet", tasks={"greet": task(hello)})
    review = define_workflow(
        name="review",
        tasks={"greet": task(hello, hitl=Checkpoint("Send it?"))},
    )
    # A non-object input and output: the tool takes and gives {"value": ...} (D22).
    double = define_workflow(
        name="double",
        tasks={"double": task(define_function(lambda n: n * 2, input=int, output=int))},
    )
    return create_mcp_server(
        [greet, review, double],
        async_mode=True,
        job_db_path=":memory:",
        hitl="elicit",
        concurrency=ConcurrencyConfig(max_concurrent_starts=None, max_concurrent_jobs=None),
    )


TOOLS = (
    "greet",
    "review",
    "double",
    "start_greet",
    "start_review",
    "start_double",
    *OBSERVERS,
    "no_such_tool",
)

# Keys the tools look at, so arbitrary values often land where they matter.
known_keys = st.sampled_from(["name", "value", "jobId", "approved", "extra"])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | known_keys,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
argument_objects = st.dictionaries(known_keys | st.text(max_size=8), json_values, max_size=4)


class LiveServer:
    """The server running on the portal's event loop, with a connected client."""

    def __init__(self, portal: BlockingPortal, server: McpServer, client: Client) -> None:
        self.portal = portal
        self.server = server
        self.client = client

    def call_sdk(self, name: str, args: dict[str, Any] | None) -> tuple[bool, Any]:
        result = self.portal.call(self.client.call_tool, name, args)
        if result.is_error:
            return True, read_error(result)
        return False, result.structured_content

    def call_direct(self, name: str, args: Any) -> tuple[bool, Any]:
        # The SDK client only sends objects; other JSON values go straight to the server.
        result = self.portal.call(self.server.call_tool, name, args)
        if result["isError"]:
            return True, read_error(result)
        return False, result.get("structuredContent")


@asynccontextmanager
async def running(server: McpServer) -> AsyncIterator[Client]:
    async with server.running(), Client(server.server, mode="legacy") as client:
        yield client


@pytest.fixture
def live() -> Iterator[LiveServer]:
    server = build_server()
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(running(server)) as client,
    ):
        yield LiveServer(portal, server, client)


def assert_well_formed(tool: str, failed: bool, content: Any) -> None:
    assert isinstance(content, dict), (tool, content)
    if failed:
        assert content.get("errorCode") in ERROR_CODES, (tool, content)
        assert isinstance(content.get("message"), str), (tool, content)
        assert isinstance(content.get("context", {}), dict), (tool, content)
        return
    if tool.startswith("start_"):
        assert set(content) == {"jobId"}, content
    elif tool == "get_workflow_status":
        assert content["state"] in JOB_STATES, content
    elif tool == "resume_workflow":
        assert content == {"resumed": True}
    elif tool == "cancel_workflow":
        assert isinstance(content["cancelled"], bool), content
    elif tool == "double":
        assert isinstance(content["value"], int), content


def test_any_json_arguments_get_a_result_or_a_well_formed_error(live: LiveServer) -> None:
    # Real job ids (one waits at a checkpoint) so observers meet live jobs too.
    job_ids = []
    for tool, args in (("start_greet", {"name": "Ann"}), ("start_review", {"name": "Bo"})):
        failed, content = live.call_sdk(tool, args)
        assert not failed, content
        job_ids.append(content["jobId"])
    job_id_args = st.fixed_dictionaries(
        {"jobId": st.sampled_from(job_ids) | json_values},
        optional={"approved": json_values},
    )
    arguments = st.one_of(json_values, argument_objects, job_id_args)
    seen_codes: set[str] = set()

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(tool=st.sampled_from(TOOLS), args=arguments)
    # Non-objects that contain the wrapper key once reached indexing, not validation.
    @example(tool="double", args=["value"])
    @example(tool="start_double", args="a value")
    def every_tool_answers(tool: str, args: Any) -> None:
        if args is None or isinstance(args, dict):
            failed, content = live.call_sdk(tool, args)
        else:
            failed, content = live.call_direct(tool, args)
        assert_well_formed(tool, failed, content)
        if tool != "no_such_tool" and args is not None and not isinstance(args, dict):
            # Arguments that are not an object are the caller's mistake, for every tool.
            assert failed and content["errorCode"] == "INPUT_VALIDATION_FAILED", (tool, content)
        if failed:
            seen_codes.add(content["errorCode"])

    every_tool_answers()

    # The property met the failures it is about, and the server is still serving.
    assert "INPUT_VALIDATION_FAILED" in seen_codes
    listed = live.portal.call(live.client.list_tools)
    assert [tool.name for tool in listed.tools] == list(TOOLS[:-1])
