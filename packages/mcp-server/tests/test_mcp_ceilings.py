import pytest

from ageflow.core import McpExposureConfig, ResolvedMcpConfig
from ageflow.core.workflow import WorkflowDef
from ageflow.mcp_server.ceilings import CliCeilings, EffectiveCeilings, compose_ceilings
from ageflow.mcp_server.errors import ErrorCode, McpServerError
from ageflow.server import RunPolicy

WF = ResolvedMcpConfig(max_cost_usd=10.0, max_duration_sec=1800.0, max_turns=100)
UNLIMITED = ResolvedMcpConfig(max_cost_usd=None, max_duration_sec=None, max_turns=None)


def test_no_operator_values_keep_the_workflow_ceilings():
    composed = compose_ceilings(WF)
    assert composed.ceilings == EffectiveCeilings(10.0, 1800.0, 100)
    assert composed.warnings == ()


def test_lower_operator_value_wins_silently():
    composed = compose_ceilings(WF, CliCeilings(max_cost_usd=5, max_turns=7))
    assert composed.ceilings == EffectiveCeilings(5, 1800.0, 7)
    assert composed.warnings == ()


def test_equal_operator_value_is_not_a_clamp():
    composed = compose_ceilings(WF, CliCeilings(max_duration_sec=1800))
    assert composed.ceilings.max_duration_sec == 1800
    assert composed.warnings == ()


def test_higher_operator_value_is_clamped_with_a_warning_line():
    composed = compose_ceilings(WF, CliCeilings(max_cost_usd=50))
    assert composed.ceilings.max_cost_usd == 10.0
    assert composed.warnings == ("[mcp] CLI max_cost_usd=50 clamped to workflow ceiling 10\n",)


def test_operator_value_applies_when_the_workflow_is_unlimited():
    composed = compose_ceilings(UNLIMITED, CliCeilings(max_cost_usd=5, max_turns=3))
    assert composed.ceilings == EffectiveCeilings(5, None, 3)
    assert composed.warnings == ()


def test_operator_none_cannot_remove_a_workflow_ceiling():
    composed = compose_ceilings(WF, CliCeilings(max_cost_usd=None))
    assert composed.ceilings.max_cost_usd == 10.0
    assert composed.warnings == (
        "[mcp] --no-max-cost-usd ignored: workflow sets max_cost_usd=10 as hard ceiling\n",
    )


def test_both_unlimited_stays_unlimited_without_warning():
    composed = compose_ceilings(UNLIMITED, CliCeilings(None, None, None))
    assert composed.ceilings == EffectiveCeilings(None, None, None)
    assert composed.warnings == ()


def test_every_warning_ends_with_a_newline():
    composed = compose_ceilings(
        WF, CliCeilings(max_cost_usd=99.5, max_duration_sec=None, max_turns=500)
    )
    assert len(composed.warnings) == 3
    assert all(w.endswith("\n") and w.count("\n") == 1 for w in composed.warnings)
    assert "99.5" in composed.warnings[0]


def _workflow(mcp):
    return WorkflowDef(name="wf", tasks={}, mcp=mcp)


def test_workflow_defaults_and_unsafe_unlimited():
    assert compose_ceilings(_workflow(None)).ceilings == EffectiveCeilings(1.0, 300.0, 20)
    unsafe = McpExposureConfig(limits="unsafe-unlimited", max_cost_usd=3)
    composed = compose_ceilings(_workflow(unsafe), CliCeilings(max_turns=4))
    assert composed.ceilings == EffectiveCeilings(None, None, 4)


def test_workflow_opted_out_is_refused_with_the_mcp_code():
    with pytest.raises(McpServerError) as info:
        compose_ceilings(_workflow(False))
    assert info.value.code is ErrorCode.WORKFLOW_NOT_MCP_EXPOSABLE
    assert info.value.message.startswith("WORKFLOW_NOT_MCP_EXPOSABLE:")


@pytest.mark.parametrize(
    "bad",
    [
        {"max_cost_usd": -1},
        {"max_duration_sec": 0},
        {"max_duration_sec": float("nan")},
        {"max_turns": 1.5},
        {"max_turns": True},
    ],
)
def test_invalid_operator_values_are_rejected(bad):
    with pytest.raises(ValueError, match=r"must be a (positive|non-negative)"):
        CliCeilings(**bad)


def test_a_zero_cost_ceiling_is_allowed_and_lowers_the_workflows():
    # `--max-cost 0` (accepted by the CLI, as in the original): nothing may be spent.
    composed = compose_ceilings(WF, CliCeilings(max_cost_usd=0))
    assert composed.ceilings == EffectiveCeilings(0, 1800.0, 100)
    assert composed.warnings == ()


def test_run_policy_fields_from_a_start_time():
    ceilings = EffectiveCeilings(0.5, 2.5, 9)
    assert ceilings.run_policy_fields(1_000) == {
        "max_cost_usd": 0.5,
        "deadline_at": 3_500,
        "max_turns": 9,
    }
    policy = ceilings.apply_to(RunPolicy(checkpoint="reject", extra={"k": 1}), 1_000)
    assert policy.checkpoint == "reject"
    assert policy.extra == {"k": 1}
    assert (policy.max_cost_usd, policy.deadline_at, policy.max_turns) == (0.5, 3_500, 9)
    unlimited = EffectiveCeilings(None, None, None).apply_to(RunPolicy(max_turns=3), 0)
    assert (unlimited.max_cost_usd, unlimited.deadline_at, unlimited.max_turns) == (
        None,
        None,
        None,
    )
