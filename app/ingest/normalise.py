"""The matching key of a headline, kept apart from the stored original.

``normalise`` = NFKC, one kind of quote, one kind of dash, French typographic spaces removed
(``app.ingest.punctuation``), kicker/dateline prefix removed (``app.ingest.kicker``), casefolded,
whitespace collapsed. Accents are kept in the key (they tell "pêche" from "péché"); ``fold_accents``
(``app.ingest.fold``) is there for lexical matching that wants them gone.
"""

from __future__ import annotations

import hashlib
import re

from app.ingest.fold import strip_arabic_marks
from app.ingest.kicker import DEFAULT_KICKER_RULES, KickerRules, strip_kicker
from app.ingest.punctuation import is_collapsed, unify_punctuation

__all__ = [
    "normalise",
    "key_of_rest",
    "text_hash",
    "has_content",
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


# --- key and hash -----------------------------------------------------------------------------

_SPACE_BEFORE_PUNCT = re.compile(r" ([:;!?%])")
_TRAILING_PUNCT = " .!…"
_MEDIA_SUFFIX = re.compile(
    r"\s*[(\[](?:vid[ée]os?|photos?|en direct|live|direct|audio|podcast|infographie|"
    r"fotos|en vivo|en directo|فيديو|بالفيديو|صور|بالصور|مباشر)[)\]]\s*$",
    re.IGNORECASE,
)


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
    return rest if is_collapsed(rest) else " ".join(rest.split())


def _group1(match: re.Match[str]) -> str:
    # what the template r"\1" expands to, without re's Python-level template handling on every call
    return match.group(1)


_sha256 = hashlib.sha256


def text_hash(key: str) -> str:
    """SHA-256 hex digest of the UTF-8 key: stable across runs, processes and machines."""
    return _sha256(key.encode("utf-8")).hexdigest()


# --- tokens -----------------------------------------------------------------------------------

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
    text = strip_arabic_marks(unify_punctuation(key).casefold())
    if "'" in text:  # both patterns need an apostrophe
        if lang in (None, "fr"):
            text = _FRENCH_ELISION.sub(" ", text)
        if lang in (None, "en"):
            text = _ENGLISH_POSSESSIVE.sub(" ", text)
    return _TOKEN.findall(text)
