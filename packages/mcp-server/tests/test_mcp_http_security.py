"""The HTTP transport's request checks on their own: client IP, bearer, rate limiter, CORS,
Host and Origin."""

from __future__ import annotations

import hmac

import pytest

from ageflow.mcp_server import http_security
from ageflow.mcp_server.http_security import (
    CORS_ALLOW_HEADERS,
    CorsPolicy,
    FixedWindowRateLimiter,
    RebindingGuard,
    bearer_token_matches,
    client_ip,
    is_loopback_host,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("LOCALHOST.example", False),
    ],
)
def test_loopback_hosts_are_an_exact_list(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


def test_client_ip_uses_first_forwarded_hop_only_behind_a_trusted_proxy() -> None:
    assert client_ip("10.0.0.9", " 1.2.3.4 , 10.0.0.1", trust_proxy=True) == "1.2.3.4"
    assert client_ip("10.0.0.9", "1.2.3.4", trust_proxy=False) == "10.0.0.9"
    assert client_ip("10.0.0.9", None, trust_proxy=True) == "10.0.0.9"
    assert client_ip("10.0.0.9", " , 1.2.3.4", trust_proxy=True) == "10.0.0.9"
    assert client_ip(None, None, trust_proxy=False) == "unknown"


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        ("BEARER \t s3cret", True),
        ("Bearer s3cret-and-more", False),
        ("Bearer s3cre", False),
        ("Bearers3cret", False),
        ("Basic s3cret", False),
        ("s3cret", False),
        ("Bearer ", False),
        (None, False),
    ],
)
def test_bearer_header_forms(header: str | None, ok: bool) -> None:
    assert bearer_token_matches(header, "s3cret") is ok


def test_bearer_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return compare(a, b)

    monkeypatch.setattr(http_security.hmac, "compare_digest", spy)
    assert bearer_token_matches("Bearer guess", "s3cret") is False
    assert bearer_token_matches("Bearer s3cret", "s3cret") is True
    assert calls == [(b"guess", b"s3cret"), (b"s3cret", b"s3cret")]


def test_rate_limiter_fixed_window_per_ip() -> None:
    clock = FakeClock()
    limiter = FixedWindowRateLimiter(10.0, 2, clock=clock)
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]
    assert limiter.allow("b") is True  # another IP has its own window
    clock.now += 9.9
    assert limiter.allow("a") is False  # still the same window
    clock.now += 0.1
    assert [limiter.allow("a") for _ in range(3)] == [True, True, False]


def test_rate_limiter_drops_entries_older_than_two_windows() -> None:
    clock = FakeClock()
    limiter = FixedWindowRateLimiter(1.0, 5, clock=clock)
    for n in range(20):
        limiter.allow(f"10.0.0.{n}")
    assert limiter.size == 20
    clock.now += 2.5
    limiter.allow("10.0.1.1")
    assert limiter.size == 1


def test_rate_limiter_prunes_by_window_start_not_by_last_request() -> None:
    clock = FakeClock()
    limiter = FixedWindowRateLimiter(1.0, 5, clock=clock)
    limiter.allow("early")
    clock.now += 0.5
    limiter.allow("late")
    clock.now += 0.4
    limiter.allow("early")  # same window: its start stays at 1000.0
    clock.now += 1.2  # "early" started 2.1 s ago, "late" 1.6 s ago
    limiter.allow("other")
    assert limiter.size == 2
    assert limiter.allow("early") is True  # dropped, so a fresh window
    clock.now += 1.0  # "late" started 2.6 s ago: dropped
    limiter.allow("other")
    assert limiter.size == 2  # "early" (restarted) and "other"


def test_rate_limiter_table_is_capped_by_evicting_the_oldest() -> None:
    clock = FakeClock()
    limiter = FixedWindowRateLimiter(60.0, 1, clock=clock, cap=3)
    for ip in ("a", "b", "c", "d", "e"):
        assert limiter.allow(ip)
    assert limiter.size == 3
    # "a" was evicted, so it starts a fresh window; "e" is still limited.
    assert limiter.allow("a") is True
    assert limiter.allow("e") is False


def test_cors_single_origin_never_echoes_another() -> None:
    cors = CorsPolicy("https://app.example")
    headers = dict(cors.headers("https://app.example"))
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "POST" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == CORS_ALLOW_HEADERS
    assert headers["Access-Control-Expose-Headers"] == "Mcp-Session-Id"
    assert headers["Access-Control-Max-Age"] == "86400"
    assert headers["Vary"] == "Origin"
    assert cors.headers("https://evil.example") == []
    assert cors.headers(None) == []


def test_cors_list_and_any_origin() -> None:
    listed = CorsPolicy(["https://a.example", "https://b.example"])
    assert dict(listed.headers("https://b.example"))["Access-Control-Allow-Origin"] == (
        "https://b.example"
    )
    assert listed.headers("https://c.example") == []
    anyone = dict(CorsPolicy("*").headers("https://c.example"))
    assert anyone["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in anyone
    assert not CorsPolicy(None).enabled and not CorsPolicy([]).enabled


@pytest.mark.parametrize(
    ("host_header", "ok"),
    [
        ("127.0.0.1:8080", True),
        ("localhost", True),
        ("LocalHost:1", True),
        ("[::1]:9000", True),
        ("10.1.2.3:5000", True),  # the bound host
        ("mcp.example.com", True),  # allowed_hosts entry without a port: any port
        ("mcp.example.com:8443", True),
        ("api.example.com:9000", True),  # entry with a port: only that port
        ("api.example.com:9001", False),
        ("api.example.com", False),
        ("evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("", False),
        (None, False),
    ],
)
def test_host_header_must_name_this_server(host_header: str | None, ok: bool) -> None:
    guard = RebindingGuard("10.1.2.3", ["mcp.example.com", "api.example.com:9000"])
    assert guard.host_allowed(host_header) is ok


def test_wildcard_bind_address_is_not_an_accepted_host_name() -> None:
    guard = RebindingGuard("0.0.0.0", None)
    assert not guard.host_allowed("0.0.0.0:8080")
    assert guard.host_allowed("localhost:8080")


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        (None, True),
        ("http://localhost:3000", True),
        ("http://127.0.0.1", True),
        ("https://[::1]:8443", True),
        ("https://app.example", True),  # allowed by CORS
        ("http://evil.example", False),
        ("http://localhost.evil.example", False),
        ("file://localhost", False),
        ("null", False),
    ],
)
def test_origin_must_be_loopback_or_allowed_by_cors(origin: str | None, ok: bool) -> None:
    cors = CorsPolicy("https://app.example")
    assert RebindingGuard.origin_allowed(origin, cors) is ok
