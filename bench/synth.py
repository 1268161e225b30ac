"""Synthetic but realistic load: distinct headlines made from the shared datasets, vectors made from
their real embeddings, and a fast way to fill a store through the Store API.

Headlines. The pool is every title of seed_ticker, gnews_fr, masakhanews and sib200 (fr, en, es, ar,
ary, tzm, kab). The i-th synthetic headline takes a pool title and applies one or two edits drawn at
random: append a place, append a figure, prefix a place as a topic ("Tanger : ..."), swap the halves
around a colon/comma or the middle word, or join the first half of one title to the second half of
another. A headline whose matching key (``normalise``) was already produced is redrawn, and after a few
tries gets a serial number, so every headline is new to the embedding cache and reaches the encoder.

Vectors. A stored vector is a pool title's real embedding turned towards a random direction:
``v = c·b + sqrt(1-c²)·u`` with ``u`` a random unit vector (nearly orthogonal to ``b`` in 512-d) and
``c`` uniform in [c_lo, c_hi], so its cosine to the real embedding is about ``c`` and two variants of one
title sit at about c1·c2 from each other: dense neighbourhoods like a busy news day, no exact copies.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from .common import DATASETS

POOL_FILES = (
    ("seed_ticker", DATASETS / "seed_ticker" / "gold.jsonl"),
    ("gnews_fr", DATASETS / "gnews_fr" / "dev.jsonl"),
    ("masakhanews", DATASETS / "masakhanews" / "dev.jsonl"),
    ("sib200", DATASETS / "sib200" / "dev.jsonl"),
)

PLACES = (
    "Rabat",
    "Casablanca",
    "Fès",
    "Tanger",
    "Marrakech",
    "Agadir",
    "Oujda",
    "Laâyoune",
    "Dakhla",
    "Tétouan",
    "Meknès",
    "Kénitra",
    "Nador",
    "Alger",
    "Tunis",
    "Dakar",
    "Nouakchott",
    "Paris",
    "Madrid",
    "Bruxelles",
    "Genève",
    "Le Caire",
    "Doha",
    "Abidjan",
    "Séville",
    "Lyon",
    "Montréal",
    "Bamako",
)
UNITS = ("%", "MDH", "millions de dirhams", "M€", "morts", "blessés", "km", "tonnes", "ans", "points")


@dataclass(frozen=True)
class PoolTitle:
    title: str
    lang: str | None
    dataset: str


def load_pool(limit: int | None = None) -> list[PoolTitle]:
    """Distinct titles of the shared datasets, interleaved across datasets so a prefix is mixed."""
    per: list[list[PoolTitle]] = []
    for name, path in POOL_FILES:
        if not path.exists():
            continue
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows.append(PoolTitle(r["title"].strip(), r.get("lang"), name))
        per.append(rows)
    if not per:
        raise SystemExit(f"no dataset found under {DATASETS}")
    seen: set[str] = set()
    out: list[PoolTitle] = []
    for i in range(max(len(p) for p in per)):
        for rows in per:
            if i < len(rows) and rows[i].title and rows[i].title not in seen:
                seen.add(rows[i].title)
                out.append(rows[i])
    return out[:limit] if limit else out


def _halves(title: str) -> tuple[str, str]:
    for sep in (" : ", ": ", ", ", " - "):
        if sep in title:
            a, b = title.split(sep, 1)
            if a.strip() and b.strip():
                return a.strip(), b.strip()
    words = title.split()
    mid = max(1, len(words) // 2)
    return " ".join(words[:mid]), " ".join(words[mid:])


def _edit(title: str, other: str, rng: np.random.Generator) -> str:
    kind = int(rng.integers(6))
    if kind == 0:
        return f"{title} à {PLACES[rng.integers(len(PLACES))]}"
    if kind == 1:
        return f"{title} ({int(rng.integers(2, 9999))} {UNITS[rng.integers(len(UNITS))]})"
    if kind == 2:
        return f"{PLACES[rng.integers(len(PLACES))]} : {title}"
    if kind == 3:
        a, b = _halves(title)
        return f"{b}, {a}" if b else title
    if kind == 4:
        a, _ = _halves(title)
        _, b = _halves(other)
        return f"{a} {b}".strip()
    return f"{title}, {PLACES[rng.integers(len(PLACES))]} {int(rng.integers(1, 31))}/{int(rng.integers(1, 13))}"


@dataclass(frozen=True)
class SynthHeadline:
    title: str
    lang: str | None
    base: int  # index of the pool title it was made from


def headlines(pool: Sequence[PoolTitle], n: int, seed: int, taken: set[str] | None = None) -> list[SynthHeadline]:
    """``n`` headlines with pairwise distinct matching keys (and distinct from ``taken``, updated)."""
    from app.ingest.normalise import normalise

    rng = np.random.default_rng(seed)
    taken = set() if taken is None else taken
    # Halves are only joined within one language, so a made-up headline still reads as one.
    by_lang: dict[str | None, list[int]] = {}
    for i, p in enumerate(pool):
        by_lang.setdefault(p.lang, []).append(i)
    out: list[SynthHeadline] = []
    while len(out) < n:
        base = int(rng.integers(len(pool)))
        title = pool[base].title
        same = by_lang[pool[base].lang]
        for attempt in range(6):
            other = pool[same[int(rng.integers(len(same)))]].title
            text = _edit(title, other, rng)
            if rng.random() < 0.5:
                text = _edit(text, other, rng)
            if attempt == 5:
                text = f"{text} ({len(out) + len(taken)})"
            key = normalise(text)
            if key and key not in taken:
                taken.add(key)
                out.append(SynthHeadline(text, pool[base].lang, base))
                break
    return out


def variant_vectors(base: np.ndarray, rng: np.random.Generator, c_lo: float, c_hi: float) -> np.ndarray:
    """One unit vector per row of ``base`` (unit rows), at cosine ~U(c_lo, c_hi) from it."""
    n, d = base.shape
    u = rng.standard_normal((n, d)).astype(np.float32)
    # Remove the component along b so that the cosine is exactly c.
    u -= (u * base).sum(axis=1, keepdims=True) * base
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    c = rng.uniform(c_lo, c_hi, size=(n, 1)).astype(np.float32)
    v = c * base + np.sqrt(1.0 - c * c) * u
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def story_sizes(n: int, rng: np.random.Generator, max_size: int) -> list[int]:
    """Split ``n`` headlines into stories of 1..max_size members (uniform), summing to ``n``."""
    sizes: list[int] = []
    left = n
    while left > 0:
        s = min(left, int(rng.integers(1, max_size + 1)))
        sizes.append(s)
        left -= s
    return sizes


@dataclass
class FillReport:
    headlines: int
    stories: int
    seconds: float
    features_seconds: float


def fill_store(
    store,
    pool: Sequence[PoolTitle],
    pool_vectors: np.ndarray,
    n: int,
    *,
    seed: int,
    now: float,
    spread_hours: float = 48.0,
    max_story_size: int = 4,
    c_range: tuple[float, float] = (0.55, 0.95),
    exact_features: bool = True,
    taken: set[str] | None = None,
    chunk: int = 2000,
) -> FillReport:
    """Add ``n`` synthetic headlines through the Store API, the way ``Pipeline._assign`` writes them
    (create_story, insert_headline, add_to_story), but with precomputed vectors instead of the encoder
    and without matching: members of a story are variants of one pool title.

    ``exact_features``: extract the matching features of every headline (what the dedup check reads
    back from its candidates); otherwise reuse the pool title's features (enough for topic refits).
    Published times are spread uniformly over the ``spread_hours`` before ``now``.
    """
    from app.ingest.langcodes import canonical_lang
    from app.ingest.normalise import normalise, text_hash
    from app.store import NewHeadline
    from app.stories.features import extract

    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    synth = headlines(pool, n, seed, taken)
    vecs = variant_vectors(pool_vectors[[h.base for h in synth]], rng, *c_range)
    published = now - rng.uniform(0, spread_hours * 3600.0, size=n)
    sizes = story_sizes(n, rng, max_story_size)
    base_features: dict[int, str] = {}
    feat_s = 0.0
    n_stories = 0
    i = 0
    groups = iter(sizes)
    while i < n:
        stop = min(n, i + chunk)
        with store.transaction():
            while i < stop:
                size = next(groups)
                first_id = None
                story_id = 0
                # Members of one story: the first headline's pool title, each its own variant text.
                for j in range(i, min(i + size, n)):
                    h = synth[j]
                    key = normalise(h.title)
                    lang = canonical_lang(h.lang)
                    t0 = time.perf_counter()
                    if exact_features:
                        feats = extract(h.title, key, lang).to_json()
                    else:
                        if h.base not in base_features:
                            p = pool[h.base]
                            base_features[h.base] = extract(p.title, normalise(p.title), lang).to_json()
                        feats = base_features[h.base]
                    feat_s += time.perf_counter() - t0
                    ts = float(published[i])  # one story's members share a time
                    row = NewHeadline(
                        title=h.title,
                        norm=key,
                        text_hash=text_hash(key),
                        lang=lang,
                        source="bench",
                        ext_id=None,
                        url=None,
                        published_at=ts,
                        received_at=ts,
                        story_id=story_id,
                        match=None if first_id is None else "near",
                        score=None if first_id is None else 0.8,
                        features=feats,
                        embedding=vecs[j],
                        matched_headline_id=first_id,
                    )
                    if first_id is None:
                        story_id = store.create_story(row)
                        row.story_id = story_id
                        n_stories += 1
                    hid = store.insert_headline(row)
                    store.add_to_story(story_id, hid, row)
                    first_id = first_id or hid
                i += size
    return FillReport(n, n_stories, time.perf_counter() - t_start, feat_s)


def chunks(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def filled_store(settings, n: int, *, seed: int, exact_features: bool):
    """(encoder, pool, pool vectors, store): the settings' encoder and store, the store filled with ``n``
    synthetic headlines published over the last 48 h (``fill_store``)."""
    from app.store import open_store
    from embeddings import load_encoder

    encoder = load_encoder(settings.encoder)
    pool = load_pool()
    vecs = pool_vectors(encoder, pool)
    store = open_store(settings, encoder.dim)
    fill_store(store, pool, vecs, n, seed=seed, now=time.time(), exact_features=exact_features)
    return encoder, pool, vecs, store


def pool_vectors(encoder, pool: Sequence[PoolTitle]) -> np.ndarray:
    """The real embeddings of the pool titles, as the pipeline computes them."""
    from .vectors import pipeline_vectors

    vecs, _ = pipeline_vectors(encoder, [{"title": p.title, "lang": p.lang} for p in pool])
    return vecs


__all__ = [
    "filled_store",
    "PoolTitle",
    "SynthHeadline",
    "FillReport",
    "load_pool",
    "headlines",
    "variant_vectors",
    "story_sizes",
    "fill_store",
    "chunks",
    "pool_vectors",
]
