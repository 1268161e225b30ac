"""Times as the service keeps them: seconds since the epoch, UTC. A time that names no zone is taken as UTC
(feeds rarely say otherwise, and UTC is the least surprising)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

__all__ = ["to_epoch", "parse_epoch"]


def to_epoch(value: datetime | None) -> float | None:
    """A datetime as epoch seconds; a naive one is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


def parse_epoch(value: Any) -> float | None:
    """An ISO-8601 text ("Z" allowed) or a number of seconds as epoch seconds; None or "" as None."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return to_epoch(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
