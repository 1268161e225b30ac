"""Kickers and datelines: the generic label or place in front of the news, which the matching key drops.

A *kicker* is a generic label in front of the news ("Officiel :", "URGENT -", "Vidéo.", "Exclusif.")
or a dateline ("Rabat.", "New York.", "Rabat (MAP) -"). A topic prefix ("Sahara : ...",
"Tanger-Med : ...", "CAN 1976 : ...") names what the news is about and stays.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.ingest.fold import fold_accents
from app.ingest.punctuation import unify_punctuation

__all__ = ["KickerRules", "DEFAULT_KICKER_RULES", "strip_kicker"]

# Generic labels, compared accent- and case-insensitively. Not topic words: "Sahara", "CAN 1976"
# or "Alerte météo" say what the news is about and stay in the key.
_DEFAULT_LABELS = frozenset(
    fold
    for fold in (
        # fr
        "officiel",
        "exclusif",
        "exclusivité",
        "exclu",
        "urgent",
        "flash",
        "flash info",
        "info",
        "infos",
        "info express",
        "dernière minute",
        "dernière heure",
        "direct",
        "en direct",
        "live",
        "vidéo",
        "vidéos",
        "photo",
        "photos",
        "en images",
        "désintox",
        "célébration",
        "communiqué",
        "édito",
        "éditorial",
        "tribune",
        "opinion",
        "analyse",
        "interview",
        "entretien",
        "chronique",
        "reportage",
        "enquête",
        "décryptage",
        "portrait",
        "insolite",
        "humeur",
        "l'humeur",
        "focus",
        "zoom",
        "à la une",
        "revue de presse",
        "mise à jour",
        "infographie",
        "podcast",
        "fact-checking",
        "vrai ou faux",
        "alerte info",
        # en
        "breaking",
        "breaking news",
        "exclusive",
        "just in",
        "update",
        "updated",
        "watch",
        "video",
        "videos",
        "analysis",
        "editorial",
        "explainer",
        "fact check",
        "factcheck",
        "developing",
        "alert",
        "news alert",
        "latest",
        # es
        "última hora",
        "urgente",
        "exclusiva",
        "en directo",
        "en vivo",
        "vídeo",
        "fotos",
        "opinión",
        "análisis",
        "entrevista",
        "oficial",
        "alerta",
        "actualización",
        "crónica",
        # ar
        "عاجل",
        "حصري",
        "خاص",
        "فيديو",
        "بالفيديو",
        "بالصور",
        "صور",
        "مباشر",
        "رسمي",
        "تحليل",
        "رأي",
        "هام",
        "تحديث",
        "خبر عاجل",
    )
)

# Places that open a "Rabat - ..." dateline. "X." datelines need no list (any capitalised name).
_DEFAULT_DATELINES = frozenset(
    (
        "rabat",
        "casablanca",
        "marrakech",
        "tanger",
        "tangier",
        "fès",
        "fes",
        "meknès",
        "agadir",
        "oujda",
        "laâyoune",
        "laayoune",
        "dakhla",
        "tétouan",
        "kénitra",
        "nador",
        "el jadida",
        "safi",
        "essaouira",
        "béni mellal",
        "ouarzazate",
        "errachidia",
        "al hoceima",
        "paris",
        "madrid",
        "bruxelles",
        "brussels",
        "genève",
        "geneva",
        "new york",
        "washington",
        "londres",
        "london",
        "alger",
        "tunis",
        "nouakchott",
        "dakar",
        "le caire",
        "cairo",
        "abidjan",
        "addis-abeba",
        "addis ababa",
        "moscou",
        "pékin",
        "beijing",
        "riyad",
        "doha",
        "abou dhabi",
        "dubaï",
        "dubai",
        "séville",
        "sevilla",
        "barcelone",
        "barcelona",
        "ceuta",
        "melilla",
        "lisbonne",
        "rome",
        "berlin",
        "الرباط",
        "الدار البيضاء",
        "مراكش",
        "طنجة",
        "فاس",
        "أكادير",
        "وجدة",
        "العيون",
        "الداخلة",
    )
)

_AGENCIES = r"MAP|AFP|Reuters|AP|EFE|APS|ANSA|dpa|Xinhua|Europa Press|QNA|WAM|SPA|Anadolu|APA"


@dataclass(frozen=True)
class KickerRules:
    """What counts as a kicker. Labels and datelines are matched accent/case-insensitively."""

    labels: frozenset[str] = field(default_factory=lambda: _DEFAULT_LABELS)
    datelines: frozenset[str] = field(default_factory=lambda: _DEFAULT_DATELINES)
    #: "New York." is two words; a dateline longer than this is a sentence, not a place
    max_dateline_words: int = 3
    #: a one-word "X." dateline needs this many letters (so "M. Bourita" keeps its "M.")
    min_dateline_letters: int = 3
    #: never strip if fewer words than this would remain
    min_rest_words: int = 2
    #: "URGENT - Rabat. ..." holds two kickers
    max_kickers: int = 2

    def is_label(self, text: str) -> bool:
        return _fold_key(text) in self._folded_labels

    def is_dateline_place(self, text: str) -> bool:
        return _fold_key(text) in self._folded_datelines

    @property
    def _folded_labels(self) -> frozenset[str]:
        return _folded_set(self.labels)

    @property
    def _folded_datelines(self) -> frozenset[str]:
        return _folded_set(self.datelines)


_FOLD_CACHE: dict[frozenset[str], frozenset[str]] = {}


def _folded_set(words: frozenset[str]) -> frozenset[str]:
    cached = _FOLD_CACHE.get(words)
    if cached is None:
        cached = _FOLD_CACHE[words] = frozenset(_fold_key(w) for w in words)
    return cached


_FOLD_KEY_CACHE: dict[str, str] = {}
_FOLD_KEY_CACHE_MAX = 1 << 14


def _fold_key(text: str) -> str:
    # Every "X :" head of a title is looked up as a label: the same few heads ("Sahara", "Foot") come
    # back all day, and folding one costs more than the match that found it.
    folded = _FOLD_KEY_CACHE.get(text)
    if folded is None:
        folded = " ".join(fold_accents(unify_punctuation(text)).casefold().split())
        if len(text) <= 64:
            if len(_FOLD_KEY_CACHE) >= _FOLD_KEY_CACHE_MAX:
                _FOLD_KEY_CACHE.clear()
            _FOLD_KEY_CACHE[text] = folded
    return folded


DEFAULT_KICKER_RULES = KickerRules()

# "[Vidéo] ...", "(Officiel) ..."
_BRACKETED = re.compile(r"^[\[(]\s*([^\])]{1,30}?)\s*[\])]\s*[:\-|.]?\s*(.+)$")
# "Officiel : ...", "URGENT - ...", "Breaking: ...", "Vidéo. ...", "عاجل | ..."
_LABELLED = re.compile(r"^([^\W\d_][\w' ]{0,28}?)\s*(?:[:.|/]|\s-|-\s)\s*(.+)$")
# "Rabat (MAP) - ...", "Madrid, 3 mars (AFP) - ...": a place (and date), the agency, a dash
_AGENCY_DATELINE = re.compile(
    rf"^([^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){{0,2}})(,\s*[^()]{{1,25}}?)?\s*"
    rf"\((?:{_AGENCIES})\)\s*[-:]\s*(.+)$"
)
# "Rabat. ...", "New York. ..."
_DOT_DATELINE = re.compile(r"^([^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*){0,4})\.\s+(.+)$")


def strip_kicker(title: str, rules: KickerRules = DEFAULT_KICKER_RULES) -> tuple[str | None, str]:
    """Split a leading kicker/dateline off a title: ``("Officiel", "Rayane Bounida dit ...")``.

    Returns ``(None, title)`` (title trimmed, punctuation unified) when there is none. Several
    kickers in a row are joined with " / " in the first element.
    """
    rest = unify_punctuation(title)
    found: list[str] = []
    for _ in range(rules.max_kickers):
        split = _one_kicker(rest, rules)
        if split is None:
            break
        kicker, remainder = split
        if len(remainder.split()) < rules.min_rest_words:
            break
        found.append(kicker)
        rest = remainder
    return (" / ".join(found) if found else None), rest


def _one_kicker(text: str, rules: KickerRules) -> tuple[str, str] | None:
    match = _BRACKETED.match(text)
    if match and rules.is_label(match.group(1)):
        return match.group(1), match.group(2)

    # The patterns below cost a microsecond or two each, mostly to fail: skip the ones whose literal
    # ("(" of the agency, "." of the dateline) the text does not even hold.
    match = _AGENCY_DATELINE.match(text) if "(" in text else None
    if match and all(word[0].isupper() for word in match.group(1).split()):
        return (match.group(1) + (match.group(2) or "")).strip(), match.group(3)

    match = _LABELLED.match(text)
    if match:
        head = match.group(1).strip()
        if rules.is_label(head):
            return head, match.group(2)
        separator = text[len(match.group(1)) :].lstrip()[:1]
        if separator == "-" and rules.is_dateline_place(head):
            return head, match.group(2)

    match = _DOT_DATELINE.match(text) if "." in text else None
    if match and _looks_like_dateline(match.group(1), match.group(2), rules):
        return match.group(1), match.group(2)
    return None


def _looks_like_dateline(head: str, rest: str, rules: KickerRules) -> bool:
    """A capitalised name of 1-3 words, then a new sentence: "Rabat. SM le Roi ..."."""
    words = head.split()
    if len(words) > rules.max_dateline_words:
        return False
    if not all(word[0].isupper() for word in words):
        return False
    if len(words) == 1:
        word = words[0]
        if sum(ch.isalpha() for ch in word) < rules.min_dateline_letters:
            return False
        # An acronym ("CDM. Clubs 25 : ...") abbreviates a topic; a place is spelled out.
        if word.isupper() and not (rules.is_dateline_place(word) or rules.is_label(word)):
            return False
    first = rest[:1]
    return first.isupper() or first.isdigit() or first in "\"'"
