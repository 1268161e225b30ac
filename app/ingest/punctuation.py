"""One form for the quotes, dashes and spaces of a text: the first step of the matching key, the kicker
rules and the search folding alike, so that all three see the same characters.

``unify_punctuation`` = NFKC, « x » -> "x", one kind of double quote, one kind of single quote, one kind
of dash, whitespace collapsed.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["is_collapsed", "unify_punctuation"]

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


def is_collapsed(text: str) -> bool:
    """``" ".join(text.split()) == text``, without building the list: every whitespace character but
    the space is unprintable (tests/test_pure_speed_equivalence.py checks it on every code point)."""
    return text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " "


def unify_punctuation(text: str) -> str:
    """NFKC; « x » -> "x"; curly/single quotes -> '; every dash -> '-'; whitespace collapsed."""
    # Collapse whitespace first: every later pattern then sees single spaces, which keeps them
    # linear on hostile input (runs of thousands of spaces).
    text = unicodedata.normalize("NFKC", text)
    if not is_collapsed(text):
        text = " ".join(text.split())
    if text.isascii():  # every quote and dash _PUNCT_TABLE changes is non-ASCII, except the backquote
        return text.replace("`", "'") if "`" in text else text
    if "«" in text or "»" in text or "‹" in text or "›" in text:  # most titles have none: skip the pattern
        text = _SPACE_INSIDE_GUILLEMETS.sub(lambda m: m.group(1) or m.group(2), text)
    for ch in set(_PUNCT_CHARS.findall(text)):
        text = text.replace(ch, _PUNCT_MAP[ch])
    return text
