"""Which stories a listing holds (``StoryFilter``), and the WHERE clause both backends make of it,
story search (``q``) included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..ingest.fold import search_fold

#: the most a story search (``q``) may hold: characters, and words (each word is one LIKE test per headline)
MAX_SEARCH_CHARS = 200
MAX_SEARCH_WORDS = 8

#: punctuation around a query word ("Khaya:", "(MAP)", "«Polisario»"), not part of the word looked for
#: (``search_fold`` has made every quote ' or "); symbols such as % $ # + - _ stay: "50%" is not "50"
_EDGE_PUNCT = ".,;:!?¿¡()[]{}\"'«»…"


def search_words(q: str | None) -> list[str]:
    """The words a story search looks for: ``q`` folded as the stored headlines are (``search_fold``),
    split on whitespace, punctuation around a word dropped (a word of punctuation alone is kept as it is),
    repeats dropped; the first ``MAX_SEARCH_WORDS`` of them."""
    words: list[str] = []
    for word in search_fold(q or "").split():
        word = word.strip(_EDGE_PUNCT) or word
        if word not in words:
            words.append(word)
    return words[:MAX_SEARCH_WORDS]


def like_contains(word: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching text that contains ``word`` as it is: its own
    ``%``, ``_`` and ``\\`` are escaped, not wildcards."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@dataclass(frozen=True, kw_only=True)
class StoryFilter:
    """Which stories a listing holds (``Store.list_stories``), every field optional: ``lang`` / ``source``:
    a headline in this language / from this source; ``since``: seen at or after; ``until``: first seen at
    or before; ``topic_id``: in this topic; ``unassigned``: in no topic; ``q``: one of its headlines holds
    every word of it (see ``story_filter_sql``)."""

    lang: str | None = None
    source: str | None = None
    since: float | None = None
    until: float | None = None
    topic_id: int | None = None
    unassigned: bool = False
    q: str | None = None


def story_filter_sql(placeholder: str, member_of: Callable[[str], str], where: StoryFilter) -> tuple[str, list[Any]]:
    """The WHERE clause of a story listing, for either backend: ``placeholder`` is the driver's
    parameter mark, ``member_of(column)`` the dialect's "parameter is in this list column" test.

    ``q``: stories one of whose headlines holds every word of it (``search_words``) in its folded text
    (``headlines.search_text``, ``search_fold`` of the title), as a substring: "sulta" finds "Sultana"."""
    clauses: list[str] = ["size > 0"]
    params: list[Any] = []
    if where.unassigned:
        clauses.append("topic_id IS NULL")
    for column, value in (("languages", where.lang), ("sources", where.source)):
        if value:
            clauses.append(member_of(column))
            params.append(value)
    bounds: tuple[tuple[str, float | int | None], ...] = (
        ("last_seen >= ", where.since),
        ("first_seen <= ", where.until),
        ("topic_id = ", where.topic_id),
    )
    for condition, bound in bounds:
        if bound is not None:
            clauses.append(condition + placeholder)
            params.append(bound)
    words = search_words(where.q)
    if words:
        tests = " AND ".join(f"search_text LIKE {placeholder} ESCAPE '\\'" for _ in words)
        clauses.append(f"id IN (SELECT story_id FROM headlines WHERE {tests})")
        params.extend(like_contains(w) for w in words)
    return " AND ".join(clauses), params
