"""Language of a headline, with lingua restricted to the configured languages.

Loading lingua with every language costs ~1.6 GB; with four it is ~100 MB and sub-second. The
detector only chooses among the configured languages, so Moroccan Arabic comes out as "ar" and a
Latin-script language outside the list comes out as the closest configured one (raise
``min_confidence`` to get None instead).

A language given by the client always wins over detection: callers only call ``detect`` for
headlines that arrive without one.

Two cases need no model, and are settled before lingua is asked (``quick``):
- a text written only in the Arabic script, when one configured language is (Arabic by default);
- a Latin-script text whose function words vote for one configured language by a clear margin
  (``word_margin``: words found in only that language's list, ``app.ingest.stopwords``, at least that
  many more than for any other), when every configured Latin-script language has such a list.
Measured on the shared datasets' 1,898 titles with fr/es/en/ar configured: 1,302 are settled that way
(~0.07 ms of CPU a title in batches, against lingua's ~0.19). Of the 1,286 of them whose gold ``lang`` is
one of the four, 1,283 are right, where lingua is right on 1,271 (it takes accent-stripped French
technology headlines for English: "La vision de Microsoft pour l'evolution du Xbox Live sur PC").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from lingua import ConfidenceValue, IsoCode639_1, IsoCode639_3, Language, LanguageDetectorBuilder

from .stopwords import STOPWORDS

__all__ = ["LanguageDetector", "to_iso639_1"]

# Codes lingua does not know that belong to a language it does (macrolanguage members).
_ALIASES = {
    "ary": "ar",
    "arb": "ar",
    "arq": "ar",
    "arz": "ar",
    "apc": "ar",
    "acm": "ar",
    "aeb": "ar",
    "fre": "fr",
    "spa": "es",
    "eng": "en",
    "ara": "ar",
}


def _to_language(code: str) -> Language:
    """'fr', 'fra', 'FR', 'french', 'ary' -> lingua Language. ValueError when unknown."""
    text = code.strip()
    folded = _ALIASES.get(text.lower(), text)
    for parse in (
        lambda s: Language.from_iso_code_639_1(IsoCode639_1.from_str(s)),
        lambda s: Language.from_iso_code_639_3(IsoCode639_3.from_str(s)),
        lambda s: Language.from_str(s),
    ):
        try:
            return parse(folded)
        except ValueError:
            continue
    raise ValueError(f"unknown language code {code!r}")


def to_iso639_1(code: str) -> str:
    """Normalise a configured or client-given language code to ISO 639-1 ('fra' -> 'fr')."""
    return _iso(_to_language(code))


def _iso(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def _has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)


#: languages lingua knows that are written in the Arabic script
_ARABIC_SCRIPT = frozenset({"ar", "fa", "ur"})
#: a letter outside the Latin script / outside the Arabic script ([^\W\d_] is a letter)
_NOT_LATIN = re.compile(r"[^\W\d_A-Za-z\u00aa\u00b5\u00ba\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]")
_NOT_ARABIC = re.compile(r"[^\W\d_\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")
_WORD = re.compile(r"[^\W\d_]+")


def _owners(languages: Iterable[str]) -> dict[str, str]:
    """Each function word that belongs to exactly one of ``languages``' lists -> that language."""
    langs = list(languages)
    out: dict[str, str] = {}
    for lang in langs:
        others = frozenset().union(*(STOPWORDS[o] for o in langs if o != lang))
        out.update((word, lang) for word in STOPWORDS[lang] - others)
    return out


def vote(text: str, owners: dict[str, str], margin: int) -> str | None:
    """The language whose own function words ``text`` holds at least ``margin`` more of than of any
    other's, else None."""
    counts: dict[str, int] = {}
    for word in _WORD.findall(text.casefold()):
        lang = owners.get(word)
        if lang is not None:
            counts[lang] = counts.get(lang, 0) + 1
    if not counts:
        return None
    ranked = sorted(counts.items(), key=lambda lc: -lc[1])
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    return ranked[0][0] if ranked[0][1] - runner_up >= margin else None


class LanguageDetector:
    """``detect(text) -> 'fr' | 'es' | 'en' | 'ar' | None`` over a fixed set of languages.

    ``min_confidence``: lingua's confidence (0..1, summing to 1 over the configured languages) the
    best language needs, else None. 0 returns the best guess whenever there are letters.
    ``preload``: load every model of the configured languages now (a service start-up) rather than as
    texts first need them. Lazily, one model loads inside the call that first needs it, holding the
    GIL: measured, a Tifinagh title arriving after the warm-up sentences took 486-982 ms, every other
    thread (dedup checks) held off meanwhile. Preloaded: 1.5 s at start (2.8 s lazily with the warm-up
    sentences) and ~16 MiB more resident, nothing later.
    ``parallel_threshold``: batches at least this long go through lingua's multi-threaded method.
    ``parallel_chunk``: texts per call of that method. A lingua call holds the GIL from start to end
    (measured: a thread waking every 0.5 ms was held off 12 ms while it detected 100 titles), so one
    call for a batch of 1,000 stopped the encoder's workers and any dedup check for ~120 ms; calls of
    32 hold it ~4 ms at a time.
    ``word_margin``: the function-word vote that settles a Latin-script text without lingua (module
    docstring); 0 turns both model-free cases off. They are off too when ``min_confidence`` is set,
    which is a bar on lingua's confidence.
    """

    def __init__(
        self,
        languages: Sequence[str] = ("fr", "es", "en", "ar"),
        *,
        min_confidence: float = 0.0,
        preload: bool = False,
        parallel_threshold: int = 64,
        parallel_chunk: int = 32,
        word_margin: int = 2,
    ) -> None:
        resolved = list(dict.fromkeys(_to_language(code) for code in languages))
        if not resolved:
            raise ValueError("LanguageDetector needs at least one language")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be within [0, 1]")
        self.languages: tuple[str, ...] = tuple(_iso(language) for language in resolved)
        self.preloaded = preload
        self.min_confidence = min_confidence
        self.parallel_threshold = parallel_threshold
        self.parallel_chunk = max(1, parallel_chunk)
        self._single = resolved[0] if len(resolved) == 1 else None
        quick = word_margin > 0 and min_confidence == 0.0 and self._single is None
        arabic = [code for code in self.languages if code in _ARABIC_SCRIPT]
        latin = [code for code in self.languages if code not in _ARABIC_SCRIPT]
        #: the one configured language written in the Arabic script, if one is
        self._arabic = arabic[0] if quick and len(arabic) == 1 else None
        #: the Latin-script vote: only when every configured language not written in the Arabic script has
        #: a function-word list (a German or Russian one would be outvoted by words it has no list for)
        self._latin_owners = _owners(latin) if quick and latin and all(code in STOPWORDS for code in latin) else None
        self._latin_only = latin[0] if self._latin_owners is not None and len(latin) == 1 else None
        self.word_margin = word_margin
        builder = None
        if self._single is None:
            builder = LanguageDetectorBuilder.from_languages(*resolved)
            if preload:
                builder = builder.with_preloaded_language_models()
        self._detector = builder.build() if builder is not None else None

    def detect(self, text: str) -> str | None:
        return self.detect_with_confidence(text)[0]

    def detect_with_confidence(self, text: str) -> tuple[str | None, float]:
        if not _has_letters(text):
            return None, 0.0
        if self._detector is None:
            return self._pick_single()
        quick = self.quick(text)
        if quick is not None:
            return quick, 1.0
        return self._pick(self._detector.compute_language_confidence_values(text))

    def quick(self, text: str) -> str | None:
        """The language when no model is needed to tell it (module docstring), else None."""
        if self._arabic is not None and _NOT_ARABIC.search(text) is None and _has_letters(text):
            return self._arabic
        if self._latin_owners is not None and _NOT_LATIN.search(text) is None:
            if self._latin_only is not None:
                return self._latin_only if _has_letters(text) else None
            return vote(text, self._latin_owners, self.word_margin)
        return None

    def detect_many(self, texts: Iterable[str]) -> list[str | None]:
        """One result per text, in order. Large batches use lingua's thread pool."""
        items = list(texts)
        results: list[str | None] = [None] * len(items)
        todo = [index for index, text in enumerate(items) if _has_letters(text)]
        if self._detector is None:
            for index in todo:
                results[index] = self._pick_single()[0]
            return results
        rest = []
        for index in todo:
            quick = self.quick(items[index])
            if quick is None:
                rest.append(index)
            else:
                results[index] = quick
        todo = rest
        batch = [items[index] for index in todo]
        if len(batch) >= self.parallel_threshold:
            values = []
            for start in range(0, len(batch), self.parallel_chunk):
                values += self._detector.compute_language_confidence_values_in_parallel(
                    batch[start : start + self.parallel_chunk]
                )
        else:
            values = [self._detector.compute_language_confidence_values(text) for text in batch]
        for index, confidences in zip(todo, values):
            results[index] = self._pick(confidences)[0]
        return results

    def _pick(self, confidences: list[ConfidenceValue]) -> tuple[str | None, float]:
        if not confidences:
            return None, 0.0
        best = confidences[0]  # lingua sorts them, most likely first
        if best.value <= 0.0 or best.value < self.min_confidence:
            return None, best.value
        return _iso(best.language), best.value

    def _pick_single(self) -> tuple[str | None, float]:
        # One configured language: nothing to choose between.
        assert self._single is not None
        return _iso(self._single), 1.0
