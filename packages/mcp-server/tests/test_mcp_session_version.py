"""A session's requests stream at the protocol version the session negotiated.

The conformance suite's server-sse-polling scenario (tests/node) negotiates 2025-11-25 and
then posts its tools/call with an older ``MCP-Protocol-Version`` header; these pin the rule
that keeps such a stream resumable without hiding a bad header from the SDK.
"""

from __future__ import annotations

from typing import Any

from ageflow.mcp_server.http_resume import at_session_version, requested_version


def scope_with(version: str | None) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json")]
    if version is not None:
        headers.append((b"mcp-protocol-version", version.encode()))
    return {"type": "http", "headers": headers}


def declared(scope: dict[str, Any]) -> str | None:
    for key, value in scope["headers"]:
        if key == b"mcp-protocol-version":
            return str(value.decode())
    return None


def test_an_older_known_header_is_raised_to_the_negotiated_version() -> None:
    original = scope_with("2025-03-26")
    raised = at_session_version(original, "2025-11-25")
    assert declared(raised) == "2025-11-25"
    assert declared(original) == "2025-03-26"  # the caller's scope is not changed


def test_newer_absent_or_unknown_headers_and_unknown_sessions_are_left_alone() -> None:
    assert declared(at_session_version(scope_with("2025-11-25"), "2025-06-18")) == "2025-11-25"
    assert declared(at_session_version(scope_with(None), "2025-11-25")) is None
    # A bad header stays the SDK's to refuse with 400.
    assert declared(at_session_version(scope_with("1999-01-01"), "2025-11-25")) == "1999-01-01"
    assert declared(at_session_version(scope_with("banana"), "2025-11-25")) == "banana"
    assert declared(at_session_version(scope_with("2025-03-26"), None)) == "2025-03-26"


def test_the_requested_version_counts_only_when_the_server_speaks_it() -> None:
    def initialize(params: Any) -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}

    assert requested_version(initialize({"protocolVersion": "2025-11-25"})) == "2025-11-25"
    assert requested_version(initialize({"protocolVersion": "2099-01-01"})) is None
    assert requested_version(initialize({"protocolVersion": 7})) is None
    assert requested_version(initialize(None)) is None
    assert requested_version(["not", "a", "message"]) is None
