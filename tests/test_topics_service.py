"""The background refit loop: a burst of new stories brings a refit forward, spaced by refit_min_seconds."""

from __future__ import annotations

import time

import pytest

from app.config import load_settings
from app.store import open_store
from app.topics.service import RefitReport, TopicService


def _refits_during_a_burst(encoder, min_seconds: float, burst_s: float = 1.2) -> int:
    settings = load_settings(env={}, refit_every_stories=1, refit_every_seconds=3600.0, refit_min_seconds=min_seconds)
    service = TopicService(settings, open_store(settings, encoder.dim, memory=True), encoder)
    calls: list[float] = []

    def counted() -> RefitReport:  # what matters here is when the loop refits, not the clustering
        calls.append(time.monotonic())
        service._new_since_refit = 0
        return RefitReport(0, 0, 0.0, 0.0)

    service.refit = counted  # type: ignore[method-assign]
    service.start()
    try:
        end = time.monotonic() + burst_s
        while time.monotonic() < end:  # a feed opening stories without pause
            service.on_stories([1], [])
            time.sleep(0.01)
    finally:
        service.stop()
    return len(calls)


@pytest.mark.parametrize("min_seconds, fewest, most", [(0.5, 1, 3), (0.0, 6, 10_000)])
def test_a_burst_of_stories_refits_at_most_once_per_min_seconds(encoder, min_seconds, fewest, most):
    assert fewest <= _refits_during_a_burst(encoder, min_seconds) <= most
