"""Storage: the interface (``base``) and its backends, chosen by ``TICKER_DATABASE_URL``."""

from __future__ import annotations

from ..config import Settings
from .base import HeadlineRow, NewHeadline, Store, StoryRow, TopicRow

__all__ = ["HeadlineRow", "NewHeadline", "Store", "StoryRow", "TopicRow", "open_store"]


def open_store(settings: Settings, dim: int, *, memory: bool = False) -> Store:
    if memory:
        from .sqlite import SQLiteStore

        return SQLiteStore(":memory:", dim)
    if settings.is_postgres:
        from .postgres import PostgresStore

        return PostgresStore(settings.database_url, dim)
    from .sqlite import SQLiteStore

    return SQLiteStore(settings.sqlite_path, dim, ann_min_rows=settings.vector_ann_min_rows or None)
