"""The background refit loop: a burst of new stories brings a refit forward, spaced by refit_min_seconds."""

from __future__ import annotations

import threading
import time
from typing import Callable

from app.config import load_settings
from app.store import open_store
from app.topics.service import RefitReport, TopicService


def _service(encoder, min_seconds: float) -> tuple[TopicService, list[float], threading.Event]:
    settings = load_settings(env={}, refit_every_stories=1, refit_every_seconds=3600.0, refit_min_seconds=min_seconds)
    service = TopicService(settings, open_store(settings, encoder.dim, memory=True), encoder)
    calls: list[float] = []
    refitted = threading.Event()

    def counted() -> RefitReport:  # what matters here is when the loop refits, not the clustering
        calls.append(time.monotonic())
        service._new_since_refit = 0
        refitted.set()
        return RefitReport(0, 0, 0.0, 0.0)

    service.refit = counted  # type: ignore[method-assign]
    return service, calls, refitted


def _burst(service: TopicService, until: Callable[[], bool], at_least: int = 0, bound_s: float = 30.0) -> None:
    """A feed opening stories without pause, until ``until()`` after ``at_least`` stories (bounded wait)."""
    deadline = time.monotonic() + bound_s
    n = 0
    while n < at_least or not until():
        assert time.monotonic() < deadline, "the refit loop never got there"
        service.on_stories([1], [])
        n += 1
        time.sleep(0.005)


def test_a_burst_of_stories_brings_one_refit_forward_then_waits_min_seconds(encoder):
    """The first stories of a burst wake the loop at once; the rest of the burst waits for the spacing
    (an hour here), however many stories it opens."""
    service, calls, refitted = _service(encoder, min_seconds=3600.0)
    service.start()
    try:
        _burst(service, refitted.is_set)
        _burst(service, lambda: True, at_least=200)  # 200 more stories, each waking the loop
    finally:
        service.stop()
    assert len(calls) == 1


def test_without_spacing_a_burst_refits_again_and_again(encoder):
    service, calls, _ = _service(encoder, min_seconds=0.0)
    service.start()
    try:
        _burst(service, lambda: len(calls) >= 3)
    finally:
        service.stop()
    assert len(calls) >= 3
