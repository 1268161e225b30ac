"""Pure text work on incoming headlines: split raw captures, drop furniture, build the matching
key, detect the language. No I/O (see the architecture section of the README)."""

from app.ingest.fold import fold_accents
from app.ingest.kicker import strip_kicker
from app.ingest.normalise import normalise, text_hash, tokens
from app.ingest.split import Piece, SplitParams, split_capture, split_capture_pieces, split_headlines
from app.ingest.stopwords import STOPWORDS, is_stopword

__all__ = [
    "Piece",
    "SplitParams",
    "STOPWORDS",
    "fold_accents",
    "is_stopword",
    "normalise",
    "split_capture",
    "split_capture_pieces",
    "split_headlines",
    "strip_kicker",
    "text_hash",
    "tokens",
]
