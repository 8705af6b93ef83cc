"""RunStream: one server run as an async iterator of its events."""

from __future__ import annotations

import math
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ageflow.core.events import WorkflowEvent
from ageflow.core.metrics import WorkflowResult
from ageflow.core.workflow import WorkflowDef
from ageflow.executor.engine import CheckpointHandler
from ageflow.executor.executor import AbortSignal
from ageflow.server._runner_base import Outcome
from ageflow.server.live import LiveRun
from ageflow.server.records import RunPolicy

if TYPE_CHECKING:
    from ageflow.server.runner import WorkflowRunner


class RunStream:
    """The events of one server run, as ``async with runner.stream(...) as events``.

    The run's error is raised when the iteration ends (after ``workflow:error``); after
    success ``events.result`` holds the result and ``events.run_id`` names the run.
    """

    def __init__(
        self,
        runner: WorkflowRunner,
        workflow: WorkflowDef,
        input: Any,
        on_checkpoint: CheckpointHandler | None,
        signal: AbortSignal | None,
        policy: RunPolicy | None,
        run_id: str | None,
    ) -> None:
        self._runner = runner
        self._workflow = workflow
        self._input = input
        self._on_checkpoint = on_checkpoint
        self._signal = signal
        self._policy = policy
        self._run_id = run_id
        self._send: MemoryObjectSendStream[WorkflowEvent] | None = None
        self._receive: MemoryObjectReceiveStream[WorkflowEvent] | None = None
        self._group: TaskGroup | None = None
        self._live: LiveRun | None = None
        self._outcome = Outcome()

    @property
    def run_id(self) -> str:
        assert self._live is not None, "enter the stream first"
        return self._live.run_id

    @property
    def result(self) -> WorkflowResult:
        if self._outcome.result is None:
            if self._outcome.error is not None:
                raise self._outcome.error
            raise RuntimeError("the run has not completed yet")
        return self._outcome.result

    async def __aenter__(self) -> RunStream:
        self._live = await self._runner._create(
            self._workflow, self._input, self._policy, self._run_id
        )
        self._send, self._receive = anyio.create_memory_object_stream[WorkflowEvent](math.inf)
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._drive)
        return self

    async def _drive(self) -> None:
        assert self._send is not None
        assert self._live is not None
        with self._send:
            self._outcome = await self._runner._execute(
                self._live,
                self._workflow,
                self._input,
                {},
                self._on_checkpoint,
                self._signal,
                self._send.send_nowait,
            )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._group is not None
        assert self._receive is not None
        if self._live is not None and not self._live.done.is_set() and self._live.stream:
            # The consumer left early: the run is cancelled, not left unobserved.
            self._live.cancel_requested = True
            self._live.stream.cancel()
        try:
            await self._group.__aexit__(None, None, None)
        finally:
            self._receive.close()

    def __aiter__(self) -> RunStream:
        return self

    async def __anext__(self) -> WorkflowEvent:
        assert self._receive is not None, "enter the stream first"
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            if self._outcome.error is not None:
                raise self._outcome.error from None
            raise StopAsyncIteration from None
