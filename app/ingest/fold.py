"""Accent folding for lexical matching and search: the forms in which "Sénégal" meets "senegal".

The matching key keeps accents (they tell "pêche" from "péché"); the features, stop words, topic names and
story search fold them away with ``fold_accents`` and ``search_fold``.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from app.ingest.punctuation import is_collapsed, unify_punctuation

__all__ = ["fold_accents", "search_fold", "strip_arabic_marks"]

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


def strip_arabic_marks(text: str) -> str:
    """Drop Arabic short vowels and tatweel and turn Arabic-Indic digits into ASCII, nothing else: the
    lighter fold ``tokens`` applies (letter variants and Latin accents kept)."""
    if text.isascii() or _ARABIC_BLOCK.search(text) is None:
        return text
    return _ARABIC_DIACRITICS.sub("", text).translate(_DIGITS)


def search_fold(text: str) -> str:
    """The form a headline is searched in (``GET /v1/stories?q=``), and the query with it: punctuation
    unified (NFKC, one kind of quote and dash, so "d’Ivoire" is "d'ivoire"), casefolded, accents and
    Arabic short vowels and tatweel dropped (``fold_accents``), whitespace collapsed. One function for the
    stored column and the query words, so that both sides fold alike."""
    text = unify_punctuation(text).casefold()
    # casefold can itself leave combining marks ("İ" -> "i" + U+0307): fold after it
    text = fold_accents(text)
    return text if is_collapsed(text) else " ".join(text.split())
