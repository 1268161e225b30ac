"""How common each name and word is in the recent stream, per language.

On a dense stream every headline of the day names the same city, team or person, and a shared name
stops telling two stories apart. Each name and content word is weighted by its document frequency
among the window's headlines of the same language:

    weight = clip(log((n + prior) / (df + 1)) / log(1 / share), 0, 1)

``n`` headlines in the window, ``df`` of them carrying the term: a term carried by ``share`` of them
or fewer counts fully, one that every headline carries counts nothing. ``prior`` keeps the first
hours of a stream (where everything looks common) from weighting every term down.

``DocumentFrequency`` keeps the counts incrementally in hourly buckets over a sliding window; the
pipeline adds each stored headline and rebuilds the counts from the stored window at start-up.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from typing import Iterable, Mapping

from .features import Features

__all__ = ["DocumentFrequency", "rarity_terms", "rarity_weights", "term_weight"]

#: bucket width of the sliding window: expiry is exact to this much
BUCKET_SECONDS = 3600.0


def rarity_terms(features: Features) -> frozenset[str]:
    """What is counted for one headline: its names (sentence-initial ones too) and its content words."""
    return frozenset(features.entities) | frozenset(features.leads) | frozenset(features.tokens)


def rarity_weights(df: "DocumentFrequency", features: Features, share: float, prior: float) -> dict[str, float] | None:
    """The weights of one headline's names and words in its language now; None when ``share`` is 0
    (rarity switched off: every shared term counts 1)."""
    if share <= 0:
        return None
    return df.weights(features.lang, rarity_terms(features), share, prior)


def term_weight(df: int, n: int, share: float, prior: float) -> float:
    """The weight of a term carried by ``df`` of ``n`` headlines (see the module's formula)."""
    w = math.log((n + prior) / (df + 1.0)) / math.log(1.0 / share)
    return 0.0 if w <= 0.0 else 1.0 if w >= 1.0 else w


#: log(df + 1) for the document frequencies most terms have
_LOG_1P = [math.log(df + 1.0) for df in range(1024)]


class DocumentFrequency:
    """Per-language document frequencies of names and words over the last ``window_seconds`` of the
    stream (by headline time, up to the newest headline seen). Thread-safe."""

    def __init__(self, window_seconds: float, bucket_seconds: float = BUCKET_SECONDS) -> None:
        self.window = float(window_seconds)
        self.bucket = float(bucket_seconds)
        self._span = max(1, math.ceil(self.window / self.bucket))
        # bucket index -> language -> (term counts, headlines); and their sum over the live buckets
        self._buckets: dict[int, dict[str | None, tuple[Counter[str], list[int]]]] = {}
        self._total: dict[str | None, tuple[Counter[str], list[int]]] = {}
        self._newest: int | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Headlines counted in the window."""
        return sum(n[0] for _, n in self._total.values())

    def add(self, lang: str | None, terms: Iterable[str], ts: float) -> bool:
        """Count one headline; False when it is older than the window (not counted)."""
        return self._change(lang, frozenset(terms), ts, +1)

    def remove(self, lang: str | None, terms: Iterable[str], ts: float) -> None:
        """Take back an ``add`` (a batch that was rolled back)."""
        self._change(lang, frozenset(terms), ts, -1)

    def _change(self, lang: str | None, terms: frozenset[str], ts: float, sign: int) -> bool:
        b = math.floor(ts / self.bucket)
        with self._lock:
            if sign > 0 and (self._newest is None or b > self._newest):
                self._advance(b)
            assert self._newest is not None or sign < 0
            if self._newest is None or b <= self._newest - self._span:
                return False
            for part in (self._buckets.setdefault(b, {}), self._total):
                counts, n = part.setdefault(lang, (Counter(), [0]))
                n[0] += sign
                if sign > 0:
                    counts.update(terms)
                else:
                    counts.subtract(terms)
                    for t in terms:
                        if counts[t] <= 0:
                            del counts[t]
        return True

    def _advance(self, newest: int) -> None:
        """Move the window's end to bucket ``newest``, dropping the buckets that fall out of it."""
        self._newest = newest
        for b in [b for b in self._buckets if b <= newest - self._span]:
            for lang, (counts, n) in self._buckets.pop(b).items():
                total, total_n = self._total[lang]
                total_n[0] -= n[0]
                total.subtract(counts)
                for t in counts:
                    if total[t] <= 0:
                        del total[t]

    def weights(self, lang: str | None, terms: Iterable[str], share: float, prior: float) -> dict[str, float]:
        """Each term's weight in ``lang`` right now (``term_weight`` of each, with its logarithms shared)."""
        with self._lock:
            counts, n = self._total.get(lang, (None, [0]))
            dfs = [(t, counts.get(t, 0)) for t in terms] if counts is not None else [(t, 0) for t in terms]
        top, scale = math.log(n[0] + prior), 1.0 / math.log(1.0 / share)
        out = {}
        for t, df in dfs:
            w = (top - (_LOG_1P[df] if df < len(_LOG_1P) else math.log(df + 1.0))) * scale
            out[t] = 0.0 if w <= 0.0 else 1.0 if w >= 1.0 else w
        return out

    def frequencies(self, lang: str | None) -> Mapping[str, int]:
        """A copy of ``lang``'s document frequencies (tests and explanations)."""
        with self._lock:
            counts, _ = self._total.get(lang, (Counter(), [0]))
            return dict(counts)
