"""Garbage-collector settings for a long-running server process.

Every job allocates many short-lived objects (events, records, pydantic models), so with
CPython's defaults a collection runs every few hundred allocations and a full one
regularly re-scans everything the process imported. Measured on the MCP job benchmark,
that was about half of the runner's time per job. A server process therefore freezes what
exists at start (imports, workflow definitions: they live as long as the process) out of
collections, and collects the youngest generation less often. Reference cycles are
still collected; they only wait a little longer.

The settings are process-wide, so a library never applies them on its own behalf: the
MCP server's stdio transport (which owns the process's stdio anyway) and the CLI do, and
an application embedding the runner may call ``tune_gc_for_serving()`` at start.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 10_000


def tune_gc_for_serving() -> None:
    """Apply the settings above, once the process has imported what it serves."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_GENERATION_THRESHOLD), middle, old)
