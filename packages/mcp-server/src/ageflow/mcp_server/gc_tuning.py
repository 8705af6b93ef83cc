"""Garbage-collector settings for a long-running server process.

Every job allocates many short-lived objects (events, records, pydantic models), so with
CPython's defaults a collection runs every few hundred allocations and a full one
regularly re-scans everything the process imported. Measured on the MCP job benchmark,
that was about half of the runner's time per job. Serving therefore freezes what exists
at start (imports, workflow definitions: they live as long as the process) out of
collections, and collects the youngest generation less often. Reference cycles are
still collected; they only wait a little longer.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 10_000


def tune_gc_for_serving() -> None:
    """Apply the settings above; called by the transports when they start serving."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_GENERATION_THRESHOLD), middle, old)
