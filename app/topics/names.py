"""Keywords for a topic: class-based TF-IDF over its member headlines.

Every topic is one "document" (all its headlines together); a term scores by how often it occurs
in the topic times how rare it is across topics (``tf * log(1 + A / f)``, A = average term count of
a topic, f = the term's count over all topics). Terms are:

* names: capitalised sequences in the original text, kept whole ("Aïd Al Fitr", "Polisario",
  "MINURSO", "Royaume-Uni", "Mondial 2030") and shown as written;
* phrases: two or three content words that follow each other in two stories of the topic or more
  ("Ligue des champions", "prix du carburant");
* other words: casefolded tokens of the headline's language, minus its stop words, headline filler
  ("says", "ans", "nouveau") and numbers.

Only terms that two of the topic's stories share are shown (a term of one headline is that headline,
not the topic), names and phrases first at equal score. A topic whose stories share too few terms
shows fewer keywords, not the alphabetically first words of one headline.

A capital at the start of a headline or after a colon says nothing (French puts one after
"Maroc : ..."), nor does one in a Title Case headline: there a word counts as a name only if the
corpus never writes it in lower case.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from app.ingest.fold import fold_accents
from app.ingest.kicker import strip_kicker
from app.ingest.langcodes import word_lists_lang
from app.ingest.normalise import tokens
from app.ingest.punctuation import unify_punctuation
from app.ingest.stopwords import ALL_STOPWORDS, STOPWORDS

from .filler import is_filler

__all__ = ["Keyword", "keyword_terms", "keywords", "reader_first", "NameParams", "Vocabulary", "extract_terms"]

Doc = tuple[str, str | None] | tuple[str, str | None, object]

# Lower-case words that may sit inside a name ("Banque du Maroc", "Aïd al-Fitr", "Bank of Africa").
_CONNECTORS = frozenset("de du des d la le el al of the del di da dos ben bin ibn ould van von".split())
_ELISION = re.compile(r"\b(?:[lLdDjJmMnNsStTcC]|[Qq]u|[Jj]usqu|[Ll]orsqu|[Pp]uisqu)'(?=[^\W\d_])")
_POSSESSIVE = re.compile(r"'s\b")
# A word (hyphenated compounds and inner apostrophes kept: "Royaume-Uni", "Aujourd'hui") or a number.
_TOKEN = re.compile(r"[^\W\d_][^\W_]*(?:['-][^\W_]+)*|\d+(?:[.,]\d+)*[^\W\d_]*")
# After these a capital letter is the start of a sentence, not a name.
_SENTENCE_BREAK = re.compile(r"[:.!?\"«»|–—-]\s*$")
_YEAR = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class NameParams:
    #: a Title Case headline has at least this share of its (non stop) words capitalised
    title_case_share: float = 0.7
    #: shortest plain word kept (names and non-Latin scripts excepted)
    min_word_chars: int = 3
    #: a topic whose stories share fewer terms fills up to this many chips with its stories' names
    min_chips: int = 4


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


def _plain(tok: _Token, lang: str | None, params: NameParams) -> bool:
    """A word that can stand in a phrase or as a keyword of its own."""
    text = tok.text
    if text[0].isdigit() or _is_stop(text, lang) or is_filler(text, lang):
        return False
    latin = text.isascii() or fold_accents(text).isascii()
    return not (latin and len(text) < params.min_word_chars)


def _phrases(text: str, toks: tuple[_Token, ...], lang: str | None, params: NameParams) -> list[tuple[str, str]]:
    """Two lower-case content words in a row ("prix carburant" is not one, "sécurité routière" is), or
    any word, a connector and a lower-case word ("Ligue des champions", "prix du carburant"). A name
    followed by a verb ("Maroc célèbre") is not a phrase."""
    out: list[tuple[str, str]] = []
    for i, tok in enumerate(toks):
        if not _plain(tok, lang, params):
            continue
        for j in (i + 1, i + 2):
            # one plain space between: an elided article (blanked by ``_clean``) or punctuation breaks it
            if j >= len(toks) or any(text[toks[k - 1].end : toks[k].start] != " " for k in range(i + 1, j + 1)):
                break
            if j == i + 2 and toks[i + 1].text.casefold() not in _CONNECTORS:
                break
            if j == i + 1 and _capitalised(tok.text) and not tok.initial:
                continue
            if _plain(toks[j], lang, params) and not _capitalised(toks[j].text):
                surface = text[tok.start : toks[j].end]
                out.append((_term_key(surface), surface))
                break
    return out


def extract_terms(
    title: str, lang: str | None, vocabulary: Vocabulary | None = None, params: NameParams = NameParams()
) -> list[tuple[str, str]]:
    """Terms of one headline as ``(key, surface)`` pairs: names first, then plain words, then phrases."""
    lang = word_lists_lang(lang)
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
        if _is_stop(tok.text, lang) or is_filler(tok.text, lang):
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
            if word[0].isdigit() or _is_stop(word, lang) or is_filler(word, lang):
                continue
            latin = word.isascii() or fold_accents(word).isascii()
            if latin and len(word) < params.min_word_chars:
                continue
            terms.append((_term_key(word), word))
    names = {key for key, _ in terms}
    terms += [(key, surface) for key, surface in _phrases(text, toks, lang, params) if key not in names]
    return terms


@dataclass(frozen=True)
class Keyword:
    """One keyword chip: as written, and the language it is a word of (None: a name or phrase seen in
    several languages, readable in any)."""

    text: str
    lang: str | None


def keyword_terms(
    docs_by_topic: dict[int, list[Doc]], top_n: int = 8, params: NameParams = NameParams()
) -> dict[int, list[Keyword]]:
    """The ``top_n`` most distinctive terms of each topic, best first, each with its language.

    ``docs_by_topic`` maps topic id -> its headlines as ``(title, lang)`` or ``(title, lang, story)``
    (lang may be None). With a story key a term must be in two stories, not two versions of one.
    """
    vocab = Vocabulary.of(d[0] for docs in docs_by_topic.values() for d in docs)
    tf: dict[int, Counter[str]] = {}
    spread: dict[int, Counter[str]] = {}  # in how many of the topic's stories (or headlines) a term is
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    langs: dict[str, Counter[str | None]] = defaultdict(Counter)
    is_name: set[str] = set()
    for tid, docs in docs_by_topic.items():
        counts: Counter[str] = Counter()
        seen_in: dict[str, set[object]] = defaultdict(set)
        for n, doc in enumerate(docs):
            title, lang = doc[0], word_lists_lang(doc[1])
            story = doc[2] if len(doc) > 2 else n
            for key, surface in extract_terms(title, lang, vocab, params):
                counts[key] += 1
                surfaces[key][surface] += 1
                langs[key][lang] += 1
                seen_in[key].add(story)
                if surface[:1].isupper():
                    is_name.add(key)
        tf[tid] = counts
        spread[tid] = Counter({key: len(where) for key, where in seen_in.items()})

    total: Counter[str] = Counter()
    for counts in tf.values():
        total.update(counts)
    avg = sum(total.values()) / max(len(tf), 1)

    def rank(tid: int, key: str) -> tuple[float, int, str]:
        # names and phrases first at equal score; the key last only so that the order is stable
        score = tf[tid][key] * math.log(1.0 + avg / total[key])
        return (-score, -(key in is_name or " " in key), key)

    out: dict[int, list[Keyword]] = {}
    for tid, counts in tf.items():
        shared = sorted((key for key in counts if spread[tid][key] >= 2), key=lambda k: rank(tid, k))
        # Short of chips, a topic's single stories speak through their names and the words their
        # versions repeat (the biggest story first), never through the other words of one headline.
        lone = len(spread[tid]) > 0 and max(spread[tid].values()) == 1 and len(docs_by_topic[tid]) == 1
        spare = sorted(
            (key for key in counts if spread[tid][key] < 2 and (lone or key in is_name or counts[key] >= 2)),
            key=lambda k: (-counts[k], *rank(tid, k)),
        )
        chosen: list[str] = []
        for key in shared + spare:
            if len(chosen) >= (top_n if key in shared else min(top_n, params.min_chips)):
                break
            parts = set(key.split())
            # "Fitr" adds nothing next to "Aïd Al Fitr"; a phrase takes the place of its own words.
            if any(parts <= set(c.split()) for c in chosen):
                continue
            inside = [c for c in chosen if set(c.split()) < parts]
            if inside:
                chosen[chosen.index(inside[0])] = key
                chosen = [c for c in chosen if c not in inside[1:]]
                continue
            chosen.append(key)
        out[tid] = [
            Keyword(surfaces[key].most_common(1)[0][0], None if key in is_name else _main_lang(langs[key]))
            for key in chosen
        ]
    return out


def reader_first(
    words: Sequence[str], langs: Sequence[str | None], reader: str | None
) -> tuple[list[str], list[str | None]]:
    """Keywords in the reader's language (and names, readable in any) first, each group in its own order.
    ``langs`` shorter than ``words`` (topics stored before languages were kept) counts as names."""
    tagged = [(w, langs[i] if i < len(langs) else None) for i, w in enumerate(words)]
    reader = word_lists_lang(reader)
    if reader:
        tagged = [t for t in tagged if t[1] in (None, reader)] + [t for t in tagged if t[1] not in (None, reader)]
    return [w for w, _ in tagged], [lang for _, lang in tagged]


def _main_lang(counts: Counter[str | None]) -> str | None:
    known = [(n, lang) for lang, n in counts.items() if lang]
    return max(known)[1] if len({lang for _, lang in known}) == 1 else None


def keywords(
    docs_by_topic: dict[int, list[Doc]], top_n: int = 8, params: NameParams = NameParams()
) -> dict[int, list[str]]:
    """``keyword_terms`` as plain strings."""
    return {tid: [k.text for k in kws] for tid, kws in keyword_terms(docs_by_topic, top_n, params).items()}
