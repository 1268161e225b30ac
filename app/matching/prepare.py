"""Headlines made ready for the encoder and for matching: the matching key, the encoder's text, the
hash, the times, then (separately, so the encoder can start first) the language and features."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from ..ingest.kicker import strip_kicker
from ..ingest.lang import LanguageDetector
from ..ingest.langcodes import canonical_lang
from ..ingest.normalise import key_of_rest, text_hash
from ..records import HeadlineInput
from ..stories.features import Features, extract

#: items described (language, features) at a time in an ingest batch: lingua holds the GIL for a whole
#: call, so a batch of 1,000 in one call held every other thread off for ~120 ms
DESCRIBE_PART = 64

#: placeholder until ``describe`` fills an item's features in
_NO_FEATURES: Features = None  # type: ignore[assignment]


@dataclass
class Prepared:
    item: HeadlineInput
    key: str
    #: what the encoder reads: the key's cleaning with the case kept (the encoder reads case)
    text: str
    hash: str
    lang: str | None
    features: Features
    ts: float
    received_at: float


def keys(items: Sequence[HeadlineInput], now: float) -> list[Prepared]:
    """What the encoder and the lookups need (matching key, encoder text, hash, times); language and
    features are left for ``describe``, so that ingest can start the encoder before them."""
    out = []
    for it in items:
        # normalise(title) and embedding_text(title) both start from strip_kicker(title): once here
        rest = strip_kicker(it.title)[1]
        key = key_of_rest(rest)
        out.append(
            Prepared(
                item=it,
                key=key,
                text=rest,
                hash=text_hash(key),
                lang=None,
                features=_NO_FEATURES,
                ts=it.published_at if it.published_at is not None else now,
                received_at=now,
            )
        )
    return out


def describe(
    prepared: list[Prepared], detector: LanguageDetector, pause: Callable[[], None] | None = None
) -> list[Prepared]:
    """Fill in each item's language (the client's, else detected) and matching features.
    ``pause``: called between parts of ``DESCRIBE_PART`` items (ingest lets checks go first there)."""
    for start in range(0, len(prepared), DESCRIBE_PART):
        if pause is not None and start:
            pause()
        part = prepared[start : start + DESCRIBE_PART]
        missing = [p for p in part if not p.item.lang]
        detected = detector.detect_many([p.item.title for p in missing]) if missing else []
        for p in part:
            if p.item.lang:
                p.lang = canonical_lang(p.item.lang)
        for p, lang in zip(missing, detected):
            p.lang = lang
        for p in part:
            p.features = extract(p.item.title, p.key, p.lang)
    return prepared


def external_key(p: Prepared) -> tuple[str, str] | None:
    """The client's (source, id) of an item, None when it gave no id."""
    return (p.item.source or "", p.item.ext_id) if p.item.ext_id else None


def replays(prepared: Sequence[Prepared], already: Mapping[tuple[str, str], object]) -> list[bool]:
    """Which items of a batch repeat a (source, id) stored before or met earlier in the batch."""
    seen: set[tuple[str, str]] = set()
    out = []
    for p in prepared:
        ext = external_key(p)
        out.append(ext is not None and (ext in seen or ext in already))
        if ext is not None:
            seen.add(ext)
    return out
