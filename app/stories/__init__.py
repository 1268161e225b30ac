"""Story matching: signals per headline, one match score, online assignment to a story.

Pure code (no I/O): ``extract`` at ingest, ``decide`` per incoming headline with its candidates.
"""

from ._text import embedding_text
from .decide import EXACT, NEAR, TRANSLATION, Candidate, Decision, decide
from .features import Features, extract
from .score import MatchParams, pair_score

__all__ = [
    "Candidate",
    "Decision",
    "Features",
    "MatchParams",
    "EXACT",
    "NEAR",
    "TRANSLATION",
    "decide",
    "embedding_text",
    "extract",
    "pair_score",
]
