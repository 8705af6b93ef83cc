"""What every part of the runner shares: its store, timings, the runs executing here and
the task group they run in. The parts build on it in layers (``_execution``: running one
run; ``_adoption``: taking runs over; ``runner``: the public runner)."""

from __future__ import annotations

from dataclasses import dataclass

from anyio.abc import TaskGroup

from ageflow.core.metrics import WorkflowResult
from ageflow.core.registry import RunnerRegistry
from ageflow.core.workflow import WorkflowDef
from ageflow.server.live import LiveRun
from ageflow.server.records import RunRecord
from ageflow.server.store import RunStore


@dataclass(frozen=True)
class RunnerConfig:
    """Timings of the runner (milliseconds), as in the original unless noted.

    ``ttl_ms``: how long a finished run is kept after its last event. ``checkpoint_ttl_ms``:
    how long a run may wait at a checkpoint before it fails. ``reaper_interval_ms``: how
    often both are checked. ``lease_ms`` (new): how long a run stays owned by this process
    without a renewal; renewals happen every third of it, and runs of dead owners are
    looked for as often.
    """

    ttl_ms: int = 300_000
    checkpoint_ttl_ms: int = 3_600_000
    reaper_interval_ms: int = 60_000
    lease_ms: int = 15_000
    max_concurrency: int | None = None


@dataclass
class Outcome:
    """How one execution of a run ended: its result, or the error it ended with."""

    result: WorkflowResult | None = None
    error: BaseException | None = None


class RunnerBase:
    """The runner's shared state and the registry of the runs executing in this process."""

    def __init__(
        self, store: RunStore, *, registry: RunnerRegistry, config: RunnerConfig, owner_id: str
    ) -> None:
        self.store = store
        self.registry = registry
        self.config = config
        self.owner_id = owner_id
        self._live: dict[str, LiveRun] = {}
        self._workflows: dict[str, WorkflowDef] = {}
        self._group: TaskGroup | None = None
        self._closed = False

    def _require_group(self) -> TaskGroup:
        if self._group is None or self._closed:
            raise RuntimeError("the runner is not open: use `async with create_runner(...)`")
        return self._group

    def _adopt(self, record: RunRecord) -> LiveRun:
        live = LiveRun(record, self.store, self.owner_id)
        live.on_ownership_lost = self._forget
        self._live[record.run_id] = live
        return live

    def _forget(self, live: LiveRun) -> None:
        """Another process owns the run now: answer for it from the store, not memory."""
        if self._live.get(live.run_id) is live:
            del self._live[live.run_id]
