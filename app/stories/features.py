"""Per-headline signals for story matching, computed once at ingest and stored with the headline.

Everything here survives translation or rewriting better than raw words do:

* ``entities`` — capitalised names and acronyms ("Sultana Khaya", "CAF"), accent-folded, casefolded,
  cut to a short stem so that "Mauritania"/"Mauritanie" or "Sénégal"/"Senegal" meet;
* ``leads`` — capitalised words that open a sentence ("Oppo cache ...", "Alerte météo ..."): a name
  or just a capital, so they count fully only against a real entity of the other headline;
* ``numbers`` — canonical numerals ("3,9" == "3.9", "12.341" == "12341", "٢٠٢٥" == "2025");
* ``days`` / ``months`` — weekday and month names mapped to language-free codes, so that
  "samedi" == "sábado" == "Saturday" and "samedi" != "dimanche";
* ``tokens`` — content words (stop words removed) for same-language overlap;
* ``grams`` — character trigrams of the content words, which also meet across fr/es/en cognates.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from itertools import chain
from sys import intern
from typing import Any

from ._text import _STOPWORDS, WORD_RE, fold, is_stopword
from ._text import words as key_words

__all__ = ["Features", "extract", "COMMON_NAMES", "ENTITY_STEM", "GRAM_N"]

#: entity stems keep this many leading characters (folded); long enough to keep names apart,
#: short enough to meet across fr/es/en spellings of one name.
ENTITY_STEM = 5
#: names every headline of a Moroccan ticker may carry: as informative as a stop word.
COMMON_NAMES = frozenset(fold(w) for w in "maroc morocco marruecos المغرب royaume kingdom reino".split())
#: character n-gram size for the cross-language lexical signal.
GRAM_N = 3

_WEEKDAYS = {
    1: "lundi lunes monday الاثنين الإثنين",
    2: "mardi martes tuesday الثلاثاء",
    3: "mercredi miercoles wednesday الأربعاء الاربعاء",
    4: "jeudi jueves thursday الخميس",
    5: "vendredi viernes friday الجمعة",
    6: "samedi sabado saturday السبت",
    7: "dimanche domingo sunday الأحد الاحد",
}
# English "may" and "march" are left out: far more often a verb / a protest than a month.
_MONTHS = {
    1: "janvier enero january يناير",
    2: "fevrier febrero february فبراير",
    3: "mars marzo مارس",
    4: "avril abril april أبريل ابريل",
    5: "mai mayo ماي مايو",
    6: "juin junio june يونيو يونيه",
    7: "juillet julio july يوليو يوليوز",
    8: "aout agosto august أغسطس اغسطس غشت",
    9: "septembre septiembre september سبتمبر شتنبر",
    10: "octobre octubre october أكتوبر اكتوبر",
    11: "novembre noviembre november نوفمبر نونبر",
    12: "decembre diciembre december ديسمبر دجنبر",
}
_DAY_CODE = {fold(w): f"d{n}" for n, words in _WEEKDAYS.items() for w in words.split()}
_MONTH_CODE = {fold(w): f"m{n}" for n, words in _MONTHS.items() for w in words.split()}

#: words that are not content words: stop words, and weekday and month names (compared as codes)
_NOT_CONTENT = frozenset(_STOPWORDS) | _DAY_CODE.keys() | _MONTH_CODE.keys()
_DAY_OR_MONTH = frozenset(_DAY_CODE) | _MONTH_CODE.keys()

# A numeral with optional separators: "12.341", "3,9", "12 341", "11:20" (kept as two numbers).
_NUMBER_RE = re.compile(r"\d+(?:[.,\u00a0\u202f ]\d+)*")
_NUMBER_SEP = re.compile(r"[.,\u00a0\u202f ]")
# Characters after which a capitalised word is only capitalised because it starts a sentence.
# Apostrophes and in-word hyphens are not breaks ("l'Equipe", "Al-Mouminine"); a spaced dash is.
_SENTENCE_START = set(".:!?;«»\"“”(|/–—…[")


def _canonical_number(raw: str) -> list[str]:
    """'12.341' -> ['12341'], '3,9' -> ['3.9'], '26 30' -> ['26', '30'], '٢٠٢٥' -> ['2025']."""
    if raw.isdigit():  # no separator (none is a digit): most numerals
        return [str(int(raw))]
    parts = _NUMBER_SEP.split(raw)
    seps = _NUMBER_SEP.findall(raw)
    out: list[str] = []
    # Thousands grouping: every group after the first has exactly 3 digits (and the first 1-3).
    if len(parts) > 1 and len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:]):
        return [str(int("".join(parts)))]
    # One decimal separator ('.' or ','): a decimal number; spaces never make decimals.
    if len(parts) == 2 and seps[0] in ".,":
        whole, frac = str(int(parts[0])), "".join(str(int(ch)) for ch in parts[1]).rstrip("0")
        return [f"{whole}.{frac}" if frac else whole]
    for p in parts:
        out.append(str(int(p)))
    return out


@dataclass(frozen=True)
class Features:
    """What story matching knows about one headline besides its embedding. JSON-serialisable."""

    key: str
    lang: str | None
    #: a frozenset, or a tuple in the form ``compact()`` gives
    tokens: frozenset[str] | tuple[str, ...] = frozenset()
    entities: frozenset[str] = frozenset()
    leads: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    days: frozenset[str] = frozenset()
    months: frozenset[str] = frozenset()
    grams: frozenset[str] = frozenset()

    def to_json(self) -> str:
        # json.dumps(..., ensure_ascii=False, separators=(",", ":")), without building its encoder
        return _JSON_ENCODER.encode(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "lang": self.lang,
            "tokens": sorted(self.tokens),
            "entities": sorted(self.entities),
            "leads": sorted(self.leads),
            "numbers": sorted(self.numbers),
            "days": sorted(self.days),
            "months": sorted(self.months),
            "grams": sorted(self.grams),
        }

    @classmethod
    def from_json(cls, text: str | bytes | dict[str, Any], compact: bool = False) -> "Features":
        """The features ``to_json`` wrote; ``compact``: in the form ``compact()`` gives."""
        data = text if isinstance(text, dict) else json.loads(text)
        get = data.get
        if compact:
            return _new_features(
                key=data["key"],
                lang=get("lang"),
                tokens=tuple(map(intern, get("tokens", ()))),
                entities=_small_set(get("entities")),
                leads=_small_set(get("leads")),
                numbers=_small_set(get("numbers")),
                days=_small_set(get("days")),
                months=_small_set(get("months")),
                grams=frozenset(map(intern, get("grams", ()))),
            )
        return (_new_features if cls is Features else cls)(
            key=data["key"],
            lang=get("lang"),
            tokens=frozenset(get("tokens", ())),
            entities=frozenset(get("entities", ())),
            leads=frozenset(get("leads", ())),
            numbers=frozenset(get("numbers", ())),
            days=frozenset(get("days", ())),
            months=frozenset(get("months", ())),
            # interned like extract's (_word_grams): shared objects, compared by identity first
            grams=frozenset(map(intern, get("grams", ()))),
        )

    def compact(self) -> "Features":
        """The same features in two thirds of the memory, for the candidates matching keeps in memory
        (``Pipeline``'s cache of stored headlines). On the shared datasets' 1,898 titles an entry took
        6.3 KB as sets (the trigram set's hash table 2.3 KB, the token set's 0.7 KB, four empty sets
        ~0.9 KB); compact, 4.3 KB. ``tokens`` becomes a tuple of interned strings (headlines share their
        words) and empty sets one shared object. ``grams`` stays a set: as a tuple it took another
        1.9 KB off, but intersecting it reads every trigram's string object, scattered in memory, where
        two sets compare the hashes in their tables; ingest into a pipeline holding 50k cached headlines
        ran 5-9 % slower. Scores are the same to the last bit, but only as the *second* headline of
        ``pair_score`` / ``score_terms``, which intersect the first one's token set with the tuple; and a
        compact copy is not ``==`` to its original."""
        return _new_features(
            key=self.key,
            lang=self.lang,
            tokens=tuple(map(intern, self.tokens)),
            entities=_small_set(self.entities),
            leads=_small_set(self.leads),
            numbers=_small_set(self.numbers),
            days=_small_set(self.days),
            months=_small_set(self.months),
            grams=self.grams,
        )


#: the one empty set of compact features (``frozenset()`` makes a new 216-byte object each time)
_EMPTY: frozenset[str] = frozenset()


def _small_set(items: Any) -> frozenset[str]:
    return frozenset(items) if items else _EMPTY


_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _new_features(**fields: Any) -> Features:
    """``Features(**fields)`` for all nine fields, in order, without the frozen dataclass's __init__
    (nine ``object.__setattr__`` calls, half the cost of reading a stored row). Features has no
    __post_init__ and no slots; tests/test_pure_speed_equivalence.py checks that the two agree."""
    made = object.__new__(Features)
    made.__dict__.update(fields)
    return made


def _has_upper(text: str) -> bool:
    # islower() is False as soon as one character is upper (or title) case: most words end there
    return not text.islower() and any(ch.isupper() for ch in text)


def _is_name_like(word: str, sentence_start: bool) -> bool:
    if not word[0].isupper():
        # camelCase brands ("iPhone", "eBay") are names too
        return len(word) > 2 and _has_upper(word[1:])
    if len(word) >= 2 and word.isupper():
        return True  # acronyms: CAF, FSF, OMDH, ANEF
    if _has_upper(word[1:]):
        return True  # OneDrive, McDonald
    return not sentence_start


# WORD_RE with a group: split() gives [gap, word, gap, word, ..., gap], the gaps being exactly the
# text between one word and the next (finditer's m.start()/m.end() cost more than the words).
_WORD_SPLIT = re.compile("(" + WORD_RE.pattern + ")", WORD_RE.flags)

# What _entities makes of a word, whatever surrounds it (the same few thousand words come back all
# day): (stem, a name even at a sentence start) when it is a name or a lead, () when it is neither.
_NAME_INFO: dict[str, tuple[str, bool] | tuple[()]] = {}
_GRAMS_OF: dict[str, tuple[str, ...]] = {}
_WORD_CACHE_MAX = 1 << 16


def _name_info(word: str) -> tuple[str, bool] | tuple[()]:
    info = _word_name_info(word)
    if len(_NAME_INFO) >= _WORD_CACHE_MAX:
        _NAME_INFO.clear()
    _NAME_INFO[word] = info
    return info


def _word_name_info(word: str) -> tuple[str, bool] | tuple[()]:
    if word.isdigit() or not word[0].isalpha():
        return ()
    # _is_name_like only reads sentence_start for a capitalised word, which qualifies anyway; and
    # for one, _is_name_like(word, s) == _is_name_like(word, True) or not s.
    always = _is_name_like(word, True)
    if not (word[0].isupper() or always):
        return ()
    folded = fold(word)
    if len(folded) < 2 or is_stopword(folded) or folded in COMMON_NAMES:
        return ()
    return folded[:ENTITY_STEM], always


def _entities(text: str) -> tuple[set[str], set[str]]:
    """(names, sentence-initial capitalised words), folded and stemmed."""
    found: set[str] = set()
    leads: set[str] = set()
    at_start = True
    known = _NAME_INFO.get
    parts = _WORD_SPLIT.split(text)
    for i in range(1, len(parts), 2):
        gap = parts[i - 1]
        if gap != " " and (not _SENTENCE_START.isdisjoint(gap) or gap.strip() == "-" and gap != "-"):
            at_start = True
        word = parts[i]
        info = known(word)
        if info is None:
            info = _name_info(word)
        if info:
            stem, always = info
            (found if always or not at_start else leads).add(stem)
        at_start = False
    return found, leads


def _word_grams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    if len(padded) <= GRAM_N:
        grams: tuple[str, ...] = (padded,)
    else:
        # interned: the cache then holds each trigram once (a third of its size), and headlines share
        # their trigram objects, which set intersections compare by identity first
        grams = tuple([intern(padded[i : i + GRAM_N]) for i in range(len(padded) - GRAM_N + 1)])
    if len(_GRAMS_OF) >= _WORD_CACHE_MAX:
        _GRAMS_OF.clear()
    _GRAMS_OF[word] = grams
    return grams


def _grams(words: list[str]) -> set[str]:
    known = _GRAMS_OF.get
    out: set[str] = set()
    for w in words:
        out.update(known(w) or _word_grams(w))
    return out


def extract(title: str, key: str, lang: str | None) -> Features:
    """Signals of one headline: ``title`` as received (case kept for names), ``key`` its matching key."""
    text = unicodedata.normalize("NFKC", title)
    words = key_words(key, lang)
    # Weekday and month names are compared as codes (days/months), not as shared words: two
    # different stories of one Friday share "vendredi" and nothing else.
    content = [w for w in words if w[0].isalpha() and len(w) > 1 and w not in _NOT_CONTENT]
    numbers: set[str] = set()
    for raw in _NUMBER_RE.findall(text):
        if raw.isdigit():
            numbers.add(str(int(raw)))  # what _canonical_number says of a numeral without separator
        else:
            numbers.update(_canonical_number(raw))
    names, leads = _entities(text)
    days: frozenset[str]
    months: frozenset[str]
    if _DAY_OR_MONTH.isdisjoint(words):
        days = months = frozenset()
    else:
        days = frozenset(_DAY_CODE[w] for w in words if w in _DAY_CODE)
        months = frozenset(_MONTH_CODE[w] for w in words if w in _MONTH_CODE)
    known = _GRAMS_OF.get
    grams = frozenset(chain.from_iterable([known(w) or _word_grams(w) for w in content]))
    return _new_features(
        key=key,
        lang=lang,
        tokens=frozenset(content),
        entities=frozenset(names),
        leads=frozenset(leads - names),
        numbers=frozenset(numbers),
        days=days,
        months=months,
        grams=grams,
    )
