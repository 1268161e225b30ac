"""The matching key of a headline, kept apart from the stored original.

``normalise`` = NFKC, one kind of quote, one kind of dash, French typographic spaces removed,
kicker/dateline prefix removed, casefolded, whitespace collapsed. Accents are kept in the key (they
tell "pêche" from "péché"); ``fold_accents`` is there for lexical matching that wants them gone.

A *kicker* is a generic label in front of the news ("Officiel :", "URGENT -", "Vidéo.", "Exclusif.")
or a dateline ("Rabat.", "New York.", "Rabat (MAP) -"). A topic prefix ("Sahara : ...",
"Tanger-Med : ...", "CAN 1976 : ...") names what the news is about and stays.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

__all__ = [
    "KickerRules",
    "DEFAULT_KICKER_RULES",
    "normalise",
    "key_of_rest",
    "strip_kicker",
    "text_hash",
    "fold_accents",
    "search_fold",
    "has_content",
    "unify_punctuation",
    "tokens",
]

# --- content ----------------------------------------------------------------------------------

#: the Hangul fillers: letters to Unicode (category Lo) that show nothing, and the only default-ignorable
#: code points ``str.isalnum`` accepts (tests/test_adversarial_input.py checks every one)
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")


def has_content(text: str, *, digits: bool = True) -> bool:
    """True when ``text`` holds a letter (or, with ``digits``, a digit) that shows.

    Spaces, punctuation, symbols, lone combining marks and invisible characters (zero-width, bidi
    controls, variation selectors, tags, fillers) alone give nothing to match on: such a "title" is blank
    to a reader, and "!!!" would be an exact duplicate of "..." (both keys are empty).
    """
    is_content = str.isalnum if digits else str.isalpha
    return any(is_content(ch) and ch not in _BLANK_LETTERS for ch in text)


# --- punctuation ------------------------------------------------------------------------------

_DOUBLE_QUOTES = "«»“”„‟″‶〝〞＂‹›"
_SINGLE_QUOTES = "‘’‚‛′‵`´ʼ"
_DASHES = "‐‑‒–—―−⁃﹘﹣－"
_PUNCT_TABLE = str.maketrans(
    {**{c: '"' for c in _DOUBLE_QUOTES}, **{c: "'" for c in _SINGLE_QUOTES}, **{c: "-" for c in _DASHES}}
)
#: any character _PUNCT_TABLE changes: str.translate looks every character up in a dict (~0.1 us
#: each), so a title with none of them skips it
_PUNCT_CHARS = re.compile("[" + re.escape(_DOUBLE_QUOTES + _SINGLE_QUOTES + _DASHES) + "]")
#: _PUNCT_TABLE by character: each maps to '"', "'" or "-", none of which it maps, so replacing the
#: few that occur one after the other, in any order, is what translate does (5x faster on a title)
_PUNCT_MAP = {chr(code): to for code, to in _PUNCT_TABLE.items()}
_SPACE_INSIDE_GUILLEMETS = re.compile(r"([«‹]) | ([»›])")
_SPACE_BEFORE_PUNCT = re.compile(r" ([:;!?%])")
_TRAILING_PUNCT = " .!…"
_MEDIA_SUFFIX = re.compile(
    r"\s*[(\[](?:vid[ée]os?|photos?|en direct|live|direct|audio|podcast|infographie|"
    r"fotos|en vivo|en directo|فيديو|بالفيديو|صور|بالصور|مباشر)[)\]]\s*$",
    re.IGNORECASE,
)


def _is_collapsed(text: str) -> bool:
    """``" ".join(text.split()) == text``, without building the list: every whitespace character but
    the space is unprintable (tests/test_pure_speed_equivalence.py checks it on every code point)."""
    return text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def unify_punctuation(text: str) -> str:
    """NFKC; « x » -> "x"; curly/single quotes -> '; every dash -> '-'; whitespace collapsed."""
    # Collapse whitespace first: every later pattern then sees single spaces, which keeps them
    # linear on hostile input (runs of thousands of spaces).
    text = unicodedata.normalize("NFKC", text)
    if not _is_collapsed(text):
        text = " ".join(text.split())
    if text.isascii():  # every quote and dash _PUNCT_TABLE changes is non-ASCII, except the backquote
        return text.replace("`", "'") if "`" in text else text
    if "«" in text or "»" in text or "‹" in text or "›" in text:  # most titles have none: skip the pattern
        text = _SPACE_INSIDE_GUILLEMETS.sub(lambda m: m.group(1) or m.group(2), text)
    for ch in set(_PUNCT_CHARS.findall(text)):
        text = text.replace(ch, _PUNCT_MAP[ch])
    return text


# --- kickers ----------------------------------------------------------------------------------

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


# --- key and hash -----------------------------------------------------------------------------


def normalise(title: str, rules: KickerRules = DEFAULT_KICKER_RULES) -> str:
    """The matching key of a headline (see module docstring)."""
    return key_of_rest(strip_kicker(title, rules)[1])


def key_of_rest(rest: str) -> str:
    """``normalise`` after ``strip_kicker``: the key from the title with its kicker gone, for callers
    that need both (ingest feeds the encoder the rest itself)."""
    # Both patterns are tried at every position, so look for what they need first: a media suffix
    # ends the text with a bracket (then blanks), a space before punctuation matches somewhere.
    if rest.rstrip().endswith((")", "]")):
        rest = _MEDIA_SUFFIX.sub("", rest)
    if _SPACE_BEFORE_PUNCT.search(rest) is not None:
        rest = _SPACE_BEFORE_PUNCT.sub(_group1, rest)
    rest = rest.rstrip(_TRAILING_PUNCT).casefold()
    return rest if _is_collapsed(rest) else " ".join(rest.split())


def _group1(match: re.Match[str]) -> str:
    # what the template r"\1" expands to, without re's Python-level template handling on every call
    return match.group(1)


_sha256 = hashlib.sha256


def text_hash(key: str) -> str:
    """SHA-256 hex digest of the UTF-8 key: stable across runs, processes and machines."""
    return _sha256(key.encode("utf-8")).hexdigest()


# --- folding and tokens -----------------------------------------------------------------------

_ARABIC_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
#: the block holding every character _ARABIC_DIACRITICS drops and _DIGITS maps: a text with none of
#: it skips both (``translate`` with a dict table costs ~50 ns a character)
_ARABIC_BLOCK = re.compile("[\u0610-\u06ff]")
_ARABIC_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"})
_LIGATURES = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"}
)
_DIGITS = str.maketrans({**{chr(0x660 + i): str(i) for i in range(10)}, **{chr(0x6F0 + i): str(i) for i in range(10)}})


def fold_accents(text: str) -> str:
    """Drop Latin accents (é->e, ç->c, œ->oe), Arabic short vowels and tatweel, unify alef/yeh/teh
    marbuta variants, and turn Arabic-Indic digits into ASCII. Case is kept."""
    # Called for every word of every headline (features, topic names): ASCII has nothing to fold,
    # and the same few thousand words come back all day.
    if text.isascii():
        return text
    if len(text) <= 40:
        return _fold_word(text)
    return _fold(text)


@lru_cache(maxsize=1 << 16)
def _fold_word(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    text = _ARABIC_DIACRITICS.sub("", text).translate(_ARABIC_LETTERS).translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped).translate(_DIGITS)


def search_fold(text: str) -> str:
    """The form a headline is searched in (``GET /v1/stories?q=``), and the query with it: punctuation
    unified (NFKC, one kind of quote and dash, so "d’Ivoire" is "d'ivoire"), casefolded, accents and
    Arabic short vowels and tatweel dropped (``fold_accents``), whitespace collapsed. One function for the
    stored column and the query words, so that both sides fold alike."""
    text = unify_punctuation(text).casefold()
    # casefold can itself leave combining marks ("İ" -> "i" + U+0307): fold after it
    text = fold_accents(text)
    return text if _is_collapsed(text) else " ".join(text.split())


# A number keeps its inner separators ("12.341", "7,36", "3,9") and a unit glued to it ("4G",
# "2ème", "24H"); a word is letters/digits starting with a letter ("U23", "Daech"), inner
# apostrophes kept once elisions are gone ("aujourd'hui").
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*[^\W_]*|[^\W\d_][^\W_]*(?:'[^\W\d_]+)*")
_ELISIONS = ("l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu")
#: What ``re.IGNORECASE`` lets each of their letters match (besides the capital): spelled out, because
#: an IGNORECASE pattern has no literal to search for and runs ~3x slower. Checked against
#: IGNORECASE on every code point by tests/test_pure_speed_equivalence.py.
_CASE_VARIANTS = {"i": "iIİı", "s": "sSſ"}


def _any_case(word: str) -> str:
    return "".join("[" + _CASE_VARIANTS.get(ch, ch + ch.upper()) + "]" for ch in word)


#: same matches as r"\b(?:l|d|...|presqu)'(?=[^\W\d_])" with re.IGNORECASE
_FRENCH_ELISION = re.compile(r"\b(?:" + "|".join(_any_case(w) for w in _ELISIONS) + r")'(?=[^\W\d_])")
#: same matches as r"'s\b" with re.IGNORECASE
_ENGLISH_POSSESSIVE = re.compile("'" + _any_case("s") + r"\b")


def tokens(key: str, lang: str | None = None) -> list[str]:
    """Word tokens of a key (or any text): casefolded, elisions and possessives split off,
    hyphenated compounds split ("al-fitr" -> "al", "fitr"), Arabic diacritics dropped,
    Arabic-Indic digits made ASCII. ``lang`` None applies the French and English rules both."""
    text = unify_punctuation(key).casefold()
    if not text.isascii() and _ARABIC_BLOCK.search(text) is not None:
        text = _ARABIC_DIACRITICS.sub("", text).translate(_DIGITS)
    if "'" in text:  # both patterns need an apostrophe
        if lang in (None, "fr"):
            text = _FRENCH_ELISION.sub(" ", text)
        if lang in (None, "en"):
            text = _ENGLISH_POSSESSIVE.sub(" ", text)
    return _TOKEN.findall(text)
