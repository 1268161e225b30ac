"""Keywords for a topic: class-based TF-IDF over its member headlines.

Every topic is one "document" (all its headlines together); a term scores by how often it occurs
in the topic times how rare it is across topics (``tf * log(1 + A / f)``, A = average term count of
a topic, f = the term's count over all topics). Terms are:

* names: capitalised sequences in the original text, kept whole ("Aïd Al Fitr", "Polisario",
  "MINURSO", "Royaume-Uni", "Mondial 2030") and shown as written;
* other words: casefolded tokens of the headline's language, minus its stop words and numbers.

A capital at the start of a headline or after a colon says nothing (French puts one after
"Maroc : ..."), nor does one in a Title Case headline: there a word counts as a name only if the
corpus never writes it in lower case.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable

from app.ingest.normalise import fold_accents, strip_kicker, tokens, unify_punctuation
from app.ingest.stopwords import ALL_STOPWORDS, STOPWORDS

__all__ = ["keywords", "NameParams", "Vocabulary", "extract_terms", "lang2"]

Doc = tuple[str, str | None]

# Lower-case words that may sit inside a name ("Banque du Maroc", "Aïd al-Fitr", "Bank of Africa").
_CONNECTORS = frozenset(
    "de du des d la le el al of the del di da dos ben bin ibn ould van von".split()
)
_ELISION = re.compile(r"\b(?:[lLdDjJmMnNsStTcC]|[Qq]u|[Jj]usqu|[Ll]orsqu|[Pp]uisqu)'(?=[^\W\d_])")
_POSSESSIVE = re.compile(r"'s\b")
# A word (hyphenated compounds and inner apostrophes kept: "Royaume-Uni", "Aujourd'hui") or a number.
_TOKEN = re.compile(r"[^\W\d_][^\W_]*(?:['-][^\W_]+)*|\d+(?:[.,]\d+)*[^\W\d_]*")
# After these a capital letter is the start of a sentence, not a name.
_SENTENCE_BREAK = re.compile(r"[:.!?\"«»|–—-]\s*$")
_YEAR = re.compile(r"^\d{4}$")

_LANG3 = {"fra": "fr", "fre": "fr", "eng": "en", "spa": "es", "ara": "ar", "arb": "ar", "ary": "ar"}


def lang2(lang: str | None) -> str | None:
    """ISO 639-1 for the languages we hold stop words for ("fra" -> "fr", "ary" -> "ar")."""
    if not lang:
        return None
    lang = lang.lower()
    return _LANG3.get(lang, lang)


@dataclass(frozen=True)
class NameParams:
    #: a Title Case headline has at least this share of its (non stop) words capitalised
    title_case_share: float = 0.7
    #: shortest plain word kept (names and non-Latin scripts excepted)
    min_word_chars: int = 3
    #: a topic of at least this many headlines only shows terms seen in two of them
    min_docs_for_df2: int = 4


def _stopwords(lang: str | None) -> frozenset[str]:
    return STOPWORDS.get(lang or "", ALL_STOPWORDS)


@lru_cache(maxsize=1 << 16)
def _is_stop(word: str, lang: str | None) -> bool:
    stops = _stopwords(lang)
    low = word.casefold()
    return low in stops or fold_accents(low) in stops


@lru_cache(maxsize=1 << 16)
def _term_key(text: str) -> str:
    return fold_accents(text.casefold()).replace("-", " ")


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int
    initial: bool  # a capital here may just start a sentence


def _tokenise(text: str) -> list[_Token]:
    out: list[_Token] = []
    prev_end = 0
    for m in _TOKEN.finditer(text):
        # A token never ends in a break character, so only the gap since the previous one can
        # hold the break (reading the whole prefix each time was quadratic).
        gap = text[prev_end : m.start()]
        initial = (not out and not gap.strip()) or bool(_SENTENCE_BREAK.search(gap))
        out.append(_Token(m.group(0), m.start(), m.end(), initial))
        prev_end = m.end()
    return out


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _clean(title: str) -> str:
    _, rest = strip_kicker(title)
    rest = _POSSESSIVE.sub("", rest)
    return _ELISION.sub(lambda m: " " * len(m.group(0)), rest)


# A refit names every topic again, and the window's titles are mostly those of the last refit: their
# cleaning and tokens are kept (~2 KB a title), which halves the naming time of a refit.
@lru_cache(maxsize=1 << 15)
def _parsed(title: str) -> tuple[str, tuple[_Token, ...]]:
    text = _clean(unify_punctuation(title))
    return text, tuple(_tokenise(text))


@lru_cache(maxsize=1 << 16)
def _words(token: str, lang: str | None) -> tuple[str, ...]:
    return tuple(tokens(token, lang))


@dataclass(frozen=True)
class Vocabulary:
    """What the corpus says about capitals, for words whose own capital proves nothing."""

    lower: frozenset[str] = frozenset()  # written in lower case somewhere: a common word
    midcap: frozenset[str] = frozenset()  # capitalised mid-sentence somewhere: a name

    @classmethod
    def of(cls, titles: Iterable[str]) -> "Vocabulary":
        lower: set[str] = set()
        midcap: set[str] = set()
        for title in titles:
            for tok in _parsed(title)[1]:
                if tok.text[:1].islower():
                    lower.add(_term_key(tok.text))
                elif _capitalised(tok.text) and not tok.initial:
                    midcap.add(_term_key(tok.text))
        return cls(frozenset(lower), frozenset(midcap))

    def is_name(self, word: str) -> bool:
        key = _term_key(word)
        return key in self.midcap and key not in self.lower


def extract_terms(
    title: str, lang: str | None, vocabulary: Vocabulary | None = None, params: NameParams = NameParams()
) -> list[tuple[str, str]]:
    """Terms of one headline as ``(key, surface)`` pairs: names first, then plain words."""
    lang = lang2(lang)
    vocab = vocabulary if vocabulary is not None else Vocabulary.of([title])
    text, toks = _parsed(title)
    words = [t for t in toks if not t.text[0].isdigit() and not _is_stop(t.text, lang)]
    n_cap = sum(_capitalised(t.text) for t in words)
    title_case = len(words) >= 4 and n_cap >= params.title_case_share * len(words)

    def name_like(tok: _Token) -> bool:
        if not _capitalised(tok.text):
            return False
        if tok.text.isupper() and len(tok.text) >= 2:
            return True  # acronyms: MINURSO, ONU, FAR
        if _is_stop(tok.text, lang):
            return False
        if tok.initial or title_case:
            return vocab.is_name(tok.text)
        return True

    terms: list[tuple[str, str]] = []
    used: set[int] = set()
    i = 0
    while i < len(toks):
        if not name_like(toks[i]):
            i += 1
            continue
        j = i + 1
        last = i
        while j < len(toks):
            gap = text[toks[j - 1].end : toks[j].start]
            if gap.strip():
                break  # punctuation ends a name
            if _capitalised(toks[j].text) and not _is_stop(toks[j].text, lang):
                last = j
            elif toks[j].text.casefold() in _CONNECTORS:
                pass  # kept only if a capitalised word follows
            elif _YEAR.match(toks[j].text):
                last = j
                j += 1
                break
            else:
                break
            j += 1
        surface = " ".join(t.text for t in toks[i : last + 1])
        if sum(ch.isalpha() for ch in surface) >= 2:
            terms.append((_term_key(surface), surface))
        used.update(range(i, last + 1))
        i = last + 1

    for k, tok in enumerate(toks):
        if k in used:
            continue
        for word in _words(tok.text, lang):
            if word[0].isdigit() or _is_stop(word, lang):
                continue
            latin = word.isascii() or fold_accents(word).isascii()
            if latin and len(word) < params.min_word_chars:
                continue
            terms.append((_term_key(word), word))
    return terms


def keywords(
    docs_by_topic: dict[int, list[Doc]], top_n: int = 8, params: NameParams = NameParams()
) -> dict[int, list[str]]:
    """The ``top_n`` most distinctive terms of each topic, best first.

    ``docs_by_topic`` maps topic id -> its headlines as ``(title, lang)`` (lang may be None).
    """
    vocab = Vocabulary.of(title for docs in docs_by_topic.values() for title, _ in docs)
    tf: dict[int, Counter[str]] = {}
    df: dict[int, Counter[str]] = {}
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    for tid, docs in docs_by_topic.items():
        counts: Counter[str] = Counter()
        doc_freq: Counter[str] = Counter()
        for title, lang in docs:
            terms = extract_terms(title, lang, vocab, params)
            for key, surface in terms:
                counts[key] += 1
                surfaces[key][surface] += 1
            doc_freq.update({key for key, _ in terms})
        tf[tid], df[tid] = counts, doc_freq

    total: Counter[str] = Counter()
    for counts in tf.values():
        total.update(counts)
    avg = sum(total.values()) / max(len(tf), 1)

    out: dict[int, list[str]] = {}
    for tid, counts in tf.items():
        need_two = len(docs_by_topic[tid]) >= params.min_docs_for_df2
        scored = sorted(
            ((c * math.log(1.0 + avg / total[key]), key) for key, c in counts.items() if not need_two or df[tid][key] >= 2),
            key=lambda x: (-x[0], x[1]),
        )
        if need_two and len(scored) < top_n:
            # A small or scattered topic: fall back to terms seen once rather than show nothing.
            extra = sorted(
                ((c * math.log(1.0 + avg / total[key]), key) for key, c in counts.items() if df[tid][key] < 2),
                key=lambda x: (-x[0], x[1]),
            )
            scored += extra
        chosen: list[str] = []
        chosen_parts: list[set[str]] = []
        for _, key in scored:
            parts = set(key.split())
            # "Fitr" adds nothing next to "Aïd Al Fitr".
            if any(parts <= p for p in chosen_parts):
                continue
            chosen.append(surfaces[key].most_common(1)[0][0])
            chosen_parts.append(parts)
            if len(chosen) == top_n:
                break
        out[tid] = chosen
    return out
