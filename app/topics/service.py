"""The topic scheduler: online assignment between refits, and refits in a background thread.

A refit reads the story centroids and headlines of the topic window, clusters and names them
(``refit_job.compute``: in this thread for a small window, in a spawned child process from
``refit_process_min_stories`` stories on), carries topic ids over from the previous refit by member
overlap, and stores the result in one transaction. Requests never wait for it: they read whatever the
last refit stored.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from embeddings import Encoder

from ..config import Settings
from ..store import Store, TopicRow
from .online import OnlineAssigner
from .refit_job import RefitInput, Titles, compute
from .stable import match_ids
from .taxonomy import Taxonomy
from .worker import WorkerCancelled, collector_paused, run_in_child

log = logging.getLogger("ticker.topics")


@dataclass
class RefitReport:
    n_stories: int
    n_topics: int
    noise_fraction: float
    seconds: float
    events: list[dict[str, Any]] = field(default_factory=list)
    skipped: bool = False
    #: computed in a child process (``Settings.refit_process_min_stories``)
    in_child: bool = False
    #: that child's peak resident memory (MiB)
    worker_peak_rss_mib: float | None = None


class TopicService:
    def __init__(self, settings: Settings, store: Store, encoder: Encoder) -> None:
        self.settings = settings
        self.store = store
        self.encoder = encoder
        self.taxonomy = Taxonomy.load(settings.taxonomy_path or None, encoder)
        self._refit_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._new_since_refit = 0
        self._last_background_refit = -math.inf  # time.monotonic() when the loop's last refit ended
        self.last_report: RefitReport | None = None
        self.refits = 0
        self._load_centroids()

    # --- online ------------------------------------------------------------------------
    def _load_centroids(self) -> None:
        rows = self.store.topics()
        ids = [t.id for t in rows]
        mat = np.vstack([t.centroid for t in rows]) if rows else np.zeros((0, self.encoder.dim), dtype=np.float32)
        self._assigner = OnlineAssigner(ids, mat, threshold=self.settings.topic_assign_threshold)

    def assign(self, centroid: np.ndarray) -> int | None:
        """The topic of a new story: nearest topic centroid if it is close enough, else none (noise)."""
        return self._assigner.assign(centroid)[0]

    def on_stories(self, opened: list[int], grown: list[int]) -> None:
        """Pipeline listener: place new stories in a topic now, refit later."""
        if opened and self._assigner.topic_ids:
            ids, mat = self.store.story_centroids_for(opened)
            for sid, vec in zip(ids, mat):
                topic = self.assign(vec)
                if topic is not None:
                    self.store.set_story_topic(sid, topic)
        self._new_since_refit += len(opened)
        if self._new_since_refit >= self.settings.refit_every_stories:
            self._wake.set()

    # --- refits ------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ticker-refit", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=self.settings.refit_every_seconds)
            self._wake.clear()
            if self._stop.is_set():
                break
            if self._new_since_refit == 0:
                continue
            # A busy feed opens 200 stories in a second or two, and a refit takes seconds of CPU from
            # ingest (in-process ingest ran 10-20 % slower with refits attached); new stories get a
            # topic online meanwhile, so the count only brings a refit forward to this spacing.
            rest = self._last_background_refit + self.settings.refit_min_seconds - time.monotonic()
            if rest > 0 and self._stop.wait(rest):
                break
            try:
                self.refit()
            except WorkerCancelled:  # stop() while a child computed it
                break
            except Exception:  # a failed refit keeps the previous topics; the next one tries again
                log.exception("topic refit failed")
            self._last_background_refit = time.monotonic()

    def refit(self) -> RefitReport:
        """Cluster the window's stories now. Only one refit runs at a time (per process, and per
        database where the backend offers a leader lock)."""
        if not self._refit_lock.acquire(blocking=False):
            return RefitReport(0, 0, 0.0, 0.0, skipped=True)
        try:
            with self.store.refit_leader() as leader:
                if not leader:
                    self._load_centroids()
                    return RefitReport(0, 0, 0.0, 0.0, skipped=True)
                return self._refit()
        finally:
            self._refit_lock.release()

    def _refit(self) -> RefitReport:
        t0 = time.perf_counter()
        self._new_since_refit = 0
        latest = self.store.latest_story_time()
        if latest is None:
            return RefitReport(0, 0, 0.0, 0.0)
        ids, X = self.store.story_centroids(latest - self.settings.topic_window_hours * 3600.0)
        s = self.settings
        in_child = bool(ids) and 0 <= s.refit_process_min_stories <= len(ids)
        # Reading 100k headlines makes enough objects to trigger full garbage-collection passes, each
        # holding the GIL over the whole heap (54-119 ms apiece at 100k stored); every one of them dies
        # by its reference count once the job is handed over, so a pass would find nothing to free.
        with collector_paused(in_child):
            job = RefitInput(
                X=X,
                ids=list(ids),
                titles=Titles.from_rows(self.store.story_titles(ids) if ids else []),
                taxonomy=self.taxonomy.detached(),
                guide_weight=s.topic_guide_weight,
                min_cluster_size=s.topic_min_cluster_size,
                min_samples=s.topic_min_samples,
                knn=s.topic_knn,
            )
        out = run_in_child(compute, job, cancel=self._stop, name="ticker-refit") if in_child else compute(job)
        del job
        old = self.store.topic_members()
        next_id = int(self.store.get_meta("next_topic_id") or 1)
        # Stories that left the window do not count against a topic keeping its id.
        assignment, events = match_ids(old, out.clusters, next_id, universe=set(ids))
        next_id = max([next_id, *[a + 1 for a in assignment]])
        now = time.time()
        previous = {t.id: t for t in self.store.topics()}
        topics = [
            TopicRow(
                id=tid,
                label=label,
                label_score=float(score),
                keywords=out.keywords[i],
                centroid=out.centroids[i],
                size=len(out.clusters[i]),
                created_at=previous[tid].created_at if tid in previous else now,
                updated_at=now,
                category=out.categories[i],
                keyword_langs=out.keyword_langs[i],
            )
            for i, (tid, (label, score)) in enumerate(zip(assignment, out.label_scores))
        ]
        story_topics: dict[int, int | None] = {sid: None for sid in ids}
        for tid, cluster in zip(assignment, out.clusters):
            for sid in cluster:
                story_topics[sid] = tid
        with self.store.transaction():
            self.store.replace_topics(topics, story_topics, events)
            self.store.set_meta("next_topic_id", str(next_id))
        self._load_centroids()
        self.refits += 1
        labels = out.labels
        noise = float((labels == -1).mean()) if len(labels) else 0.0
        report = RefitReport(
            len(ids),
            len(topics),
            noise,
            time.perf_counter() - t0,
            events,
            in_child=in_child,
            worker_peak_rss_mib=out.peak_rss_mib if in_child else None,
        )
        self.last_report = report
        log.info(
            "refit: %d stories, %d topics, noise %.2f, %.2fs%s",
            len(ids),
            len(topics),
            noise,
            report.seconds,
            f" (child process, peak {out.peak_rss_mib:.0f} MiB)" if in_child else "",
        )
        return report

    def gauges(self) -> dict[str, float]:
        out = {"ticker_topic_refits_total": float(self.refits), "ticker_topics": float(len(self._assigner.topic_ids))}
        if self.last_report is not None:
            out["ticker_topic_refit_seconds"] = self.last_report.seconds
            out["ticker_topic_noise_fraction"] = self.last_report.noise_fraction
            if self.last_report.worker_peak_rss_mib is not None:
                out["ticker_topic_refit_worker_peak_rss_mib"] = self.last_report.worker_peak_rss_mib
        return out
