"""What goes into the flow and what comes out of it: a headline to ingest or check, and the answers."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["HeadlineInput", "IngestResult", "CheckMatch", "CheckResult"]


@dataclass(frozen=True)
class HeadlineInput:
    title: str
    ext_id: str | None = None
    source: str | None = None
    url: str | None = None
    published_at: float | None = None  # epoch seconds
    lang: str | None = None


@dataclass(frozen=True)
class IngestResult:
    headline_id: int
    lang: str | None
    story_id: int
    duplicate: bool
    match: str | None
    score: float | None
    matched_headline_id: int | None
    idempotent_replay: bool = False
    new_story: bool = False


@dataclass(frozen=True)
class CheckMatch:
    headline_id: int
    story_id: int
    title: str
    lang: str | None
    source: str | None
    published_at: float | None
    score: float
    cosine: float
    #: the pair score's addends by name (``score_terms``): they add up to ``score``
    terms: dict[str, float] = field(default_factory=dict)
    url: str | None = None
    #: when the service received it (what "ran" means when the feed gave no publication time)
    received_at: float | None = None
    #: scored headlines with this same text (normalised), this one included: they are listed once
    copies: int = 1


@dataclass(frozen=True)
class CheckResult:
    duplicate: bool
    story_id: int | None
    match: str | None
    score: float
    threshold: float
    lang: str | None
    matches: list[CheckMatch] = field(default_factory=list)
    #: the story ``score`` is about: the decided one, else the best-scoring one under the threshold
    #: (None when nothing was scored)
    closest_story_id: int | None = None
    #: that story's best-matching stored headline
    closest_headline_id: int | None = None
