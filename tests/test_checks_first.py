"""Dedup checks go first: while one is under way, an ingest batch waits for it before its next step or
headline (a newsroom waits on a publish button; a feed can wait milliseconds), but never for more than
half of its own time, so that a stream of checks slows ingest without stopping it."""

from __future__ import annotations

import threading
import time

from conftest import DATASETS, read_jsonl

import app.matching.checks_first as checks_first
from app.config import load_settings
from app.pipeline import HeadlineInput, Pipeline
from app.store import open_store


def _pipeline(encoder, tmp_path, memory: bool = False) -> Pipeline:
    settings = load_settings(env={"TICKER_DATA_DIR": str(tmp_path)})
    return Pipeline(settings, open_store(settings, encoder.dim, memory=memory), encoder)


def _items(n: int, offset: int = 0) -> list[HeadlineInput]:
    rows = read_jsonl(DATASETS / "gnews_fr" / "dev.jsonl")[offset : offset + n]
    return [
        HeadlineInput(title=r["title"], lang="fr", ext_id=f"{offset}-{i}", source="feed") for i, r in enumerate(rows)
    ]


def _wait_until(condition, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.001)
    return False


class _HeldCheck:
    """A dedup check that stays under way until released: its store reads are held back."""

    def __init__(self, pipeline: Pipeline, monkeypatch) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        real = pipeline.store.embeddings_by_hash

        def held(hashes):
            if threading.current_thread().name == "held-check":
                self.started.set()
                self.release.wait(30)
            return real(hashes)

        monkeypatch.setattr(pipeline.store, "embeddings_by_hash", held)
        self.thread = threading.Thread(
            target=pipeline.check, args=("Le Maroc accueille la réunion",), name="held-check"
        )


def test_ingest_waits_for_a_check_under_way(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(checks_first, "CHECKS_FIRST_MAX_WAIT", 30.0)
    p = _pipeline(encoder, tmp_path)
    p.ingest(_items(20))
    before = p.store.count_headlines()
    check = _HeldCheck(p, monkeypatch)
    check.thread.start()
    assert check.started.wait(30)
    results: list = []
    ingest = threading.Thread(target=lambda: results.append(p.ingest(_items(30, offset=20))))
    ingest.start()
    # the batch stops at its first step, before matching or storing anything, while the check is under way
    assert _wait_until(lambda: p.checks.waiting == 1), "ingest did not wait for the check"
    time.sleep(0.05)
    assert p.checks.waiting == 1 and ingest.is_alive()
    check.release.set()
    check.thread.join(30)
    ingest.join(60)
    assert not ingest.is_alive() and len(results[0]) == 30
    assert p.store.count_headlines() == before + 30
    assert p.checks.waiting == 0


def test_a_check_that_never_ends_slows_ingest_but_does_not_stop_it(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(checks_first, "CHECKS_FIRST_MAX_WAIT", 0.5)
    p = _pipeline(encoder, tmp_path)
    p.ingest(_items(5))
    check = _HeldCheck(p, monkeypatch)
    check.thread.start()
    assert check.started.wait(30)
    try:
        results = p.ingest(_items(40, offset=5))
        assert check.thread.is_alive()  # the check was under way all along
    finally:
        check.release.set()
        check.thread.join(30)
    assert len(results) == 40
    # each of its 41 steps and headlines would wait without the share rule; waiting half of its time
    # at most, a 0.5 s wait is followed by about as long of its own work before the next one
    assert 1 <= p.checks.waits < 20, p.checks.waits


def test_in_memory_store_does_not_wait_for_checks_that_wait_for_it(encoder, tmp_path, monkeypatch):
    """In memory, a check's reads wait for the write transaction: ingest waiting for the check would only
    stall both until the wait ran out."""
    monkeypatch.setattr(checks_first, "CHECKS_FIRST_MAX_WAIT", 30.0)
    p = _pipeline(encoder, tmp_path, memory=True)
    assert not p.store.reads_during_writes
    check = _HeldCheck(p, monkeypatch)
    check.thread.start()
    assert check.started.wait(30)
    try:
        assert len(p.ingest(_items(10))) == 10
        assert p.checks.waits == 0 and p.checks.in_flight == 1  # done while the check was still held
    finally:
        check.release.set()
        check.thread.join(30)


def test_the_http_check_counts_as_under_way_from_the_route(make_client):
    """Over HTTP, ingest already waits while the check hops to the thread pool and while its answer is
    serialised: the route counts the check as under way around both, not only ``Pipeline.check``."""
    from app.pipeline import CheckResult

    client = make_client()
    pipeline = client.app.state.ticker.require_pipeline()
    seen: list[int] = []

    def check(title, lang=None, top=5):
        seen.append(pipeline.checks.in_flight)  # before Pipeline.check would count itself
        return CheckResult(duplicate=False, story_id=None, match=None, score=0.0, threshold=0.5, lang="fr")

    pipeline.check = check  # type: ignore[method-assign]
    r = client.post("/v1/dedup/check", json={"title": "Le Maroc accueille la réunion"})
    assert r.status_code == 200 and r.json()["duplicate"] is False
    assert seen == [1]
    assert pipeline.checks.in_flight == 0


def test_a_shared_database_write_transaction_does_not_wait_for_checks(encoder, tmp_path, monkeypatch):
    """With replicas (PostgreSQL), other processes wait for this one's write transaction: ingest lets
    checks go first while it encodes and describes, before the transaction, never inside it."""
    monkeypatch.setattr(checks_first, "CHECKS_FIRST_MAX_WAIT", 30.0)
    p = _pipeline(encoder, tmp_path)
    monkeypatch.setattr(p.store, "shared_writers", True)  # the PostgreSQL path: encode first, then write
    check = _HeldCheck(p, monkeypatch)
    check.thread.start()
    assert check.started.wait(30)
    try:
        assert len(p.ingest(_items(20))) == 20  # one description part: nothing to wait between
        assert p.checks.waits == 0 and p.checks.in_flight == 1
    finally:
        check.release.set()
        check.thread.join(30)
