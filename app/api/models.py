"""Typed request and response bodies of the public HTTP API (they are the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MatchType = Literal["exact", "near", "translation"]


class HeadlineIn(BaseModel):
    """One headline from a feed. Unknown fields are rejected so that a misspelt field is not lost silently."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="The headline as published (kept verbatim).", examples=["Aïd Al Fitr : Grâce Royale au profit de 1201 personnes"])
    id: str | int | None = Field(default=None, description="The feed's own id; (source, id) makes re-posting idempotent.")
    source: str | None = Field(default=None, max_length=200, description="Outlet or feed name.")
    url: str | None = Field(default=None, max_length=2000)
    published_at: datetime | None = Field(default=None, description="ISO-8601; naive times are taken as UTC.")
    lang: str | None = Field(default=None, max_length=8, description="ISO 639-1/639-3 code; detected when absent.")


class HeadlineBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    headlines: list[HeadlineIn]


class IngestResultOut(BaseModel):
    headline_id: int
    lang: str | None
    story_id: int
    duplicate: bool = Field(description="True when the headline joined a story that already existed.")
    match: MatchType | None
    score: float | None
    matched_headline_id: int | None
    idempotent_replay: bool = Field(description="True when this (source, id) was stored before: nothing new stored.")


class IngestResponse(BaseModel):
    results: list[IngestResultOut]


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    lang: str | None = Field(default=None, max_length=8)


class CheckMatchOut(BaseModel):
    headline_id: int
    story_id: int
    title: str
    lang: str | None
    source: str | None
    published_at: str | None
    score: float
    cosine: float


class CheckOut(BaseModel):
    duplicate: bool
    story_id: int | None
    match: MatchType | None
    score: float
    threshold: float
    lang: str | None
    matches: list[CheckMatchOut]


class HeadlineBrief(BaseModel):
    headline_id: int
    title: str
    lang: str | None
    source: str | None
    published_at: str | None


class HeadlineOut(HeadlineBrief):
    url: str | None
    received_at: str
    match: MatchType | None
    similarity: float = Field(description="Cosine similarity to the story's canonical headline.")


class StoryOut(BaseModel):
    id: int
    canonical: HeadlineBrief
    versions: list[HeadlineBrief] = Field(description="One headline per language other than the canonical's.")
    languages: list[str]
    sources: list[str]
    size: int
    first_seen: str
    last_seen: str
    recent_count: int = Field(description="Headlines received in the last hour.")
    topic_id: int | None


class StoryDetailOut(StoryOut):
    headlines: list[HeadlineOut]


class StoryList(BaseModel):
    stories: list[StoryOut]
    total: int
    limit: int
    offset: int


class TopicOut(BaseModel):
    id: int
    label: str
    label_score: float
    keywords: list[str]
    size: int
    n_headlines: int
    languages: list[str]
    first_seen: str | None
    last_seen: str | None
    stories: list[StoryOut]


class ClustersOut(BaseModel):
    version: str
    generated_at: str
    topics: list[TopicOut]
    unassigned: list[StoryOut]


class RefitOut(BaseModel):
    n_stories: int
    n_topics: int
    noise_fraction: float
    seconds: float
    events: list[dict]


class Health(BaseModel):
    status: str
    detail: str | None = None
