"""The official MCP conformance suite (npm ``@modelcontextprotocol/conformance``) against
``ageflow mcp serve --http``.

The scenarios that need the suite's own demo tools are named, each with its reason, in
conformance-baseline.yml; the suite itself fails the run when any other scenario fails or
warns, or when a listed one passes. The scenarios a workflow server must pass are checked
one by one as well, so a change to the suite's selection cannot drop one unseen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from node_clients import NODE_DIR, conformance, copy_workflow, http_server

pytestmark = pytest.mark.anyio

MUST_PASS = (
    "server-initialize",
    "ping",
    "tools-list",
    "tools-call-error",
    "logging-set-level",
    "dns-rebinding-protection",
    "server-sse-multiple-streams",
)


def verdicts(checks: list[Any]) -> set[str]:
    return {check["status"] for check in checks}


async def test_conformance_server_suite_passes_all_that_applies(tmp_path: Path) -> None:
    workflow = copy_workflow(tmp_path, "node_review_workflow.py")
    baseline = NODE_DIR / "conformance-baseline.yml"
    async with http_server(workflow, "--async", "--job-db", str(tmp_path / "jobs.sqlite")) as url:
        code, output, checks = await conformance(
            url, tmp_path / "out", "--expected-failures", str(baseline)
        )
    assert code == 0, output
    for scenario in MUST_PASS:
        assert scenario in checks, f"{scenario} did not run:\n{output}"
        assert "SUCCESS" in verdicts(checks[scenario]), checks[scenario]
        assert verdicts(checks[scenario]) <= {"SUCCESS", "INFO"}, checks[scenario]


async def test_conformance_sse_polling_resumes_a_closed_stream(tmp_path: Path) -> None:
    # The scenario calls the suite's test_reconnection tool: we serve a workflow of that
    # name whose task runs long enough for the server to close the stream mid-call.
    workflow = copy_workflow(tmp_path, "node_reconnection_workflow.py")
    async with http_server(workflow) as url:
        code, output, checks = await conformance(
            url, tmp_path / "out", "--scenario", "server-sse-polling"
        )
    assert code == 0, output
    assert verdicts(checks["server-sse-polling"]) <= {"SUCCESS", "INFO"}, output
    assert "SUCCESS" in verdicts(checks["server-sse-polling"]), output
