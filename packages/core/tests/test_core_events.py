"""Events, run handles and metrics on the wire: original type strings, camelCase keys."""

from __future__ import annotations

import json
import traceback
from typing import Any, get_args

import pytest
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from ageflow.core import (
    TERMINAL_RUN_STATES,
    BudgetWarningEvent,
    CheckpointEvent,
    ErrorInfo,
    GenericAgentFlowError,
    LoopIterationEvent,
    NodeMaxRetriesError,
    RunHandle,
    RunState,
    TaskCompleteEvent,
    TaskErrorEvent,
    TaskMetrics,
    TaskRestoredEvent,
    TaskRetryEvent,
    TaskSkipEvent,
    TaskStartEvent,
    WireModel,
    WorkflowCompleteEvent,
    WorkflowErrorEvent,
    WorkflowMetrics,
    WorkflowResult,
    WorkflowStartEvent,
    compact_json,
    now_ms,
    parse_event,
)

BASE = {"run_id": "run-1", "workflow_name": "triage", "timestamp": 1_700_000_000_000}
WIRE_BASE = {"runId": "run-1", "workflowName": "triage", "timestamp": 1_700_000_000_000}

METRICS = TaskMetrics(
    tokens_in=10, tokens_out=20, latency_ms=1.5, retries=1, estimated_cost=0.25, prompt_sent="p"
)
METRICS_WIRE = {
    "tokensIn": 10,
    "tokensOut": 20,
    "latencyMs": 1.5,
    "retries": 1,
    "estimatedCost": 0.25,
    "promptSent": "p",
}
TOTALS = WorkflowMetrics(
    total_latency_ms=9.0,
    total_tokens_in=10,
    total_tokens_out=20,
    total_estimated_cost=0.25,
    task_count=2,
)
TOTALS_WIRE = {
    "totalLatencyMs": 9.0,
    "totalTokensIn": 10,
    "totalTokensOut": 20,
    "totalEstimatedCost": 0.25,
    "taskCount": 2,
}
ERROR = ErrorInfo(name="NodeMaxRetriesError", message="gave up", code="node_max_retries")
ERROR_WIRE = {"name": "NodeMaxRetriesError", "message": "gave up", "code": "node_max_retries"}

# (event, its complete wire form beyond the common keys)
SAMPLES: list[tuple[BaseModel, dict[str, Any]]] = [
    (
        WorkflowStartEvent(**BASE, input={"text": "hi"}),
        {"type": "workflow:start", "input": {"text": "hi"}},
    ),
    (
        TaskStartEvent(**BASE, task_name="classify", step_key="classify"),
        {"type": "task:start", "taskName": "classify", "stepKey": "classify"},
    ),
    (
        TaskCompleteEvent(**BASE, task_name="classify", output={"label": "bug"}, metrics=METRICS),
        {
            "type": "task:complete",
            "taskName": "classify",
            "output": {"label": "bug"},
            "metrics": METRICS_WIRE,
        },
    ),
    (
        TaskErrorEvent(**BASE, task_name="classify", error=ERROR, attempt=2),
        {
            "type": "task:error",
            "taskName": "classify",
            "error": ERROR_WIRE,
            "attempt": 2,
            "terminal": True,
        },
    ),
    (
        TaskRetryEvent(**BASE, task_name="classify", attempt=1, reason="bad json"),
        {"type": "task:retry", "taskName": "classify", "attempt": 1, "reason": "bad json"},
    ),
    (
        TaskSkipEvent(**BASE, task_name="escalate"),
        {"type": "task:skip", "taskName": "escalate", "reason": "skipIf"},
    ),
    (
        TaskRestoredEvent(**BASE, task_name="classify", output=[1, 2], metrics=METRICS),
        {
            "type": "task:restored",
            "taskName": "classify",
            "output": [1, 2],
            "metrics": METRICS_WIRE,
        },
    ),
    (
        LoopIterationEvent(**BASE, task_name="refine", step_key="refine", iteration=0, max=3),
        {
            "type": "loop:iteration",
            "taskName": "refine",
            "stepKey": "refine",
            "iteration": 0,
            "max": 3,
        },
    ),
    (
        CheckpointEvent(**BASE, task_name="escalate", message="Escalate?"),
        {"type": "checkpoint", "taskName": "escalate", "message": "Escalate?"},
    ),
    (
        BudgetWarningEvent(**BASE, spent_usd=1.25, limit_usd=1.0),
        {"type": "budget:warning", "spentUsd": 1.25, "limitUsd": 1.0},
    ),
    (
        WorkflowCompleteEvent(
            **BASE, result=WorkflowResult(outputs={"classify": {"label": "bug"}}, metrics=TOTALS)
        ),
        {
            "type": "workflow:complete",
            "result": {"outputs": {"classify": {"label": "bug"}}, "metrics": TOTALS_WIRE},
        },
    ),
    (
        WorkflowErrorEvent(**BASE, error=ERROR),
        {"type": "workflow:error", "error": ERROR_WIRE},
    ),
]

IDS = [sample[1]["type"] for sample in SAMPLES]


@pytest.mark.parametrize(("event", "extra"), SAMPLES, ids=IDS)
def test_wire_form_has_original_type_and_camel_case_keys(
    event: BaseModel, extra: dict[str, Any]
) -> None:
    assert event.to_wire() == {**WIRE_BASE, **extra}  # type: ignore[attr-defined]


@pytest.mark.parametrize(("event", "extra"), SAMPLES, ids=IDS)
def test_parse_event_round_trips(event: BaseModel, extra: dict[str, Any]) -> None:
    wire = event.to_wire()  # type: ignore[attr-defined]
    parsed = parse_event(wire)
    assert type(parsed) is type(event)
    assert parsed == event
    # and through JSON text, as a server or a journal would carry it
    assert parse_event(json.loads(compact_json(wire))) == event


def test_all_event_type_strings_are_distinct_and_original() -> None:
    assert IDS == [
        "workflow:start",
        "task:start",
        "task:complete",
        "task:error",
        "task:retry",
        "task:skip",
        "task:restored",
        "loop:iteration",
        "checkpoint",
        "budget:warning",
        "workflow:complete",
        "workflow:error",
    ]


def test_parse_event_accepts_snake_case_keys_too() -> None:
    event = parse_event({**BASE, "type": "task:start", "task_name": "a"})
    assert isinstance(event, TaskStartEvent)
    assert event.task_name == "a"


def test_parse_event_rejects_an_unknown_type() -> None:
    with pytest.raises(PydanticValidationError):
        parse_event({**WIRE_BASE, "type": "task:exploded", "taskName": "a"})


def test_parse_event_rejects_a_missing_field() -> None:
    with pytest.raises(PydanticValidationError, match="message"):
        parse_event({**WIRE_BASE, "type": "checkpoint", "taskName": "a"})


def test_parse_event_checks_field_types() -> None:
    complete = parse_event(
        {**WIRE_BASE, "type": "task:complete", "taskName": "a", "metrics": {"tokensIn": 3}}
    )
    assert isinstance(complete, TaskCompleteEvent)
    assert complete.metrics.tokens_in == 3
    with pytest.raises(PydanticValidationError):
        parse_event(
            {
                **WIRE_BASE,
                "type": "task:error",
                "taskName": "a",
                "error": ERROR_WIRE,
                "attempt": "x",
            }
        )


def test_unset_optional_fields_are_left_off_the_wire() -> None:
    wire = TaskStartEvent(**BASE, task_name="a").to_wire()
    assert "stepKey" not in wire
    metrics = TaskMetrics().to_wire()
    assert "promptSent" not in metrics
    assert ErrorInfo(name="E", message="m").to_wire() == {"name": "E", "message": "m"}


def test_every_event_gets_a_timestamp_in_epoch_ms() -> None:
    before = now_ms()
    event = TaskStartEvent(run_id="r", workflow_name="w", task_name="a")
    after = now_ms()
    assert before <= event.timestamp <= after
    assert 1_600_000_000_000 < event.timestamp < 10_000_000_000_000  # ms, not s or ns


def test_events_are_frozen() -> None:
    event = TaskStartEvent(**BASE, task_name="a")
    with pytest.raises(PydanticValidationError):
        event.task_name = "b"  # type: ignore[misc]


def test_task_skip_reason_is_always_skip_if() -> None:
    with pytest.raises(PydanticValidationError):
        TaskSkipEvent(**BASE, task_name="a", reason="other")  # type: ignore[arg-type]


# --- outputs that are pydantic models ----------------------------------------------------


class Triage(BaseModel):
    label: str
    urgent: bool
    note: str | None


def test_event_with_a_model_output_serialises_to_json() -> None:
    event = TaskCompleteEvent(
        **BASE, task_name="t", output=Triage(label="bug", urgent=True, note=None), metrics=METRICS
    )
    wire = event.to_wire()
    assert wire["output"] == {"label": "bug", "urgent": True, "note": None}
    assert json.loads(json.dumps(wire))["output"]["label"] == "bug"
    assert json.loads(event.model_dump_json(by_alias=True))["output"]["urgent"] is True


def test_none_inside_user_output_stays_on_the_wire() -> None:
    # The model's None field is data: dropping it would make the output fail its own model.
    result = WorkflowResult(
        outputs={"t": Triage(label="x", urgent=False, note=None), "skipped": None},
        metrics=TOTALS,
    )
    wire = WorkflowCompleteEvent(**BASE, result=result).to_wire()
    assert wire["result"]["outputs"] == {
        "t": {"label": "x", "urgent": False, "note": None},
        "skipped": None,
    }
    assert Triage.model_validate(wire["result"]["outputs"]["t"]).note is None


def test_none_output_and_input_stay_on_the_wire() -> None:
    assert TaskCompleteEvent(**BASE, task_name="t", metrics=METRICS).to_wire()["output"] is None
    assert WorkflowStartEvent(**BASE).to_wire()["input"] is None


# --- errors ------------------------------------------------------------------------------


def raise_and_catch(error: BaseException) -> BaseException:
    try:
        raise error
    except BaseException as caught:
        return caught


def test_error_info_from_an_ageflow_error() -> None:
    error = raise_and_catch(NodeMaxRetriesError("classify", []))
    info = ErrorInfo.from_exception(error)
    assert info.name == "NodeMaxRetriesError"
    assert info.message == str(error)
    assert info.code == "node_max_retries"
    assert info.stack is not None
    assert "NodeMaxRetriesError" in info.stack
    assert "raise_and_catch" in info.stack
    assert info.stack == "".join(traceback.format_exception(error))


def test_error_info_keeps_a_per_instance_code() -> None:
    info = ErrorInfo.from_exception(GenericAgentFlowError("remote failure", "remote_code"))
    assert (info.name, info.code) == ("GenericAgentFlowError", "remote_code")


def test_error_info_from_a_plain_exception_has_no_code() -> None:
    info = ErrorInfo.from_exception(raise_and_catch(ValueError("bad value")))
    assert (info.name, info.message, info.code) == ("ValueError", "bad value", None)
    assert "ValueError: bad value" in (info.stack or "")


def test_error_info_ignores_a_non_string_code_attribute() -> None:
    assert ErrorInfo.from_exception(SystemExit(3)).code is None


def test_error_info_without_stack() -> None:
    info = ErrorInfo.from_exception(RuntimeError("x"), with_stack=False)
    assert info.stack is None
    assert info.to_wire() == {"name": "RuntimeError", "message": "x"}


def test_error_info_stack_is_on_the_wire() -> None:
    info = ErrorInfo.from_exception(raise_and_catch(KeyError("k")))
    wire = info.to_wire()
    assert wire["name"] == "KeyError"
    assert "KeyError" in wire["stack"]


# --- run handles -------------------------------------------------------------------------


def test_run_handle_wire_keys() -> None:
    checkpoint = CheckpointEvent(**BASE, task_name="escalate", message="ok?")
    handle = RunHandle(
        run_id="run-1",
        state="awaiting-checkpoint",
        workflow_name="triage",
        created_at=1,
        last_event_at=2,
        pending_checkpoint=checkpoint,
    )
    assert handle.to_wire() == {
        "runId": "run-1",
        "state": "awaiting-checkpoint",
        "workflowName": "triage",
        "createdAt": 1,
        "lastEventAt": 2,
        "pendingCheckpoint": {
            **WIRE_BASE,
            "type": "checkpoint",
            "taskName": "escalate",
            "message": "ok?",
        },
    }
    assert RunHandle.model_validate(handle.to_wire()) == handle


def test_finished_run_handles_carry_result_or_error() -> None:
    done = RunHandle(
        run_id="r",
        state="done",
        workflow_name="w",
        created_at=1,
        last_event_at=5,
        result=WorkflowResult(outputs={"a": 1}, metrics=TOTALS),
    )
    assert done.to_wire()["result"] == {"outputs": {"a": 1}, "metrics": TOTALS_WIRE}
    assert "error" not in done.to_wire()
    assert "pendingCheckpoint" not in done.to_wire()
    failed = RunHandle(
        run_id="r",
        state="failed",
        workflow_name="w",
        created_at=1,
        last_event_at=5,
        error=ErrorInfo(name="Error", message="boom"),
    )
    assert failed.to_wire()["error"] == {"name": "Error", "message": "boom"}
    assert "result" not in failed.to_wire()


def test_run_states() -> None:
    assert set(get_args(RunState)) == {
        "running",
        "awaiting-checkpoint",
        "done",
        "failed",
        "cancelled",
    }
    assert frozenset({"done", "failed", "cancelled"}) == TERMINAL_RUN_STATES
    with pytest.raises(PydanticValidationError):
        RunHandle(
            run_id="r",
            state="paused",
            workflow_name="w",
            created_at=1,
            last_event_at=1,  # type: ignore[arg-type]
        )


# --- metrics -----------------------------------------------------------------------------


def test_task_metrics_keys_and_defaults() -> None:
    assert METRICS.to_wire() == METRICS_WIRE
    assert TaskMetrics().to_wire() == {
        "tokensIn": 0,
        "tokensOut": 0,
        "latencyMs": 0,
        "retries": 0,
        "estimatedCost": 0.0,
    }
    assert TaskMetrics.model_validate(METRICS_WIRE) == METRICS


def test_workflow_metrics_keys_and_defaults() -> None:
    assert TOTALS.to_wire() == TOTALS_WIRE
    assert WorkflowMetrics().to_wire() == {
        "totalLatencyMs": 0,
        "totalTokensIn": 0,
        "totalTokensOut": 0,
        "totalEstimatedCost": 0.0,
        "taskCount": 0,
    }
    assert WorkflowMetrics.model_validate(TOTALS_WIRE) == TOTALS


def test_compact_json_has_no_spaces_and_keeps_non_ascii() -> None:
    assert compact_json({"a": [1, 2], "b": "é"}) == '{"a":[1,2],"b":"é"}'


@pytest.mark.parametrize(("event", "extra"), SAMPLES, ids=IDS)
def test_every_event_carries_run_id_workflow_name_and_timestamp(
    event: BaseModel, extra: dict[str, Any]
) -> None:
    parsed = parse_event({**WIRE_BASE, **extra})
    assert (parsed.run_id, parsed.workflow_name, parsed.timestamp) == (
        "run-1",
        "triage",
        1_700_000_000_000,
    )
    assert parsed.type == extra["type"]


def test_parsed_events_have_typed_fields() -> None:
    by_type = {extra["type"]: parse_event({**WIRE_BASE, **extra}) for _, extra in SAMPLES}
    complete = by_type["task:complete"]
    assert isinstance(complete, TaskCompleteEvent)
    assert isinstance(complete.metrics.tokens_in, int)
    retry = by_type["task:retry"]
    assert isinstance(retry, TaskRetryEvent)
    assert isinstance(retry.attempt, int)
    checkpoint = by_type["checkpoint"]
    assert isinstance(checkpoint, CheckpointEvent)
    assert isinstance(checkpoint.message, str)
    error = by_type["task:error"]
    assert isinstance(error, TaskErrorEvent)
    assert error.terminal is True
    assert isinstance(error.attempt, int)
    assert isinstance(error.error, ErrorInfo)
    finished = by_type["workflow:complete"]
    assert isinstance(finished, WorkflowCompleteEvent)
    assert isinstance(finished.result.outputs, dict)
    assert isinstance(finished.result.metrics, WorkflowMetrics)


# --- the wire rule for None --------------------------------------------------------------


class Limits(WireModel):
    ceiling_usd: float | None
    note: str | None = None
    payload: Any = None
    errors: list[ErrorInfo] = []
    by_task: dict[str, ErrorInfo] = {}


def test_required_optional_field_keeps_its_none() -> None:
    # None in a required field is a value ("unlimited"), unlike an unset optional one.
    assert Limits(ceiling_usd=None).to_wire() == {
        "ceilingUsd": None,
        "payload": None,
        "errors": [],
        "byTask": {},
    }


def test_unset_optionals_are_dropped_inside_nested_wire_models() -> None:
    bare = ErrorInfo(name="E", message="m")
    wire = Limits(
        ceiling_usd=1.0, note="n", payload={"k": None}, errors=[bare], by_task={"a": bare}
    ).to_wire()
    assert wire == {
        "ceilingUsd": 1.0,
        "note": "n",
        "payload": {"k": None},
        "errors": [{"name": "E", "message": "m"}],
        "byTask": {"a": {"name": "E", "message": "m"}},
    }


def test_plain_model_dump_is_unchanged() -> None:
    # Only to_wire trims; model_dump keeps every field for Python-side use.
    assert TaskStartEvent(**BASE, task_name="a").model_dump()["step_key"] is None
