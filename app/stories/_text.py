"""Text helpers the story signals need, taken from ``app.ingest`` when it is there.

``app.ingest`` owns normalisation and stop words. This module is the one seam between the two
rooms: it imports what ingest offers and keeps a small private fallback (NFKC + casefold,
a short stop-word list) so that story matching works, and is testable, on its own.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["normalise", "embedding_text", "fold", "words", "is_stopword", "WORD_RE"]

# Words: runs of letters/digits (any script), with inner apostrophes and hyphens split off.
WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)


def _fallback_normalise(title: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def _fallback_fold(text: str) -> str:
    # Decompose, drop combining marks (accents, Arabic short vowels), recompose.
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped).casefold()


# Accent-folded, casefolded. Short on purpose: only the words that carry no story at all.
_FALLBACK_STOPWORDS = frozenset(
    """
    a au aux avec ce ces cet cette dans de des du elle en et est il ils je la le les leur leurs
    lui ma mais me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son
    sur ta te tes toi ton tu un une vos votre vous d l s n c j m t y ete etre avoir a ont sont
    plus moins tres tout tous toute toutes sans sous entre apres avant depuis chez contre vers
    comme dont ainsi alors aussi bien encore deja fait faire peut selon face
    the of and to in for on with at by from as is are was were be been an or that this these
    those it its into over after before about than but not no has have had will would can could
    amid new says said
    el los las lo un una unos unas y o e del al en con por para sin sobre tras entre desde hasta
    que se su sus es son fue ha han como mas pero muy ya le les este esta estos estas ese esa
    ante segun cualquier
    في من على الى إلى عن مع ان أن إن هذا هذه ذلك التي الذي الذين كان كانت قد لا ما لم لن او أو
    و ثم بين بعد قبل حتى عند كل هو هي هم
    """.split()
)


try:  # pragma: no cover - depends on whether app.ingest has landed
    from app.ingest.normalise import strip_kicker as _ingest_strip_kicker
    from app.ingest.normalise import fold_accents as _ingest_fold
    from app.ingest.normalise import normalise as _ingest_normalise
    from app.ingest.normalise import tokens as _ingest_tokens
    from app.ingest.stopwords import ALL_STOPWORDS as _INGEST_STOPWORDS
except ImportError:  # pragma: no cover
    _ingest_fold = _ingest_normalise = _ingest_tokens = _ingest_strip_kicker = None
    _INGEST_STOPWORDS = None

# Stop words of every language at once: lexical overlap is compared within one language, and a
# word that is a function word in any of fr/es/en/ar carries no story in the others either.
_STOPWORDS = _INGEST_STOPWORDS if _INGEST_STOPWORDS is not None else _FALLBACK_STOPWORDS


def normalise(title: str) -> str:
    """The matching key (ingest's when available)."""
    return (_ingest_normalise or _fallback_normalise)(title)


def embedding_text(title: str) -> str:
    """What to feed the encoder: the key's cleaning (kicker gone, punctuation unified) with the case
    kept. USE-m3 reads case: "Mauritania"/"Mauritanie" sit at 0.65 cased and 0.50 casefolded, and
    the tuned threshold assumes cased input (bench/tune_stories.py --embed cased)."""
    if _ingest_strip_kicker is not None:
        return _ingest_strip_kicker(title)[1]
    return " ".join(unicodedata.normalize("NFKC", title).split())


# Folded forms of words (every word of every headline is folded, and the same few thousand come back
# all day): a plain dict, emptied when full, is cheaper to consult than the two calls it saves.
_FOLDED: dict[str, str] = {}
_FOLDED_MAX = 1 << 16
_FOLDED_MAX_LEN = 40


def fold(text: str) -> str:
    """Accent-fold and casefold, so 'Sénégal' == 'senegal' == 'SENEGAL'."""
    folded = _FOLDED.get(text)
    if folded is None:
        folded = _ingest_fold(text).casefold() if _ingest_fold is not None else _fallback_fold(text)
        if len(text) <= _FOLDED_MAX_LEN:
            if len(_FOLDED) >= _FOLDED_MAX:
                _FOLDED.clear()
            _FOLDED[text] = folded
    return folded


def words(key: str, lang: str | None) -> list[str]:
    """Folded word tokens of a key, elisions split off where ingest knows how ("l'iran" -> "iran")."""
    if _ingest_tokens is not None:
        known = _FOLDED.get
        return [known(t) or fold(t) for t in _ingest_tokens(key, lang)]
    return WORD_RE.findall(fold(key))


def is_stopword(folded_word: str) -> bool:
    return folded_word in _STOPWORDS
