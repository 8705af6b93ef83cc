"""Run requests: a resume or cancel for a run that another live process owns.

Only the owner of a run may act on it, so a server that gets ``resume`` or ``cancel`` for a
run another process executes posts the request to the shared store instead. The owner
takes it (the store hands each request to the run's current owner only, once) and acts
as if it had been called itself. A store that can also *notify* (PostgreSQL's
LISTEN/NOTIFY) wakes the owner at once; without notices the owner still finds requests
on its lease-renewal beat. A run that changes owner keeps its requests: the process that
takes it over finds them.

This is an optional capability of a :class:`~ageflow.server.store.RunStore`: stores that
serve one process (memory) have no other owner to reach and leave it out.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from anyio.streams.memory import MemoryObjectReceiveStream

RequestKind = Literal["resume", "cancel"]


@dataclass(frozen=True)
class RunRequest:
    """What another process asks of a run's owner. ``approved`` is the resume answer."""

    run_id: str
    kind: RequestKind
    approved: bool | None = None


@runtime_checkable
class RunRequestStore(Protocol):
    async def post_request(self, request: RunRequest) -> bool:
        """Store a request for its run's owner (and notify the owners). False when the
        run is unknown."""
        ...

    async def take_requests(self, owner: str) -> list[RunRequest]:
        """Remove and return, oldest first, the requests for runs ``owner`` holds now."""
        ...

    def request_notices(self) -> AbstractAsyncContextManager[MemoryObjectReceiveStream[str]]:
        """A stream that yields a run id (or ``"*"``: look at every run) whenever requests
        may be waiting. It reconnects by itself after a connection loss, yielding ``"*"``
        once it is back, since notices sent meanwhile are lost."""
        ...
