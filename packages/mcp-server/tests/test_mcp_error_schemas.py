"""Error results a strict client accepts, from a real server process (stdio).

A strict client (the TypeScript SDK, the Inspector) validates ``structuredContent``
against the tool's ``outputSchema`` on every result, error or not. Each error of the
workflow tool and the five job tools is checked here the way such a client checks it
(with jsonschema), and read back the two ways a client can: ``_meta`` and the JSON text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp_calls import call, wait_for_state
from test_mcp_stdio_server import stdio_server_process

from ageflow.mcp_server.error_results import ERROR_META_KEY, read_error

pytestmark = pytest.mark.anyio


def strict_client_check(schema: dict[str, Any] | None, result: Any) -> dict[str, Any]:
    """What the TypeScript SDK client does with a result, then our error read back.

    It validates any ``structuredContent`` against the declared ``outputSchema`` and
    throws -32602 on a mismatch; here that is a jsonschema ValidationError.
    """
    assert result.is_error is True
    if schema is not None and result.structured_content is not None:
        jsonschema.validate(result.structured_content, schema)
    # Ours carry none at all: nothing for any client to reject.
    assert result.structured_content is None
    texts = [item.text for item in result.content if item.type == "text"]
    assert len(texts) == 1
    from_text = json.loads(texts[0])
    assert result.meta is not None
    assert result.meta[ERROR_META_KEY] == from_text
    assert read_error(result) == from_text
    return dict(from_text)


async def test_every_error_of_the_workflow_tool_and_the_job_tools_passes_strict_validation(
    tmp_path: Path,
) -> None:
    async with stdio_server_process(tmp_path / "jobs.sqlite", tmp_path / "pid") as client:
        schemas = {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}
        # Every tool declares an output schema with required fields: the case that broke.
        for name in ("greet", "start_greet", "get_workflow_status", "resume_workflow"):
            assert schemas[name] is not None and schemas[name].get("required"), name

        async def error_of(tool: str, args: dict[str, Any]) -> dict[str, Any]:
            return strict_client_check(schemas[tool], await client.call_tool(tool, args))

        bad_input = await error_of("greet", {"name": 7})
        assert bad_input["errorCode"] == "INPUT_VALIDATION_FAILED"
        assert bad_input["context"]["issues"]
        assert (await error_of("start_greet", {"name": 7}))["errorCode"] == (
            "INPUT_VALIDATION_FAILED"
        )
        for tool in ("get_workflow_status", "get_workflow_result", "cancel_workflow"):
            unknown = await error_of(tool, {"jobId": "no-such-job"})
            assert unknown["errorCode"] == "JOB_NOT_FOUND", tool
            assert unknown["context"] == {"jobId": "no-such-job"}
        missing = await error_of("resume_workflow", {"jobId": "no-such-job"})
        assert missing["errorCode"] == "INPUT_VALIDATION_FAILED"
        unknown = await error_of("resume_workflow", {"jobId": "no-such-job", "approved": True})
        assert unknown["errorCode"] == "JOB_NOT_FOUND"

        # Resume of a job that does not wait: INVALID_RUN_STATE.
        failed, started = await call(client, "start_greet", {"name": "Di"})
        assert not failed, started
        done_id = started["jobId"]
        await wait_for_state(client, done_id, "done")
        not_waiting = await error_of("resume_workflow", {"jobId": done_id, "approved": True})
        assert not_waiting["errorCode"] == "INVALID_RUN_STATE"
        assert not_waiting["context"]["state"] == "done"

        # The result of a cancelled job: JOB_CANCELLED.
        failed, started = await call(client, "start_review", {"name": "Ed"})
        assert not failed, started
        review_id = started["jobId"]
        await wait_for_state(client, review_id, "awaiting-checkpoint")
        failed, cancelled = await call(client, "cancel_workflow", {"jobId": review_id})
        assert not failed and cancelled == {"cancelled": True, "priorState": "awaiting-checkpoint"}
        gone = await error_of("get_workflow_result", {"jobId": review_id})
        assert gone == {
            "errorCode": "JOB_CANCELLED",
            "message": f"job {review_id} was cancelled",
            "context": {"jobId": review_id},
        }


async def test_successes_still_carry_structured_content_that_matches_the_schema(
    tmp_path: Path,
) -> None:
    async with stdio_server_process(tmp_path / "jobs.sqlite", tmp_path / "pid") as client:
        assert isinstance(client, Client)
        schemas = {tool.name: tool.output_schema for tool in (await client.list_tools()).tools}
        result = await client.call_tool("greet", {"name": "Fay"})
        assert result.is_error is False and read_error(result) is None
        assert result.structured_content == {"greeting": "HELLO, FAY!"}
        jsonschema.validate(result.structured_content, schemas["greet"])
