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
from typing import Any

from ._text import WORD_RE, fold, is_stopword, words as key_words

__all__ = ["Features", "extract", "COMMON_NAMES", "ENTITY_STEM", "GRAM_N"]

#: entity stems keep this many leading characters (folded); long enough to keep names apart,
#: short enough to meet across fr/es/en spellings of one name.
ENTITY_STEM = 5
#: names every headline of a Moroccan ticker may carry: as informative as a stop word.
COMMON_NAMES = frozenset(
    fold(w) for w in "maroc morocco marruecos المغرب royaume kingdom reino".split()
)
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

# A numeral with optional separators: "12.341", "3,9", "12 341", "11:20" (kept as two numbers).
_NUMBER_RE = re.compile(r"\d+(?:[.,\u00a0\u202f ]\d+)*")
# Characters after which a capitalised word is only capitalised because it starts a sentence.
# Apostrophes and in-word hyphens are not breaks ("l'Equipe", "Al-Mouminine"); a spaced dash is.
_SENTENCE_START = set(".:!?;«»\"“”(|/–—…[")


def _canonical_number(raw: str) -> list[str]:
    """'12.341' -> ['12341'], '3,9' -> ['3.9'], '26 30' -> ['26', '30'], '٢٠٢٥' -> ['2025']."""
    parts = re.split(r"[.,\u00a0\u202f ]", raw)
    seps = re.findall(r"[.,\u00a0\u202f ]", raw)
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
    tokens: frozenset[str] = frozenset()
    entities: frozenset[str] = frozenset()
    leads: frozenset[str] = frozenset()
    numbers: frozenset[str] = frozenset()
    days: frozenset[str] = frozenset()
    months: frozenset[str] = frozenset()
    grams: frozenset[str] = frozenset()

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

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
    def from_json(cls, text: str | bytes | dict[str, Any]) -> "Features":
        data = text if isinstance(text, dict) else json.loads(text)
        return cls(
            key=data["key"],
            lang=data.get("lang"),
            tokens=frozenset(data.get("tokens", ())),
            entities=frozenset(data.get("entities", ())),
            leads=frozenset(data.get("leads", ())),
            numbers=frozenset(data.get("numbers", ())),
            days=frozenset(data.get("days", ())),
            months=frozenset(data.get("months", ())),
            grams=frozenset(data.get("grams", ())),
        )


def _is_name_like(word: str, sentence_start: bool) -> bool:
    if not word[0].isupper():
        # camelCase brands ("iPhone", "eBay") are names too
        return len(word) > 2 and any(ch.isupper() for ch in word[1:])
    if len(word) >= 2 and word.isupper():
        return True  # acronyms: CAF, FSF, OMDH, ANEF
    if any(ch.isupper() for ch in word[1:]):
        return True  # OneDrive, McDonald
    return not sentence_start


def _entities(text: str) -> tuple[set[str], set[str]]:
    """(names, sentence-initial capitalised words), folded and stemmed."""
    found: set[str] = set()
    leads: set[str] = set()
    prev_end = 0
    at_start = True
    for m in WORD_RE.finditer(text):
        gap = text[prev_end : m.start()]
        if any(ch in _SENTENCE_START for ch in gap) or gap.strip() == "-" and gap != "-":
            at_start = True
        word = m.group()
        prev_end = m.end()
        if word.isdigit() or not word[0].isalpha():
            at_start = False
            continue
        if word[0].isupper() or _is_name_like(word, at_start):
            folded = fold(word)
            if len(folded) >= 2 and not is_stopword(folded) and folded not in COMMON_NAMES:
                (found if _is_name_like(word, at_start) else leads).add(folded[:ENTITY_STEM])
        at_start = False
    return found, leads


def _grams(words: list[str]) -> set[str]:
    out: set[str] = set()
    for w in words:
        padded = f" {w} "
        if len(padded) <= GRAM_N:
            out.add(padded)
            continue
        out.update(padded[i : i + GRAM_N] for i in range(len(padded) - GRAM_N + 1))
    return out


def extract(title: str, key: str, lang: str | None) -> Features:
    """Signals of one headline: ``title`` as received (case kept for names), ``key`` its matching key."""
    text = unicodedata.normalize("NFKC", title)
    words = key_words(key, lang)
    # Weekday and month names are compared as codes (days/months), not as shared words: two
    # different stories of one Friday share "vendredi" and nothing else.
    content = [
        w for w in words
        if w[0].isalpha() and len(w) > 1 and not is_stopword(w) and w not in _DAY_CODE and w not in _MONTH_CODE
    ]
    numbers: set[str] = set()
    for raw in _NUMBER_RE.findall(text):
        numbers.update(_canonical_number(raw))
    names, leads = _entities(text)
    return Features(
        key=key,
        lang=lang,
        tokens=frozenset(content),
        entities=frozenset(names),
        leads=frozenset(leads - names),
        numbers=frozenset(numbers),
        days=frozenset(_DAY_CODE[w] for w in words if w in _DAY_CODE),
        months=frozenset(_MONTH_CODE[w] for w in words if w in _MONTH_CODE),
        grams=frozenset(_grams(content)),
    )
