"""Language codes: the one table of what the service takes as the same language, and which codes it accepts.

Codes are stored as ISO 639-1 where one exists ("fra", "fre", "en-US" -> "fr", "fr", "en"). A variety the
service keeps apart from its language ("ary", Moroccan Arabic) stays as given, so an MSA/Darija pair is
matched as a translation, as it is one; its word lists are its language's (``word_lists_lang``).
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["SAME_LANGUAGE", "VARIETIES", "canonical_lang", "word_lists_lang", "accepted_langs"]

#: 639-2/639-3 codes (and Standard Arabic's) -> the 639-1 code they are stored as
SAME_LANGUAGE = {"fra": "fr", "fre": "fr", "eng": "en", "spa": "es", "ara": "ar", "arb": "ar"}
#: varieties kept apart from a language they belong to -> that language
VARIETIES = {"ary": "ar"}


def canonical_lang(code: str | None) -> str | None:
    """'fra' -> 'fr', 'en-US' -> 'en'. Other codes are kept as given ('ary' stays apart from 'ar')."""
    if not code or not code.strip():
        return None
    base = code.strip().replace("_", "-").split("-")[0].lower()
    return SAME_LANGUAGE.get(base, base)


def word_lists_lang(code: str | None) -> str | None:
    """The language whose stop words and filler serve ``code`` ('ary' -> 'ar', 'fra' -> 'fr')."""
    lang = canonical_lang(code)
    return VARIETIES.get(lang, lang) if lang else None


def _primary(code: str) -> str:
    """A configured code as stored ('fra' -> 'fr'; the detector's names too: 'french' -> 'fr')."""
    from .lang import to_iso639_1

    try:
        return to_iso639_1(code)
    except ValueError:
        return canonical_lang(code) or code


@lru_cache(maxsize=8)
def accepted_langs(configured: tuple[str, ...]) -> tuple[str, ...]:
    """Every code a client may give (lower case; a region subtag may follow any): the configured languages
    (``TICKER_LANGUAGES``) first, then their varieties, then the 3-letter codes that name one of them."""
    primaries = list(dict.fromkeys(_primary(c) for c in configured))
    varieties = [v for v, parent in VARIETIES.items() if parent in primaries]
    others = [code for code, target in SAME_LANGUAGE.items() if target in primaries]
    return tuple(primaries + varieties + others)
