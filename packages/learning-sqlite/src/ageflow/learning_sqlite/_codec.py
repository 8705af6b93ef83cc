"""How records become rows: times as integer microseconds, records as JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """An aware time as whole microseconds since the epoch (exact, unlike a float)."""
    return (moment - _EPOCH) // _MICROSECOND
