"""InlineWriter: the common-case commit, done on the event loop's own thread.

With WAL and ``synchronous=NORMAL`` a commit writes into the page cache and does not
fsync: about 20 us, less than handing the write to a thread and waking the loop again.
What can wait without bound is kept off the loop: the connection has a zero busy timeout
(a lock held by another process fails at once with SQLITE_BUSY instead of waiting) and
no automatic checkpoints (the checkpointer thread runs them). A write that would wait is
rolled back and reported as WOULD_WAIT; the store then hands the same write to its
worker thread, which waits out the lock with the busy timeout.

``AGEFLOW_SQLITE_INLINE_FAULT`` is a test hook: ``busy`` makes every inline write report
WOULD_WAIT; ``kill-on-fallback:N`` does too and SIGKILLs the process at the Nth fall-back,
before the thread writes anything (the crash tests use it).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, TypeVar

T = TypeVar("T")


class WouldWait:
    """The type of WOULD_WAIT: an inline attempt that met a lock and wrote nothing."""

    def __repr__(self) -> str:
        return "WOULD_WAIT"


WOULD_WAIT: Final = WouldWait()

# Primary result codes of a write that met a lock: waiting could make it succeed.
_WAITING_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
FAULT_ENV = "AGEFLOW_SQLITE_INLINE_FAULT"


def would_wait(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _WAITING_CODES


@dataclass
class InlineStats:
    """What the loop paid: the stall of each inline commit attempt (the last 65,536, in
    nanoseconds) and how many writes fell back to the worker thread."""

    stalls_ns: deque[int] = field(default_factory=lambda: deque(maxlen=65_536))
    commits: int = 0
    fallbacks: int = 0

    def reset(self) -> None:
        self.stalls_ns.clear()
        self.commits = 0
        self.fallbacks = 0


class InlineWriter:
    def __init__(self, raw: sqlite3.Connection, stats: InlineStats) -> None:
        self.raw = raw
        self.stats = stats
        fault = os.environ.get(FAULT_ENV, "")
        self._always_busy = fault == "busy" or fault.startswith("kill-on-fallback:")
        self._kill_at = int(fault.split(":", 1)[1]) if fault.startswith("kill-on-") else 0

    def attempt(self, op: Callable[[sqlite3.Connection], T]) -> T | WouldWait:
        """Run ``op`` now; WOULD_WAIT (nothing written) when it met a lock.

        ``op`` begins and commits its own transaction, if any; other errors propagate
        (after a rollback of what ``op`` left open).
        """
        if self._always_busy:
            return self._fell_back()
        started = time.perf_counter_ns()
        try:
            result = op(self.raw)
        except sqlite3.Error as exc:
            if self.raw.in_transaction:
                self.raw.rollback()
            self.stats.stalls_ns.append(time.perf_counter_ns() - started)
            if would_wait(exc):
                return self._fell_back()
            raise
        self.stats.stalls_ns.append(time.perf_counter_ns() - started)
        self.stats.commits += 1
        return result

    def _fell_back(self) -> WouldWait:
        self.stats.fallbacks += 1
        if self._kill_at and self.stats.fallbacks >= self._kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return WOULD_WAIT
