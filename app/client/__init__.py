"""Newsroom client for the ticker dedup service: ``TickerClient`` and the ``ticker-dedup`` CLI."""

from app.client.client import (
    CheckResult,
    CheckStory,
    HeadlineIn,
    IngestResult,
    Match,
    RetryPolicy,
    StoryVersion,
    TickerClient,
    TickerConnectionError,
    TickerError,
)

__all__ = [
    "CheckResult",
    "CheckStory",
    "HeadlineIn",
    "IngestResult",
    "Match",
    "RetryPolicy",
    "StoryVersion",
    "TickerClient",
    "TickerConnectionError",
    "TickerError",
]
