"""RequestRelay: the runner's side of run requests (see ``ageflow.server.requests``).

It posts a request when a run belongs to another live process, and takes and applies the
requests posted for the runs this process owns: at once on a store notice, and on every
lease-renewal beat in case a notice was lost.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio

from ageflow.server.errors import RunStoreError
from ageflow.server.records import UNFINISHED_STATES
from ageflow.server.requests import RunRequest, RunRequestStore
from ageflow.server.store import RunStore

logger = logging.getLogger("ageflow.server")

# How long a forwarded cancel waits for the owner to record it before answering.
FORWARDED_CANCEL_WAIT_S = 5.0
_POLL_S = 0.01

ApplyRequest = Callable[[RunRequest], Awaitable[bool]]


class RequestRelay:
    """Requests between this runner and the other owners of a shared store."""

    def __init__(self, store: RunStore, owner_id: str, apply: ApplyRequest) -> None:
        self._store = store if isinstance(store, RunRequestStore) else None
        self._runs = store
        self._owner_id = owner_id
        self._apply = apply
        self._draining = anyio.Lock()

    @property
    def enabled(self) -> bool:
        """Whether the store carries requests to other processes."""
        return self._store is not None

    async def post(self, request: RunRequest) -> bool:
        assert self._store is not None
        return await self._store.post_request(request)

    async def wait_until_finished(self, run_id: str) -> None:
        """Wait (bounded) until the stored run has left its unfinished states."""
        with anyio.move_on_after(FORWARDED_CANCEL_WAIT_S):
            while True:
                record = await self._runs.get_run(run_id)
                if record is None or record.state not in UNFINISHED_STATES:
                    return
                await anyio.sleep(_POLL_S)

    async def drain(self) -> None:
        """Apply every request waiting for a run this process owns."""
        if self._store is None:
            return
        async with self._draining:  # one taker at a time keeps the order of requests
            requests = await self._store.take_requests(self._owner_id)
            for request in requests:
                if not await self._apply(request):
                    # The run is ours but not running here yet (a takeover in progress):
                    # put the request back for the next beat.
                    await self._store.post_request(request)

    async def listen(self) -> None:
        """Drain whenever the store says requests may be waiting (forever)."""
        if self._store is None:
            return
        async with self._store.request_notices() as notices:
            async for _ in notices:
                try:
                    await self.drain()
                except RunStoreError as exc:  # the renewal beat tries again
                    logger.warning("ageflow: could not take run requests: %s", exc)
