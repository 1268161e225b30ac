"""A readable label per topic: the nearest entry of a small multilingual taxonomy.

Each entry (sport, Sahara & diplomacy, weather & climate, ...) is described by a few headline-like
phrases in fr, en, es and ar (``taxonomy_default.json``, or any file of the same shape). The
phrases are encoded once with the service's encoder; a topic centroid scores each entry by the
mean of its ``top_phrases`` best phrase cosines (one good phrase in one language is enough to
recognise a football headline, but a single phrase is a noisy judge), and takes the best entry if
its score reaches ``threshold``; else "other".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

__all__ = ["Taxonomy", "TaxonomyEntry", "OTHER", "DEFAULT_PATH"]

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


def _unit(A: np.ndarray) -> np.ndarray:
    A = np.asarray(A, dtype=np.float32)
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-12)


# Encoded phrases shared by every Taxonomy built on the same encoder and text (tests, reloads).
_VECTOR_CACHE: dict[tuple[int, str, tuple[str, ...]], np.ndarray] = {}


@dataclass
class Taxonomy:
    entries: list[TaxonomyEntry]
    encoder: TextEncoder | None = None
    #: best score (mean cosine of the top phrases) an entry needs; below it the topic is "other"
    threshold: float = 0.15
    top_phrases: int = 3
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
        cls, path: str | Path | None = None, encoder: TextEncoder | None = None, *, threshold: float | None = None,
        display_lang: str = "en",
    ) -> "Taxonomy":
        """Read a taxonomy file (None: the default one shipped with the package)."""
        data = json.loads(Path(path or DEFAULT_PATH).read_text(encoding="utf-8"))
        return cls.from_dict(data, encoder, threshold=threshold, display_lang=display_lang)

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], encoder: TextEncoder | None = None, *, threshold: float | None = None,
        display_lang: str = "en",
    ) -> "Taxonomy":
        entries = []
        seen: set[str] = set()
        for raw in data.get("labels", []):
            eid = str(raw["id"])
            if eid in seen or eid == OTHER:
                raise ValueError(f"taxonomy: duplicate or reserved id {eid!r}")
            seen.add(eid)
            descriptions = {lang: tuple(str(p) for p in phrases) for lang, phrases in raw.get("descriptions", {}).items()}
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
                _VECTOR_CACHE[key] = _unit(self.encoder.encode(list(phrases)))
            self._vectors = _VECTOR_CACHE[key]
            self._owner = np.array([i for i, e in enumerate(self.entries) for _ in e.phrases], dtype=np.int64)
        assert self._owner is not None
        return self._vectors, self._owner

    # --- scoring ----------------------------------------------------------------------------
    def scores(self, centroids: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
        """[n_topics, n_entries]: each entry's score for each centroid (mean of its top phrase cosines).

        Both sides are centred first. Raw sentence vectors share a common direction, and the
        entry whose phrases sit closest to it (here "Sahara": Morocco, UN, Algeria...) wins every
        topic. Centroids are centred on ``mean`` (pass the window mean, ``TopicModel.mean_``),
        else on the mean of the centroids given when there are at least ``min_topics_for_mean``
        of them, else on the phrases' mean; phrases on their own mean.
        """
        C = _unit(np.atleast_2d(np.asarray(centroids, dtype=np.float32)))
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
        sims = _unit(C - centre) @ _unit(V - phrase_mean).T
        out = np.empty((C.shape[0], len(self.entries)), dtype=np.float32)
        for j in range(len(self.entries)):
            s = np.sort(sims[:, owner == j], axis=1)[:, ::-1]
            out[:, j] = s[:, : self.top_phrases].mean(axis=1)
        return out

    def classify(self, centroids: np.ndarray, mean: np.ndarray | None = None) -> list[tuple[str, float]]:
        """(entry id or "other", score) per centroid."""
        S = self.scores(centroids, mean)
        out: list[tuple[str, float]] = []
        for row in S:
            j = int(np.argmax(row))
            score = float(row[j])
            out.append((self.entries[j].id if score >= self.threshold else OTHER, score))
        return out

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
        return [(self.name(eid, lang) if eid != OTHER else OTHER, score) for eid, score in self.classify(centroids, mean)]
