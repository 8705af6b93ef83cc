"""The wire shapes of a task in the final Tasks extension (``io.modelcontextprotocol/tasks``,
protocol 2026-07-28): a stored run as a ``DetailedTask`` for ``tasks/get``, and the
``CreateTaskResult`` a ``tools/call`` answers with.

A run waiting at a checkpoint is ``input_required`` with one input request: an elicitation
form asking the checkpoint's question, ``{approved: boolean}``. Its key names the step
(``checkpoint:<step>``), so it is unique over the task's life and the same in every poll
and after a restart. A finished run is ``completed`` with the tool's ``CallToolResult``; a
failed one is ``failed`` with a JSON-RPC error whose ``data`` is our typed error
(``{errorCode, message, context}``); a cancelled one is ``cancelled``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

import mcp.types as types

from ageflow.mcp_server.errors import McpServerError, format_error_result
from ageflow.mcp_server.jobs import JobService
from ageflow.server import RunRecord

APPROVAL_SCHEMA: Final[dict[str, Any]] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "description": "Approve this checkpoint?"},
        "note": {"type": "string", "description": "Optional remark"},
    },
    "required": ["approved"],
}
POLL_INTERVAL_MS: Final = 250
CHECKPOINT_KEY_PREFIX: Final = "checkpoint:"

STATUS: Final[dict[str, types.TaskStatus]] = {
    "running": "working",
    "awaiting-checkpoint": "input_required",
    "done": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def input_key(record: RunRecord) -> str | None:
    """The key of the run's one outstanding input request, None when it waits for none."""
    pending = record.pending_checkpoint
    if record.state != "awaiting-checkpoint" or pending is None:
        return None
    return CHECKPOINT_KEY_PREFIX + (pending.step_key or pending.task_name)


def task_fields(record: RunRecord, ttl_ms: int) -> dict[str, Any]:
    """The ``Task`` fields every shape carries."""
    fields: dict[str, Any] = {
        "taskId": record.run_id,
        "status": STATUS[record.state],
        "createdAt": iso(record.created_at),
        "lastUpdatedAt": iso(record.last_event_at),
        "ttlMs": ttl_ms,
        "pollIntervalMs": POLL_INTERVAL_MS,
    }
    pending = record.pending_checkpoint
    if record.state == "awaiting-checkpoint" and pending is not None:
        fields["statusMessage"] = f"[{pending.task_name}] {pending.message}"
    elif record.state == "failed" and record.error is not None:
        fields["statusMessage"] = record.error.message
    return fields


def create_task_result(record: RunRecord, ttl_ms: int) -> dict[str, Any]:
    return {"resultType": "task", **task_fields(record, ttl_ms)}


def detailed_task(record: RunRecord, ttl_ms: int, jobs: JobService) -> dict[str, Any]:
    """The ``GetTaskResult`` body for the run as it is now."""
    detail = task_fields(record, ttl_ms)
    key = input_key(record)
    if key is not None and record.pending_checkpoint is not None:
        detail["inputRequests"] = {
            key: {
                "method": "elicitation/create",
                "params": {
                    "mode": "form",
                    "message": detail["statusMessage"],
                    "requestedSchema": APPROVAL_SCHEMA,
                },
            }
        }
    elif record.state == "done":
        detail["result"] = call_tool_result(record, jobs)
    elif record.state == "failed":
        detail["error"] = _rpc_error(record, jobs)
    return detail


def call_tool_result(record: RunRecord, jobs: JobService) -> dict[str, Any]:
    """A finished task's result as the tool's CallToolResult (a tool error if it has none)."""
    try:
        output = jobs.result(record)["output"]
    except McpServerError as exc:  # a finished run without its output: a tool error
        return dict(format_error_result(exc))
    return {
        "content": [{"type": "text", "text": json.dumps(output)}],
        "structuredContent": output,
        "isError": False,
    }


def _rpc_error(record: RunRecord, jobs: JobService) -> dict[str, Any]:
    try:
        jobs.result(record)
    except McpServerError as exc:
        typed = json.loads(format_error_result(exc)["content"][0]["text"])
        return {"code": types.INTERNAL_ERROR, "message": typed["message"], "data": typed}
    return {"code": types.INTERNAL_ERROR, "message": "workflow failed"}
