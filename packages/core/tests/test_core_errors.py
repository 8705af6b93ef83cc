import copy
import json
import pickle

import pytest
from pydantic import ValidationError as PydanticValidationError

from ageflow.core import errors as errors_module
from ageflow.core.errors import (
    AgentFlowError,
    AgentHitlConflictError,
    AttemptRecord,
    BudgetExceededError,
    CyclicDependencyError,
    GenericAgentFlowError,
    InlineToolsNotSupportedError,
    InvalidIdentifierError,
    LoopMaxIterationsError,
    McpProtocolError,
    McpServerCrashedError,
    McpServerStartFailedError,
    McpTimeoutError,
    McpToolArgInvalidError,
    McpToolCallFailedError,
    McpToolNotFoundError,
    McpToolNotPermittedError,
    NodeMaxRetriesError,
    PathTraversalError,
    PreFlightError,
    SessionCycleError,
    SessionMismatchError,
    TaskTimeoutError,
    ToolNotUsedError,
    UnresolvedDependencyError,
    UnresolvedSessionRefError,
    ValidationError,
    WorkflowDefinitionError,
    WorkflowNotExposableError,
    sole_error,
)

ATTEMPTS = [
    AttemptRecord(attempt=0, error="first failure", error_code="subprocess_error"),
    AttemptRecord(attempt=1, error="bad json", error_code="output_validation_error"),
]

# One instance of every error class, with its expected code.
SAMPLES: list[tuple[AgentFlowError, str]] = [
    (GenericAgentFlowError("boom", "custom_code"), "custom_code"),
    (NodeMaxRetriesError("t", []), "node_max_retries"),
    (LoopMaxIterationsError("l", 3), "loop_max_iterations"),
    (ToolNotUsedError("t", ["a"]), "tool_not_used"),
    (BudgetExceededError(1.0, 2.0), "budget_exceeded"),
    (ValidationError("t", "bad"), "validation_error"),
    (AgentHitlConflictError("t"), "agent_hitl_conflict"),
    (PreFlightError(["e"], ["w"]), "pre_flight_error"),
    (InvalidIdentifierError("runner", "a b"), "invalid_identifier"),
    (PathTraversalError("../x", "escapes"), "path_traversal"),
    (SessionMismatchError("t", "claude", "codex"), "session_mismatch"),
    (TaskTimeoutError("t", 10), "timeout"),
    (InlineToolsNotSupportedError("claude"), "inline_tools_not_supported"),
    (McpServerStartFailedError("fs", "ENOENT"), "mcp_server_start_failed"),
    (McpServerCrashedError("fs", 1), "mcp_server_crashed"),
    (McpToolNotFoundError("fs", "read"), "mcp_tool_not_found"),
    (McpToolNotPermittedError("fs", "read"), "mcp_tool_not_permitted"),
    (McpToolArgInvalidError("fs", "read", "path missing"), "mcp_tool_arg_invalid"),
    (McpToolCallFailedError("fs", "read", "EACCES"), "mcp_tool_call_failed"),
    (McpProtocolError("fs", "bad frame"), "mcp_protocol_error"),
    (McpTimeoutError("fs", "read", 500), "mcp_timeout"),
    (CyclicDependencyError(["a", "b", "a"]), "cyclic_dependency"),
    (UnresolvedDependencyError("a", "x", ["a"]), "unresolved_dependency"),
    (SessionCycleError(["a", "b", "a"]), "session_cycle"),
    (UnresolvedSessionRefError("a", "b"), "unresolved_session_ref"),
    (WorkflowDefinitionError("bad"), "workflow_definition"),
    (WorkflowNotExposableError(), "WORKFLOW_NOT_MCP_EXPOSABLE"),
]


def _ids(sample: tuple[AgentFlowError, str]) -> str:
    return type(sample[0]).__name__


# --- base behaviour ---------------------------------------------------------------------


def test_generic_error_is_exception_and_agentflow_error():
    err = GenericAgentFlowError("boom", "x")
    assert isinstance(err, Exception)
    assert isinstance(err, AgentFlowError)


def test_from_json_rebuilds_message_and_code():
    err = AgentFlowError.from_json({"message": "remote failure", "code": "remote_code"})
    assert isinstance(err, AgentFlowError)
    assert err.message == "remote failure"
    assert str(err) == "remote failure"
    assert err.code == "remote_code"


def test_from_json_ignores_non_string_values():
    err = AgentFlowError.from_json({"message": 42, "code": None})
    assert err.message == "Unknown error"
    assert err.code == "unknown"


def test_from_json_of_empty_mapping_uses_defaults():
    err = GenericAgentFlowError.from_json({})
    assert (err.message, err.code) == ("Unknown error", "unknown")


def test_generic_error_code_is_per_instance():
    first = GenericAgentFlowError("a", "one")
    second = GenericAgentFlowError("b", "two")
    assert (first.code, second.code) == ("one", "two")
    assert GenericAgentFlowError.code == "unknown"


def test_base_class_cannot_be_raised_directly():
    with pytest.raises(TypeError, match="abstract"):
        AgentFlowError("x")


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids)
def test_every_error_has_its_code(sample):
    err, code = sample
    assert err.code == code


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids)
def test_every_error_is_agentflow_error_and_exception(sample):
    err, _ = sample
    assert isinstance(err, AgentFlowError)
    assert isinstance(err, Exception)


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids)
def test_every_error_has_name_and_non_empty_message(sample):
    err, _ = sample
    assert err.name == type(err).__name__
    assert err.message
    assert str(err) == err.message


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids)
def test_to_json_has_common_keys_and_is_json_serialisable(sample):
    err, code = sample
    data = err.to_json()
    assert data["name"] == type(err).__name__
    assert data["code"] == code
    assert data["message"] == err.message
    assert data["cause"] is None
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("sample", SAMPLES, ids=_ids)
def test_every_error_survives_pickle_with_its_fields(sample):
    err, _ = sample
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is type(err)
    assert clone.to_json() == err.to_json()
    assert str(clone) == str(err)


def test_every_error_class_in_the_module_has_a_sample():
    classes = {
        obj
        for obj in vars(errors_module).values()
        if isinstance(obj, type) and issubclass(obj, AgentFlowError) and obj is not AgentFlowError
    }
    assert classes == {type(err) for err, _ in SAMPLES}


def test_codes_are_unique():
    codes = [code for _, code in SAMPLES]
    assert len(codes) == len(set(codes))


# --- cause ----------------------------------------------------------------------------


def test_cause_is_stored_and_chained():
    original = OSError("disk gone")
    err = McpServerStartFailedError("fs", "spawn failed", cause=original)
    assert err.cause is original
    assert err.__cause__ is original


def test_to_json_cause_of_plain_exception_is_its_message():
    err = McpServerStartFailedError("fs", "spawn failed", cause=OSError("disk gone"))
    assert err.to_json()["cause"] == "disk gone"


def test_to_json_cause_of_agentflow_error_is_nested_json():
    inner = TaskTimeoutError("t", 1000)
    outer = NodeMaxRetriesError("t", [], cause=inner)
    assert outer.to_json()["cause"] == inner.to_json()
    assert outer.to_json()["cause"]["code"] == "timeout"


def test_to_json_cause_of_raw_value_is_kept():
    err = GenericAgentFlowError("m", "c", cause="just a string")
    assert err.to_json()["cause"] == "just a string"
    assert err.__cause__ is None


def test_pickle_keeps_the_cause_chain():
    err = McpServerStartFailedError("fs", "spawn failed", cause=ValueError("inner"))
    clone = pickle.loads(pickle.dumps(err))
    assert isinstance(clone.cause, ValueError)
    assert clone.__cause__ is clone.cause


def test_copy_keeps_fields():
    err = SessionMismatchError("t", "claude", "codex")
    clone = copy.copy(err)
    assert (clone.task_name, clone.expected_runner, clone.actual_runner) == (
        "t",
        "claude",
        "codex",
    )


# --- catalogue (§7.2) -----------------------------------------------------------------


def test_node_max_retries_message_and_json():
    err = NodeMaxRetriesError("summarise", ATTEMPTS)
    assert err.code == "node_max_retries"
    assert "summarise" in err.message
    assert "2 attempts" in err.message
    assert "bad json" in err.message
    data = err.to_json()
    assert data["name"] == "NodeMaxRetriesError"
    assert data["code"] == "node_max_retries"
    assert data["taskName"] == "summarise"
    assert data["attempts"] == [a.to_wire() for a in ATTEMPTS]
    assert data["attempts"][0] == {
        "attempt": 0,
        "error": "first failure",
        "errorCode": "subprocess_error",
    }


def test_node_max_retries_accepts_wire_dicts_as_attempts():
    err = NodeMaxRetriesError(
        "t", [{"attempt": 0, "error": "x", "errorCode": "timeout"}, ATTEMPTS[0]]
    )
    assert err.attempts[0] == AttemptRecord(attempt=0, error="x", error_code="timeout")
    assert err.attempts[1] is ATTEMPTS[0]


def test_node_max_retries_with_no_attempts_says_unknown():
    err = NodeMaxRetriesError("t", [])
    assert "0 attempts" in err.message
    assert "unknown" in err.message


def test_node_max_retries_single_attempt_is_singular():
    err = NodeMaxRetriesError("t", ATTEMPTS[:1])
    assert "1 attempt;" in err.message


def test_attempt_record_rejects_unknown_error_code():
    with pytest.raises(PydanticValidationError, match=r"error_code|errorCode"):
        AttemptRecord(attempt=0, error="x", error_code="not_a_kind")


def test_loop_max_iterations():
    err = LoopMaxIterationsError("refine", 5)
    assert err.code == "loop_max_iterations"
    assert "refine" in err.message
    assert "5" in err.message
    data = err.to_json()
    assert (data["name"], data["code"], data["message"]) == (
        "LoopMaxIterationsError",
        "loop_max_iterations",
        err.message,
    )
    assert data["maxIterations"] == 5


def test_tool_not_used_lists_every_tool():
    err = ToolNotUsedError("t", ["read_file", "write_file"])
    assert err.code == "tool_not_used"
    assert "read_file" in err.message
    assert "write_file" in err.message
    assert err.to_json()["requiredTools"] == ["read_file", "write_file"]


def test_budget_exceeded_shows_amounts_with_four_decimals():
    err = BudgetExceededError(10.0, 12.5)
    assert err.code == "budget_exceeded"
    assert "12.5000" in err.message
    assert "10.0000" in err.message
    assert (err.max_cost, err.actual_cost) == (10.0, 12.5)


def test_validation_error_json_has_string_message():
    err = ValidationError("t", "field x required")
    assert err.code == "validation_error"
    data = err.to_json()
    assert data["name"] == "ValidationError"
    assert data["code"] == "validation_error"
    assert isinstance(data["message"], str)
    assert "field x required" in data["message"]
    assert data["zodError"] == "field x required"


def test_validation_error_accepts_an_exception_as_detail():
    err = ValidationError("t", ValueError("not a number"))
    assert "not a number" in err.message
    assert err.to_json()["zodError"] == "not a number"


def test_agent_hitl_conflict_names_task_and_advises_pre_allowing():
    err = AgentHitlConflictError("deploy")
    assert err.code == "agent_hitl_conflict"
    assert "deploy" in err.message
    assert "Pre-allow" in err.message


def test_pre_flight_error_lists_every_error_with_a_bullet():
    err = PreFlightError(["runner missing", "bad model"], ["slow"])
    assert err.code == "pre_flight_error"
    assert "✗ runner missing" in err.message
    assert "✗ bad model" in err.message
    assert err.warnings == ["slow"]
    assert err.to_json()["warnings"] == ["slow"]


def test_path_traversal_exposes_path_and_reason():
    err = PathTraversalError("../etc", "leaves the workspace")
    assert err.code == "path_traversal"
    assert err.path == "../etc"
    assert err.reason == "leaves the workspace"
    assert "../etc" in err.message
    assert "leaves the workspace" in err.message
    data = err.to_json()
    assert (data["path"], data["reason"]) == ("../etc", "leaves the workspace")


def test_session_mismatch_names_task_and_both_runners():
    err = SessionMismatchError("review", "claude", "codex")
    assert err.code == "session_mismatch"
    for part in ("review", "claude", "codex"):
        assert part in err.message


def test_timeout_error_names_task_and_milliseconds():
    err = TaskTimeoutError("task1", 30000)
    assert err.code == "timeout"
    assert "task1" in err.message
    assert "30000" in err.message
    assert err.to_json()["timeoutMs"] == 30000


def test_timeout_alias_is_task_timeout_error_and_not_the_builtin():
    assert errors_module.TimeoutError is TaskTimeoutError
    assert not issubclass(TaskTimeoutError, TimeoutError)  # the builtin


def test_invalid_identifier_message():
    err = InvalidIdentifierError("runner", "my runner!")
    assert err.code == "invalid_identifier"
    assert "runner" in err.message
    assert "my runner!" in err.message
    assert "invalid characters" in err.message
    assert "^[a-zA-Z0-9._-]+$" in err.message
    assert (err.field, err.value) == ("runner", "my runner!")


def test_invalid_identifier_message_for_empty_value():
    err = InvalidIdentifierError("model", "")
    assert "empty" in err.message
    assert "invalid characters" in err.message


def test_invalid_identifier_shows_control_characters_escaped():
    err = InvalidIdentifierError("runner", "a\nb")
    assert "\n" not in err.message
    assert '"a\\nb"' in err.message


def test_inline_tools_not_supported_names_runner():
    err = InlineToolsNotSupportedError("claude")
    assert "claude" in err.message
    assert "inline tool" in err.message


def test_mcp_tool_not_permitted_names_server_slash_tool():
    err = McpToolNotPermittedError("filesystem", "exec_anywhere")
    assert err.code == "mcp_tool_not_permitted"
    assert "filesystem/exec_anywhere" in err.message


def test_mcp_server_start_failed():
    err = McpServerStartFailedError("fs", "command not found")
    assert err.code == "mcp_server_start_failed"
    assert "fs" in err.message
    assert "command not found" in err.message


@pytest.mark.parametrize(("exit_code", "shown"), [(None, "unknown"), (137, "137")])
def test_mcp_server_crashed_exit_code(exit_code, shown):
    err = McpServerCrashedError("fs", exit_code)
    assert f"exit code {shown}" in err.message
    assert err.to_json()["exitCode"] == exit_code


@pytest.mark.parametrize(
    "err",
    [
        McpToolNotFoundError("srv", "tool"),
        McpToolArgInvalidError("srv", "tool", "detail text"),
        McpToolCallFailedError("srv", "tool", "detail text"),
        McpTimeoutError("srv", "tool", 2500),
    ],
    ids=lambda e: type(e).__name__,
)
def test_mcp_tool_errors_name_server_slash_tool(err):
    assert "srv/tool" in err.message
    assert err.to_json()["serverName"] == "srv"
    assert err.to_json()["toolName"] == "tool"


def test_mcp_tool_detail_and_timeout_in_messages():
    assert "detail text" in McpToolArgInvalidError("s", "t", "detail text").message
    assert "detail text" in McpToolCallFailedError("s", "t", "detail text").message
    assert "2500ms" in McpTimeoutError("s", "t", 2500).message
    assert "bad frame" in McpProtocolError("s", "bad frame").message


# --- workflow-definition errors -------------------------------------------------------


def test_cyclic_dependency_joins_cycle_with_arrows():
    err = CyclicDependencyError(["a", "b", "a"])
    assert "a → b → a" in err.message
    assert err.cycle == ["a", "b", "a"]
    assert err.to_json()["cycle"] == ["a", "b", "a"]


def test_session_cycle_joins_cycle_with_arrows():
    err = SessionCycleError(["x", "y", "x"])
    assert "x → y → x" in err.message
    assert err.to_json()["cycle"] == ["x", "y", "x"]


def test_unresolved_dependency_message_and_fields():
    err = UnresolvedDependencyError("fix", "fx", ["plan", "fix", "review"])
    assert "fix" in err.message
    assert '"fx"' in err.message
    assert "plan, fix, review" in err.message
    data = err.to_json()
    assert data["taskName"] == "fix"
    assert data["unresolvedDep"] == "fx"
    assert data["availableTaskNames"] == ["plan", "fix", "review"]


def test_unresolved_session_ref_names_both_tasks():
    err = UnresolvedSessionRefError("review", "analyse")
    assert '"review"' in err.message
    assert '"analyse"' in err.message
    assert err.to_json()["targetTask"] == "analyse"


def test_workflow_definition_error_with_task():
    err = WorkflowDefinitionError('depends on unknown task "fx"', task_name="fix")
    assert err.message == 'Task "fix": depends on unknown task "fx"'
    assert err.to_json()["taskName"] == "fix"
    assert err.to_json()["problem"] == 'depends on unknown task "fx"'


def test_workflow_definition_error_without_task():
    err = WorkflowDefinitionError("the workflow has no tasks")
    assert err.message == "Invalid workflow: the workflow has no tasks"
    assert err.task_name is None


def test_workflow_not_exposable_message_prefix():
    assert WorkflowNotExposableError().message.startswith("WORKFLOW_NOT_MCP_EXPOSABLE:")
    named = WorkflowNotExposableError("triage")
    assert named.message.startswith("WORKFLOW_NOT_MCP_EXPOSABLE:")
    assert '"triage"' in named.message


def test_errors_can_be_raised_and_caught_as_base_class():
    with pytest.raises(AgentFlowError) as caught:
        raise TaskTimeoutError("t", 5)
    assert caught.value.code == "timeout"


def test_sole_error_unwraps_nested_groups_of_one_and_keeps_real_groups() -> None:
    inner = ValueError("the one")
    nested = BaseExceptionGroup("outer", [ExceptionGroup("inner", [inner])])
    assert sole_error(nested) is inner
    several = ExceptionGroup("two", [ValueError("a"), KeyError("b")])
    assert sole_error(several) is several  # two errors: nothing to choose
    wrapped_several = ExceptionGroup("outer", [several])
    assert sole_error(wrapped_several) is several
    plain = RuntimeError("plain")
    assert sole_error(plain) is plain
