from __future__ import annotations

from datetime import datetime, timezone


def to_epoch(value: datetime | None) -> float | None:
    """Naive datetimes are taken as UTC (feeds rarely say otherwise, and UTC is the least surprising)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()
