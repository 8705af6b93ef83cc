"""The request checks of the HTTP transport, free of any web framework.

Client IP, bearer auth, the per-IP rate limiter, CORS and the DNS-rebinding checks on the
``Host`` and ``Origin`` headers: each is a small pure piece the ASGI app in
:mod:`ageflow.mcp_server.http` calls in order.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
"""Host names that only reach this machine (exact match: ``0.0.0.0`` is not one)."""

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
"""Bind addresses meaning "every interface": never a name a client can use."""

RATE_LIMIT_TABLE_CAP = 10_000
"""At most this many client IPs are tracked; the oldest are evicted beyond it."""

CORS_ALLOW_METHODS = "GET, POST, DELETE, OPTIONS"
CORS_ALLOW_HEADERS = (
    "Content-Type, Authorization, Mcp-Session-Id, Accept, MCP-Protocol-Version, Last-Event-ID"
)
CORS_EXPOSE_HEADERS = "Mcp-Session-Id"
CORS_MAX_AGE = "86400"

_BEARER = re.compile(r"bearer\s+(.+)", re.IGNORECASE | re.DOTALL)


def is_loopback_host(host: str) -> bool:
    return host in LOOPBACK_HOSTS


def client_ip(peer: str | None, forwarded_for: str | None, *, trust_proxy: bool) -> str:
    """The client's IP: the first ``X-Forwarded-For`` hop behind a trusted proxy, else the
    socket peer, else ``"unknown"``."""
    if trust_proxy and forwarded_for:
        first = forwarded_for.split(",", 1)[0].strip()
        if first:
            return first
    return peer or "unknown"


def bearer_token_matches(authorization: str | None, token: str) -> bool:
    """Whether an ``Authorization`` header is ``Bearer <token>`` (scheme in any case).

    The token is compared with :func:`hmac.compare_digest` so the time taken does not
    reveal how much of a guess was right.
    """
    if authorization is None:
        return False
    match = _BEARER.fullmatch(authorization.strip())
    if match is None:
        return False
    return hmac.compare_digest(match.group(1).encode(), token.encode())


class FixedWindowRateLimiter:
    """At most ``max_requests`` per client IP in each window of ``window_seconds``.

    A client's window starts with its first request and restarts with the first request
    after it elapsed. The table is kept bounded: on every check, entries whose window
    started more than two windows ago are dropped, and beyond :data:`RATE_LIMIT_TABLE_CAP`
    entries the oldest inserted go first, so a flood of distinct IPs cannot grow memory.
    """

    def __init__(
        self,
        window_seconds: float,
        max_requests: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        cap: int = RATE_LIMIT_TABLE_CAP,
    ) -> None:
        self._window = window_seconds
        self._max = max_requests
        self._clock = clock
        self._cap = cap
        # ip -> (window start, count); dict order is insertion order, oldest first.
        self._table: dict[str, tuple[float, int]] = {}

    @property
    def size(self) -> int:
        return len(self._table)

    def allow(self, ip: str) -> bool:
        now = self._clock()
        self._prune(now)
        entry = self._table.get(ip)
        if entry is None or now - entry[0] >= self._window:
            # Re-insert so a restarted window counts as the newest entry for eviction.
            self._table.pop(ip, None)
            self._table[ip] = (now, 1)
            return True
        start, count = entry
        if count >= self._max:
            return False
        self._table[ip] = (start, count + 1)
        return True

    def _prune(self, now: float) -> None:
        # A window's start only changes when its entry is re-inserted at the end, so the
        # table is ordered by start time and the stale entries are always at the front.
        while self._table:
            oldest = next(iter(self._table))
            if now - self._table[oldest][0] <= 2 * self._window:
                break
            del self._table[oldest]
        while len(self._table) >= self._cap:
            del self._table[next(iter(self._table))]


class CorsPolicy:
    """Which browser origins may call the server, and the headers that say so.

    ``origins`` is ``"*"``, one origin or a list of origins; None (or an empty list)
    turns CORS off. A request's own origin is echoed only when it equals a configured one.
    """

    def __init__(self, origins: str | Sequence[str] | None) -> None:
        listed = (origins,) if isinstance(origins, str) else tuple(origins or ())
        self.any_origin = "*" in listed
        self._origins = frozenset(listed)

    @property
    def enabled(self) -> bool:
        return bool(self._origins)

    def allows(self, origin: str | None) -> bool:
        return origin is not None and (self.any_origin or origin in self._origins)

    def headers(self, origin: str | None) -> list[tuple[str, str]]:
        """The CORS response headers for a request from ``origin``; none when not allowed."""
        if not self.allows(origin):
            return []
        assert origin is not None
        headers = [
            ("Access-Control-Allow-Origin", "*" if self.any_origin else origin),
            ("Access-Control-Allow-Methods", CORS_ALLOW_METHODS),
            ("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS),
            # Without this a browser client cannot read its session id (D33).
            ("Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS),
            ("Access-Control-Max-Age", CORS_MAX_AGE),
        ]
        if not self.any_origin:
            headers.append(("Vary", "Origin"))
        return headers


def _split_host(value: str) -> tuple[str, str | None]:
    """``host[:port]`` (IPv6 in brackets) → (lower-case host without brackets, port)."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return value, None
        rest = value[end + 1 :]
        return value[1:end], rest[1:] if rest.startswith(":") else None
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port
    return value, None


@dataclass(frozen=True, slots=True)
class _HostEntry:
    host: str
    port: str | None


class RebindingGuard:
    """DNS-rebinding protection: the ``Host`` and ``Origin`` headers must name this server.

    A web page on an attacker's domain that re-resolves to 127.0.0.1 still sends its own
    domain in ``Host`` and ``Origin``; refusing those keeps a browser from talking to a
    local server on the page's behalf. Accepted ``Host`` values: a loopback name (any
    port), the bound host unless it is a wildcard address, and each ``allowed_hosts``
    entry (``name`` matches any port, ``name:port`` only that port). An ``Origin`` must
    be allowed by the CORS policy or be a loopback origin.
    """

    def __init__(self, bound_host: str, allowed_hosts: Sequence[str] | None) -> None:
        names = set(LOOPBACK_HOSTS)
        bound, _ = _split_host(bound_host)
        if bound not in WILDCARD_HOSTS:
            names.add(bound)
        self._names = frozenset(names)
        self._entries = tuple(_HostEntry(*_split_host(entry)) for entry in allowed_hosts or ())

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        host, port = _split_host(host_header)
        if host in self._names:
            return True
        return any(
            entry.host == host and (entry.port is None or entry.port == port)
            for entry in self._entries
        )

    @staticmethod
    def origin_allowed(origin: str | None, cors: CorsPolicy) -> bool:
        if origin is None or cors.allows(origin):
            return True
        try:
            parts = urlsplit(origin)
            hostname = parts.hostname
        except ValueError:
            return False
        return parts.scheme in ("http", "https") and hostname in LOOPBACK_HOSTS
