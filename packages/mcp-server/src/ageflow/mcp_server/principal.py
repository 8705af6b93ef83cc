"""Who a task belongs to: the principal of the request that created it.

On Streamable HTTP the principal is the bearer token the request carried (stored only as a
digest), or ``http:anonymous`` on a loopback server without auth; on stdio it is the local
process on the other end of the pipe, ``stdio``. The MCP session plays no part, so a client
that reconnects (or a server restarted on the same job file) still finds its tasks, and
another principal is told the task does not exist.

The HTTP transport sets the principal for the request it serves in a context variable; the
handlers run in that context (or in tasks started from it) and read it back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

STDIO_PRINCIPAL: Final = "stdio"
ANONYMOUS_HTTP_PRINCIPAL: Final = "http:anonymous"
PRINCIPAL_KEY: Final = "principal"  # in a run's RunPolicy.extra

_current: ContextVar[str] = ContextVar("ageflow_mcp_principal", default=STDIO_PRINCIPAL)


def http_principal(token: str | None) -> str:
    """The principal of an HTTP request authenticated by ``token`` (None: no auth)."""
    if token is None:
        return ANONYMOUS_HTTP_PRINCIPAL
    return "http:" + hashlib.sha256(token.encode()).hexdigest()[:32]


def current_principal() -> str:
    return _current.get()


@contextmanager
def acting_as(principal: str) -> Iterator[None]:
    """Serve the block (and the tasks it starts) on behalf of ``principal``."""
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)
