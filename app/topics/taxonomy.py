"""A readable label per topic: the nearest entry of a small multilingual taxonomy.

Each entry (sport, Sahara & diplomacy, weather & climate, ...) is described by a few headline-like
phrases in fr, en, es and ar (``taxonomy_default.json``, or any file of the same shape). The
phrases are encoded once with the service's encoder; a topic centroid scores each entry by the
mean of its ``top_phrases`` best phrase cosines (one good phrase in one language is enough to
recognise a football headline, but a single phrase is a noisy judge), and takes the best entry if
its score reaches ``threshold``; else "other". A topic whose best entry a more confident topic
already holds takes a free entry within ``distinct_margin`` of its best instead (``assign_entries``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from embeddings.base import l2_normalise

__all__ = ["Taxonomy", "TaxonomyEntry", "OTHER", "DEFAULT_PATH", "assign_entries", "distinct_names"]

OTHER = "other"
DEFAULT_PATH = Path(__file__).with_name("taxonomy_default.json")


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class TaxonomyEntry:
    id: str
    names: dict[str, str]
    descriptions: dict[str, tuple[str, ...]]

    @property
    def phrases(self) -> list[str]:
        return [p for lang in sorted(self.descriptions) for p in self.descriptions[lang]]


def assign_entries(scores: np.ndarray, threshold: float, margin: float) -> list[tuple[int, float]]:
    """(entry index or -1 for "other", its score) per row of ``scores`` [n_topics, n_entries].

    Each row takes its best entry, unless a more confident row took that entry first and another
    entry, not taken yet, scores within ``margin`` of the best and reaches ``threshold``: then that
    one. Two topics under one name read as one subject on the dashboard, and a security topic sat
    under "Sahara & diplomacy" at 0.251 against "Security" at 0.238 (the sample data) while a real
    Sahara topic scored 0.364. Without such a near alternative both keep the name: two football
    topics are both "Sport", and their keywords tell them apart.
    """
    S = np.asarray(scores, dtype=np.float32)
    out: list[tuple[int, float]] = [(-1, 0.0)] * S.shape[0]
    taken: set[int] = set()
    # Most confident rows choose first; a stable sort keeps ties in row order.
    for i in sorted(range(S.shape[0]), key=lambda r: -float(S[r].max())):
        row = S[i]
        best = int(np.argmax(row))
        if float(row[best]) < threshold:
            out[i] = (-1, float(row[best]))
            continue
        pick = best
        if best in taken:
            for j in np.argsort(-row, kind="stable"):
                j = int(j)
                if float(row[j]) < max(threshold, float(row[best]) - margin):
                    break
                if j not in taken:
                    pick = j
                    break
        taken.add(pick)
        out[i] = (pick, float(row[pick]))
    return out


def distinct_names(
    categories: Sequence[str],
    scores: Sequence[float],
    keywords: Sequence[Sequence[str]],
    name_of: Callable[[str], str],
    *,
    other: str = "Other",
    join: str = " · ",
    words: int = 2,
) -> list[str]:
    """One display name per topic, never the same twice.

    The most confident topic of each taxonomy entry is called by the entry's name ("Sport"); another
    topic of the same entry, or one with no entry ("other"), is called by its first ``words`` keywords
    ("Raja · Wydad"): two topics under one name read as one subject on a dashboard. More keywords, then a
    number, settle what is still equal.
    """
    holder: dict[str, int] = {}
    for i in sorted(range(len(categories)), key=lambda i: -float(scores[i])):
        if categories[i] != OTHER:
            holder.setdefault(categories[i], i)
    names: list[str] = [""] * len(categories)
    used: set[str] = set()
    for i, category in enumerate(categories):
        if holder.get(category) == i:
            names[i] = name_of(category)
            used.add(names[i].casefold())
    for i in sorted(range(len(categories)), key=lambda i: -float(scores[i])):
        if names[i]:
            continue
        kws = list(keywords[i])
        n = min(words, len(kws))
        name = join.join(kws[:n]) if n else other
        while name.casefold() in used and n < len(kws):
            n += 1
            name = join.join(kws[:n])
        base, k = name, 2
        while name.casefold() in used:
            name, k = f"{base} ({k})", k + 1
        names[i] = name
        used.add(name.casefold())
    return names


# Encoded phrases shared by every Taxonomy built on the same encoder and text (tests, reloads).
_VECTOR_CACHE: dict[tuple[int, str, tuple[str, ...]], np.ndarray] = {}


@dataclass
class Taxonomy:
    entries: list[TaxonomyEntry]
    encoder: TextEncoder | None = None
    #: best score (mean cosine of the top phrases) an entry needs; below it the topic is "other"
    threshold: float = 0.15
    top_phrases: int = 3
    #: a topic whose best entry another, more confident topic already holds takes a free entry
    #: scoring within this much of its best instead (``assign_entries``); 0 allows shared names
    distinct_margin: float = 0.05
    #: with this many centroids or more (and no window mean given), centre on their mean
    min_topics_for_mean: int = 3
    #: language of the readable names ``label`` returns
    display_lang: str = "en"
    other_names: dict[str, str] = field(default_factory=lambda: {"en": "Other"})
    _vectors: np.ndarray | None = field(default=None, init=False, repr=False)
    _owner: np.ndarray | None = field(default=None, init=False, repr=False)

    # --- construction -----------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        encoder: TextEncoder | None = None,
        *,
        threshold: float | None = None,
        display_lang: str = "en",
    ) -> "Taxonomy":
        """Read a taxonomy file (None: the default one shipped with the package)."""
        data = json.loads(Path(path or DEFAULT_PATH).read_text(encoding="utf-8"))
        return cls.from_dict(data, encoder, threshold=threshold, display_lang=display_lang)

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        encoder: TextEncoder | None = None,
        *,
        threshold: float | None = None,
        display_lang: str = "en",
    ) -> "Taxonomy":
        entries = []
        seen: set[str] = set()
        for raw in data.get("labels", []):
            eid = str(raw["id"])
            if eid in seen or eid == OTHER:
                raise ValueError(f"taxonomy: duplicate or reserved id {eid!r}")
            seen.add(eid)
            descriptions = {
                lang: tuple(str(p) for p in phrases) for lang, phrases in raw.get("descriptions", {}).items()
            }
            if not any(descriptions.values()):
                raise ValueError(f"taxonomy: entry {eid!r} has no description phrases")
            entries.append(TaxonomyEntry(eid, {k: str(v) for k, v in raw.get("names", {}).items()}, descriptions))
        if not entries:
            raise ValueError("taxonomy: no labels")
        return cls(
            entries=entries,
            encoder=encoder,
            threshold=float(data.get("threshold", 0.15)) if threshold is None else threshold,
            top_phrases=int(data.get("top_phrases", 3)),
            distinct_margin=float(data.get("distinct_margin", 0.05)),
            display_lang=display_lang,
            other_names={k: str(v) for k, v in data.get("other", {"en": "Other"}).items()},
        )

    # --- vectors ----------------------------------------------------------------------------
    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Unit vectors of every phrase and, for each, the index of its entry (encoded once)."""
        if self._vectors is None:
            if self.encoder is None:
                raise RuntimeError("Taxonomy needs an encoder to label topics")
            phrases = tuple(p for e in self.entries for p in e.phrases)
            key = (id(self.encoder), getattr(self.encoder, "name", type(self.encoder).__name__), phrases)
            if key not in _VECTOR_CACHE:
                _VECTOR_CACHE[key] = l2_normalise(self.encoder.encode(list(phrases)))
            self._vectors = _VECTOR_CACHE[key]
            self._owner = np.array([i for i, e in enumerate(self.entries) for _ in e.phrases], dtype=np.int64)
        assert self._owner is not None
        return self._vectors, self._owner

    def detached(self) -> "Taxonomy":
        """A copy holding its phrase vectors and no encoder: what a refit in a child process takes
        (an encoder holds native sessions that do not pickle, and the child must not encode)."""
        vectors, owner = self.vectors()
        copy = replace(self, encoder=None)
        copy._vectors, copy._owner = vectors, owner
        return copy

    # --- scoring ----------------------------------------------------------------------------
    def scores(self, centroids: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """[n_topics, n_entries]: each entry's score for each centroid (mean of its top phrase cosines).

        Both sides are centred first. Raw sentence vectors share a common direction, and the
        entry whose phrases sit closest to it (here "Sahara": Morocco, UN, Algeria...) wins every
        topic. Centroids are centred on ``mean`` (pass the window mean, ``TopicModel.mean_``),
        else on the mean of the centroids given when there are at least ``min_topics_for_mean``
        of them, else on the phrases' mean; phrases on their own mean.
        """
        C = l2_normalise(np.atleast_2d(np.asarray(centroids, dtype=np.float32)))
        if C.shape[0] == 0:
            return np.zeros((0, len(self.entries)), dtype=np.float32)
        V, owner = self.vectors()
        phrase_mean = V.mean(axis=0)
        if mean is not None:
            centre = np.asarray(mean, dtype=np.float32)
        elif C.shape[0] >= self.min_topics_for_mean:
            centre = C.mean(axis=0)
        else:
            centre = phrase_mean
        sims = l2_normalise(C - centre) @ l2_normalise(V - phrase_mean).T
        out = np.empty((C.shape[0], len(self.entries)), dtype=np.float32)
        for j in range(len(self.entries)):
            s = np.sort(sims[:, owner == j], axis=1)[:, ::-1]
            out[:, j] = s[:, : self.top_phrases].mean(axis=1)
        return out

    def classify(self, centroids: np.ndarray, mean: np.ndarray | None = None) -> list[tuple[str, float]]:
        """(entry id or "other", score) per centroid."""
        S = self.scores(centroids, mean)
        return [
            (self.entries[j].id if j >= 0 else OTHER, score)
            for j, score in assign_entries(S, self.threshold, self.distinct_margin)
        ]

    def name(self, entry_id: str, lang: str | None = None) -> str:
        lang = lang or self.display_lang
        if entry_id == OTHER:
            return self.other_names.get(lang) or self.other_names.get("en") or OTHER
        entry = next((e for e in self.entries if e.id == entry_id), None)
        if entry is None:
            return entry_id
        return entry.names.get(lang) or entry.names.get("en") or entry.id

    def label(
        self, centroids: np.ndarray, mean: np.ndarray | None = None, lang: str | None = None
    ) -> list[tuple[str, float]]:
        """(readable label, score) per topic centroid; "other" when no entry reaches the threshold."""
        return [
            (self.name(eid, lang) if eid != OTHER else OTHER, score) for eid, score in self.classify(centroids, mean)
        ]
