import json

from ageflow.core.errors import BudgetExceededError
from ageflow.executor.errors import HitlNotInteractiveError, HitlRejectedError
from ageflow.mcp_server.error_results import ERROR_META_KEY, read_error
from ageflow.mcp_server.errors import ErrorCode, McpServerError, format_error_result
from ageflow.server.errors import (
    CheckpointTimeoutError,
    InvalidRunStateError,
    RunDeadlineExceededError,
    RunNotFoundError,
    TurnsExceededError,
)


def test_mcp_server_error_keeps_code_message_and_context():
    exc = McpServerError(ErrorCode.BUSY, "too busy", {"limit": 1})
    result = format_error_result(exc)
    assert result["isError"] is True
    assert "structuredContent" not in result
    assert json.loads(result["content"][0]["text"]) == result["_meta"][ERROR_META_KEY]
    assert read_error(result) == {
        "errorCode": "BUSY",
        "message": "too busy",
        "context": {"limit": 1},
    }


def test_context_is_left_out_when_the_error_has_none():
    result = format_error_result(McpServerError(ErrorCode.DAG_INVALID, "bad dag"))
    assert "context" not in read_error(result)
    assert read_error(result)["errorCode"] == "DAG_INVALID"


def test_context_is_copied_not_shared():
    context = {"a": 1}
    exc = McpServerError(ErrorCode.BUSY, "x", context)
    context["a"] = 2
    assert exc.context == {"a": 1}


def test_generic_exception_is_workflow_failed_with_its_message():
    result = format_error_result(RuntimeError("boom"))
    assert read_error(result) == {"errorCode": "WORKFLOW_FAILED", "message": "boom"}
    assert json.loads(result["content"][0]["text"])["message"] == "boom"


def test_string_and_other_values():
    assert read_error(format_error_result("plain")) == {
        "errorCode": "WORKFLOW_FAILED",
        "message": "plain",
    }
    other = format_error_result({"why": [1, 2]})
    assert read_error(other)["message"] == '{"why": [1, 2]}'
    assert read_error(other)["errorCode"] == "WORKFLOW_FAILED"


def test_budget_exceeded_maps_cost_detail():
    result = format_error_result(BudgetExceededError(1.0, 1.23))
    assert read_error(result)["errorCode"] == "BUDGET_EXCEEDED"
    assert read_error(result)["context"] == {"maxCost": 1.0, "spent": 1.23}


def test_hitl_not_interactive_is_denied():
    result = format_error_result(HitlNotInteractiveError("verify"))
    assert read_error(result)["errorCode"] == "HITL_DENIED"
    assert read_error(result)["context"] == {"taskName": "verify"}


def test_hitl_rejected_is_not_special_cased():
    result = format_error_result(HitlRejectedError("verify"))
    assert read_error(result)["errorCode"] == "WORKFLOW_FAILED"


def test_run_store_errors_map_to_job_codes():
    missing = read_error(format_error_result(RunNotFoundError("r1")))
    assert missing["errorCode"] == "JOB_NOT_FOUND"
    assert missing["context"] == {"runId": "r1"}
    state = read_error(format_error_result(InvalidRunStateError("abc", "done")))
    assert state["errorCode"] == "INVALID_RUN_STATE"
    assert state["context"] == {"runId": "abc", "state": "done"}


def test_checkpoint_timeout_is_cancelled():
    result = read_error(format_error_result(CheckpointTimeoutError("verify")))
    assert result["errorCode"] == "HITL_CANCELLED"
    assert result["context"] == {"taskName": "verify"}


def test_turns_and_deadline_errors_get_their_reserved_codes():
    turns = read_error(format_error_result(TurnsExceededError(3)))
    assert turns["errorCode"] == "TURNS_EXCEEDED"
    assert turns["context"] == {"maxTurns": 3}
    deadline = read_error(format_error_result(RunDeadlineExceededError(1000)))
    assert deadline["errorCode"] == "DURATION_EXCEEDED"
    assert deadline["context"] == {"deadlineAt": 1000}


def test_code_table_has_the_job_and_concurrency_codes():
    names = {code.value for code in ErrorCode}
    for name in (
        "JOB_NOT_FOUND",
        "JOB_CANCELLED",
        "INVALID_RUN_STATE",
        "ASYNC_MODE_DISABLED",
        "CONCURRENCY_LIMIT_EXCEEDED",
        "RESERVED_TOOL_NAME",
        "JOB_STORE_UNAVAILABLE",  # ours: a store that did not answer
    ):
        assert name in names
    assert len(names) == 21
    assert ErrorCode.BUSY == "BUSY"
