"""The PostgreSQL backend's rows: how its stories and corrections come back, and small helpers its parts share."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from .base import CorrectionRow


def _correction(r: Sequence[Any]) -> CorrectionRow:
    # jsonb columns come back already decoded
    return CorrectionRow(
        id=r[0], kind=r[1], payload=r[2], undo=r[3], actor=r[4], at=r[5], undone_at=r[6], undone_by=r[7]
    )


def _ids(ids: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(int(i) for i in ids))


def _member_of(column: str) -> str:
    """The dialect's "the parameter is in this list column" test (``story_filter_sql``)."""
    return f"%s::text = ANY({column})"
