"""Newsroom client for the ticker dedup service: ``TickerClient`` and the ``ticker-dedup`` CLI."""

from app.client.client import (
    CheckResult,
    HeadlineIn,
    IngestResult,
    Match,
    RetryPolicy,
    TickerClient,
    TickerConnectionError,
    TickerError,
)

__all__ = [
    "CheckResult",
    "HeadlineIn",
    "IngestResult",
    "Match",
    "RetryPolicy",
    "TickerClient",
    "TickerConnectionError",
    "TickerError",
]
