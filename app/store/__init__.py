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
        from .postgres import PgOptions, PostgresStore

        options = PgOptions(
            pool_max_size=settings.pg_pool_max_size,
            pool_timeout=settings.pg_pool_timeout,
            ef_search=settings.pg_ef_search,
            exact_scan_max_rows=settings.pg_exact_scan_max_rows,
        )
        return PostgresStore(settings.database_url, dim, options=options)
    from .sqlite import SQLiteStore

    return SQLiteStore(settings.sqlite_path, dim, ann_min_rows=settings.vector_ann_min_rows or None)
