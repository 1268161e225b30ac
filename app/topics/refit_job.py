"""The pure part of a topic refit: story vectors and headlines in, topics out (no store, no encoder).

``compute`` is what ``TopicService`` runs either in its own thread or in a child process
(``worker.run_in_child``), so everything it takes and returns pickles: numpy arrays, lists, and a
``Taxonomy`` detached from its encoder (its phrase vectors computed beforehand).

Why a child process at all: a refit over a large window is seconds of Python (keywords) and
Cython (HDBSCAN) that hold the GIL, and it allocates millions of small objects whose garbage
collection passes hold it too. Measured in-process on 100k stored headlines (40k stories in the
window, a refit of 40-52 s): dedup checks running meanwhile saw p99 244 ms and max 948 ms, and a
thread that woke every millisecond was held off up to 750 ms at a time during the keywords step,
each time by a full collection pass.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass, field

import numpy as np

from embeddings.base import unit_vector

from .names import Doc
from .taxonomy import OTHER, Taxonomy, distinct_names

__all__ = ["RefitInput", "RefitOutput", "Titles", "compute"]

_SEP = "\x00"


@dataclass(frozen=True)
class Titles:
    """Every headline of the window's stories as columns: ``(story_id, title, lang)`` rows take one
    uninterrupted pickle call of ~57 ms at 100k headlines (the GIL held throughout); these columns
    are numpy arrays and one bytes object, which pickle out of band in well under a millisecond."""

    story_ids: np.ndarray  # int64, one per headline
    #: the titles in UTF-8, separated by NUL (the API refuses NUL in a title; one that got in
    #: otherwise has it replaced by a space here)
    text: bytes
    langs: np.ndarray  # int16 index into lang_names
    lang_names: tuple[str | None, ...]

    @classmethod
    def from_rows(cls, rows: list[tuple[int, str, str | None]]) -> "Titles":
        if not rows:
            return cls(np.zeros(0, dtype=np.int64), b"", np.zeros(0, dtype=np.int16), ())
        sids, titles, langs = zip(*rows)
        text = _SEP.join(titles)
        if text.count(_SEP) != len(titles) - 1:
            text = _SEP.join(t.replace(_SEP, " ") for t in titles)
        names = tuple(dict.fromkeys(langs))
        code = {name: i for i, name in enumerate(names)}
        return cls(
            story_ids=np.fromiter(sids, dtype=np.int64, count=len(sids)),
            text=text.encode("utf-8", "surrogatepass"),
            langs=np.fromiter((code[lang] for lang in langs), dtype=np.int16, count=len(langs)),
            lang_names=names,
        )

    def rows(self) -> list[tuple[int, str, str | None]]:
        if not len(self.story_ids):
            return []
        titles = self.text.decode("utf-8", "surrogatepass").split(_SEP)
        names = self.lang_names
        return [
            (sid, title, names[lang]) for sid, title, lang in zip(self.story_ids.tolist(), titles, self.langs.tolist())
        ]


@dataclass(frozen=True)
class RefitInput:
    #: story centroids of the window, one row per story
    X: np.ndarray
    #: the story id of each row
    ids: list[int]
    #: every headline of those stories, each story's oldest first (``Store.story_titles``)
    titles: Titles
    #: the taxonomy with its phrase vectors computed and no encoder (``Taxonomy.detached``)
    taxonomy: Taxonomy
    guide_weight: float = 0.5
    min_cluster_size: int = 5
    min_samples: int = 3
    knn: int = 16


@dataclass
class RefitOutput:
    #: topic label per row (-1: noise)
    labels: np.ndarray
    #: member story ids of each topic, in label order
    clusters: list[set[int]]
    #: unit centroid of each topic in the stories' own space
    centroids: list[np.ndarray]
    #: (display name, score) of each topic: the taxonomy entry's name for its most confident topic,
    #: else keywords (``taxonomy.distinct_names``); never the same twice
    label_scores: list[tuple[str, float]]
    #: keywords of each topic, best first
    keywords: list[list[str]]
    #: the taxonomy entry id of each topic ("other" below the taxonomy's threshold); shared by
    #: topics of one subject
    categories: list[str] = field(default_factory=list)
    #: the language of each keyword (None: a name, or a term of several languages)
    keyword_langs: list[list[str | None]] = field(default_factory=list)
    #: peak resident memory of the process that computed it (MiB)
    peak_rss_mib: float = field(default=0.0)


def compute(job: RefitInput) -> RefitOutput:
    from .cluster import TopicModel
    from .guide import guided_space
    from .names import keyword_terms

    X, ids = job.X, job.ids
    labels = np.full(len(ids), -1, dtype=np.int64)
    mean = None
    if len(ids) >= max(job.min_cluster_size, 2):
        model = TopicModel(min_cluster_size=job.min_cluster_size, min_samples=job.min_samples, knn=job.knn)
        labels = np.asarray(model.fit(guided_space(X, job.taxonomy, job.guide_weight)).labels_)
        # the window mean in the stories' own space, which the taxonomy labels are scored in
        mean = X.mean(axis=0)
    clusters: list[set[int]] = []
    rows_of: list[np.ndarray] = []
    for lab in sorted(set(labels.tolist()) - {-1}):
        idx = np.flatnonzero(labels == lab)
        clusters.append({ids[i] for i in idx})
        rows_of.append(idx)
    centroids = [unit_vector(X[idx].mean(axis=0)) for idx in rows_of]
    docs_of: dict[int, list[Doc]] = {}
    for sid, title, lang in job.titles.rows():
        docs_of.setdefault(sid, []).append((title, lang, sid))
    # keyed by position: the topic ids are given afterwards, from the previous refit's topics
    names = keyword_terms(
        {k: [d for sid in cluster for d in docs_of.get(sid, [])] for k, cluster in enumerate(clusters)}
    )
    kws = [names.get(k, []) for k in range(len(clusters))]
    classified = job.taxonomy.classify(np.vstack(centroids), mean=mean) if centroids else []
    categories = [eid for eid, _ in classified]
    scores = [float(s) for _, s in classified]
    display = distinct_names(
        categories, scores, [[k.text for k in ks] for ks in kws], job.taxonomy.name, other=job.taxonomy.name(OTHER)
    )
    return RefitOutput(
        labels=labels,
        clusters=clusters,
        centroids=centroids,
        label_scores=list(zip(display, scores)),
        keywords=[[k.text for k in ks] for ks in kws],
        categories=categories,
        keyword_langs=[[k.lang for k in ks] for ks in kws],
        peak_rss_mib=_peak_rss_mib(),
    )


def _peak_rss_mib() -> float:
    """This process's peak resident memory, MiB. VmHWM belongs to the process image, so a child
    started by fork and exec counts only its own; getrusage's ru_maxrss keeps the forked copy's peak
    across exec, the parent's size at the fork (measured: a child that had imported only numpy
    reported 244 MiB, its VmHWM ~30)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
