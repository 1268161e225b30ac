"""Raw ticker or article capture -> the headlines in it, original text kept, furniture dropped.

A capture is read as lines. A line holding item separators (runs of NO-BREAK SPACE, " | ", " • ",
" · ") is a *ticker line*: every item on it is a headline unless it is furniture. The other lines
are grouped into *blocks* (separated by two or more blank lines). A block is an *article* when it
holds a "Publié dans ..." byline, a paragraph too long for a headline, or mostly body-shaped lines;
it yields its title only — the line above each byline, else the first headline-like line before
the body. Any other block is a plain list of headlines, one a line.

Body and headline are told apart by shape (word count, full stop, sentence boundaries inside the
line, the "..." of a cut excerpt), so the rules carry over to captures not seen before. One
body-shaped line does not turn a list into an article: aggregators cut long titles with "..." and
some outlets end titles with a full stop.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from app.ingest.boilerplate import (
    clean_line,
    is_boilerplate,
    is_publication_line,
    is_tweet_attribution,
    is_tweet_text,
)
from app.ingest.normalise import has_content

__all__ = [
    "Piece",
    "SplitParams",
    "is_body_text",
    "line_shape",
    "split_capture",
    "split_capture_pieces",
    "split_headlines",
]

Kind = Literal["ticker", "headline", "article_title"]

# A run of blanks holding two or more NO-BREAK SPACEs separates ticker items; a single one is French
# typography ("« L'engagement", "Sahara : ...") and stays inside the item. So does " | ", " • " or " · "
# with blanks on both sides. Runs are found by one pattern and each is looked at once (``_separators``):
# the one regex that said all this backtracked in cubic time (3 KB of spaces around an NBSP: 15 s).
_NBSP = "\u00a0"
_BLANK_RUN = re.compile(r"[ \t\u00a0]+")
_BULLETS = frozenset("|•·")
_LINE_BREAK = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\u0085")

# A sentence ends inside the line: lower-case letter or digit (so not the "M." of "M. Bourita"),
# a full stop / ! / ?, a space, then an upper-case letter or an opening quote.
_INNER_SENTENCE_END = re.compile(r"(?<=[^\W\d_])(?<![A-ZÀ-Þ])[.!?](?=\s+[«\"“A-ZÀ-Þ])|(?<=\d)[.](?=\s+[A-ZÀ-Þ])")
_CLOSERS = "»”\"')]’ \u00a0"
_ELLIPSES = ("...", "…")


@dataclass(frozen=True)
class SplitParams:
    """Shape thresholds; defaults fit French/Spanish/English/Arabic news captures."""

    #: fewer words than this and a line in an article/list block is a tag ("Marrakech"), not a title
    min_title_words: int = 3
    #: fewer words than this and a ticker item is dropped (tickers are delimited, so be lenient)
    min_ticker_words: int = 2
    #: this many words or more is an article paragraph whatever its punctuation
    max_title_words: int = 40
    #: a line ending in a full stop with at least this many words is a sentence (body in an
    #: article, still a headline in a plain one-a-line list)
    min_sentence_words: int = 8
    #: a block is an article, not a list, when at least this share of its lines are
    #: sentence-shaped and at least ``min_body_words`` long (headlines are mostly 7-18 words)
    article_body_share: float = 0.5
    min_body_words: int = 12
    #: a line ending in "..." with at least this many words is shaped like a truncated excerpt
    min_excerpt_words: int = 15
    #: a sentence boundary inside a line counts only after this many words (so "Rabat. ..." and
    #: "Exclusif. ..." kickers do not make a headline look like two sentences)
    min_inner_sentence_words: int = 4
    #: this many consecutive blank lines or more start a new block
    block_gap_lines: int = 2
    #: a line (or ticker item) this long is no headline of any shape: it is not normalised to be looked at
    #: (NFKC grows some characters 18-fold, and one 2 MB line held the GIL for ~0.8 s a call, five calls)
    max_line_chars: int = 4000


DEFAULT_PARAMS = SplitParams()


@dataclass(frozen=True)
class Piece:
    """One headline found in a capture."""

    text: str
    kind: Kind
    #: 0-based line of the capture the text came from
    line: int


def _separators(line: str) -> Iterator[tuple[int, int]]:
    """Start and end of each item separator in ``line``, left to right, in time linear in the line.

    A run of blanks with two NBSPs or more is one whole; otherwise a run followed by a bullet and another
    run is one with both runs. A run that is neither separates nothing anywhere inside it.
    """
    pos = 0
    while (run := _BLANK_RUN.search(line, pos)) is not None:
        start, end = run.span()
        if line.count(_NBSP, start, end) >= 2:
            yield start, end
        elif end < len(line) and line[end] in _BULLETS and (after := _BLANK_RUN.match(line, end + 1)) is not None:
            end = after.end()
            yield start, end
        pos = end


def _split_items(line: str) -> list[str]:
    """``line`` cut at its item separators, untrimmed: one part more than there are separators."""
    parts: list[str] = []
    pos = 0
    for start, end in _separators(line):
        parts.append(line[pos:start])
        pos = end
    parts.append(line[pos:])
    return parts


def split_headlines(text: str) -> list[str]:
    """Separator-only split: newlines and ticker separators, items trimmed, empties dropped."""
    items: list[str] = []
    for line in _LINE_BREAK.split(text):
        items.extend(part.strip() for part in _split_items(line))
    return [item for item in items if item]


def split_capture(text: str, params: SplitParams = DEFAULT_PARAMS) -> list[str]:
    """Raw ticker/article capture -> headline strings (original text, trimmed), in order."""
    return [piece.text for piece in split_capture_pieces(text, params)]


def split_capture_pieces(text: str, params: SplitParams = DEFAULT_PARAMS) -> list[Piece]:
    """Like :func:`split_capture`, with each headline's kind and line number."""
    pieces: list[Piece] = []
    block: list[tuple[int, str]] = []
    blank_run = 0

    def flush() -> None:
        pieces.extend(_block_pieces(block, params))
        block.clear()

    for number, raw in enumerate(_LINE_BREAK.split(text)):
        line = raw.strip()
        if not line:
            blank_run += 1
            if blank_run >= params.block_gap_lines:
                flush()
            continue
        blank_run = 0
        items = [item.strip() for item in _split_items(line)]
        if len(items) > 1:
            flush()
            pieces.extend(Piece(item, "ticker", number) for item in items if _is_ticker_item(item, params))
            continue
        block.append((number, line))
    flush()
    return pieces


def _is_ticker_item(item: str, params: SplitParams) -> bool:
    if len(item) > params.max_line_chars:
        # kept, not dropped: the caller's title length check refuses it by name instead of losing it unseen
        return True
    return (
        bool(item)
        and has_content(item, digits=False)  # figures alone ("12:30", "2-1") are page furniture
        and _word_count(item) >= params.min_ticker_words
        and not is_boilerplate(item)
    )


# --- line shapes -----------------------------------------------------------------------------

Shape = Literal["paragraph", "sentence", "headline"]
LineKind = Literal["furniture", "publication", "paragraph", "sentence", "headline"]


def _word_count(text: str) -> int:
    return len(clean_line(text).split())


def line_shape(line: str, params: SplitParams = DEFAULT_PARAMS) -> Shape:
    """ "paragraph": too long for any headline; "sentence": shaped like body text (a full stop,
    several sentences, or a long line cut with "...") — body inside an article, yet still a
    headline in a plain list, where aggregators cut titles and some outlets end them with a full
    stop; "headline": anything else."""
    text = clean_line(line)
    words = len(text.split())
    if words >= params.max_title_words:
        return "paragraph"
    tail = text.rstrip(_CLOSERS)
    if tail.endswith(_ELLIPSES):
        return "sentence" if words >= params.min_excerpt_words else "headline"
    if words < params.min_sentence_words:
        return "headline"
    if tail.endswith("."):
        return "sentence"
    for match in _INNER_SENTENCE_END.finditer(text):
        if len(text[: match.start()].split()) >= params.min_inner_sentence_words:
            return "sentence"
    return "headline"


def is_body_text(line: str, params: SplitParams = DEFAULT_PARAMS) -> bool:
    """True for a paragraph or a sentence (as opposed to a headline)."""
    return line_shape(line, params) != "headline"


def _classify(lines: list[tuple[int, str]], params: SplitParams) -> list[LineKind]:
    kinds: list[LineKind] = []
    for index, (_, line) in enumerate(lines):
        if len(line) > params.max_line_chars:
            kinds.append("paragraph")
        elif is_publication_line(line):
            kinds.append("publication")
        elif is_boilerplate(line) or is_tweet_attribution(line) or is_tweet_text(line):
            kinds.append("furniture")
        elif (
            index + 1 < len(lines)
            and len(lines[index + 1][1]) <= params.max_line_chars
            and is_tweet_attribution(lines[index + 1][1])
        ):
            kinds.append("furniture")  # the text of an embedded tweet sits above its attribution
        elif (shape := line_shape(line, params)) != "headline":
            kinds.append(shape)
        elif (
            not has_content(line, digits=False)
            or _word_count(line) < params.min_title_words
            or clean_line(line).endswith(":")  # a section label ("Ces articles ... :")
        ):
            kinds.append("furniture")
        else:
            kinds.append("headline")
    return kinds


def _is_article(lines: list[tuple[int, str]], kinds: list[LineKind], params: SplitParams) -> bool:
    """A byline, a paragraph no headline could be, or mostly body-shaped lines of body length."""
    if "publication" in kinds or "paragraph" in kinds:
        return True
    content = [(line, kind) for (_, line), kind in zip(lines, kinds) if kind in ("headline", "sentence")]
    body = sum(1 for line, kind in content if kind == "sentence" and _word_count(line) >= params.min_body_words)
    return body > 0 and body >= params.article_body_share * len(content)


def _block_pieces(lines: list[tuple[int, str]], params: SplitParams) -> list[Piece]:
    if not lines:
        return []
    kinds = _classify(lines, params)
    if not _is_article(lines, kinds, params):
        # A plain list, one headline a line.
        return [
            Piece(line, "headline", number)
            for (number, line), kind in zip(lines, kinds)
            if kind in ("headline", "sentence")
        ]

    body = ("paragraph", "sentence")
    titles: set[int] = set()
    # A byline names the article above it: the nearest headline-like line before it.
    for index, kind in enumerate(kinds):
        if kind != "publication":
            continue
        for back in range(index - 1, -1, -1):
            if kinds[back] == "headline":
                titles.add(back)
                break
            if kinds[back] in body or kinds[back] == "publication":
                break
    # No byline: the first headline-like line before the body is the title ("Marrakech" above it
    # is a one-word location tag and already furniture).
    if not titles:
        first_body = next((index for index, kind in enumerate(kinds) if kind in body), len(kinds))
        for index in range(first_body):
            if kinds[index] == "headline":
                titles.add(index)
                break
    return [Piece(lines[index][1], "article_title", lines[index][0]) for index in sorted(titles)]
