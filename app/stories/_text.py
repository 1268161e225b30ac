"""Text helpers the story signals need, from ``app.ingest`` (which owns normalisation and stop words):
the one seam between the two rooms, so that the signals name what they use in one place."""

from __future__ import annotations

import re

from app.ingest.fold import fold_accents as _ingest_fold
from app.ingest.kicker import strip_kicker as _ingest_strip_kicker
from app.ingest.normalise import normalise as _ingest_normalise
from app.ingest.normalise import tokens as _ingest_tokens
from app.ingest.stopwords import ALL_STOPWORDS

__all__ = ["normalise", "embedding_text", "fold", "words", "is_stopword", "WORD_RE"]

# Words: runs of letters/digits (any script), with inner apostrophes and hyphens split off.
WORD_RE = re.compile(r"[^\W_]+", re.UNICODE)

# Stop words of every language at once: lexical overlap is compared within one language, and a
# word that is a function word in any of fr/es/en/ar carries no story in the others either.
_STOPWORDS = ALL_STOPWORDS


def normalise(title: str) -> str:
    """The matching key."""
    return _ingest_normalise(title)


def embedding_text(title: str) -> str:
    """What to feed the encoder: the key's cleaning (kicker gone, punctuation unified) with the case
    kept. USE-m3 reads case: "Mauritania"/"Mauritanie" sit at 0.65 cased and 0.50 casefolded, and
    the tuned threshold assumes cased input (bench/tune_stories.py --embed cased)."""
    return _ingest_strip_kicker(title)[1]


# Folded forms of words (every word of every headline is folded, and the same few thousand come back
# all day): a plain dict, emptied when full, is cheaper to consult than the two calls it saves.
_FOLDED: dict[str, str] = {}
_FOLDED_MAX = 1 << 16
_FOLDED_MAX_LEN = 40


def fold(text: str) -> str:
    """Accent-fold and casefold, so 'Sénégal' == 'senegal' == 'SENEGAL'."""
    folded = _FOLDED.get(text)
    if folded is None:
        folded = _ingest_fold(text).casefold()
        if len(text) <= _FOLDED_MAX_LEN:
            if len(_FOLDED) >= _FOLDED_MAX:
                _FOLDED.clear()
            _FOLDED[text] = folded
    return folded


def words(key: str, lang: str | None) -> list[str]:
    """Folded word tokens of a key, elisions split off where ingest knows how ("l'iran" -> "iran")."""
    known = _FOLDED.get
    return [known(t) or fold(t) for t in _ingest_tokens(key, lang)]


def is_stopword(folded_word: str) -> bool:
    return folded_word in _STOPWORDS
