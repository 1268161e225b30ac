"""Typed request and response bodies of the public HTTP API (they are the OpenAPI schema)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    field_validator,
)

from ..limits import LANG_PATTERN, MAX_EXT_ID_CHARS

MatchType = Literal["exact", "near", "translation"]


def _is_number(text: str) -> bool:
    """Whatever Python reads as a float ("20250621", "2.0250621e7", "1_700", " NaN", "-inf"): no ISO-8601 date is."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _iso_only(value: object) -> object:
    # Left alone, pydantic reads a number, or a string in any number form ("1.7e9"), as Unix seconds or
    # milliseconds depending on its size, so a feed's 2.0250621e7 would be stored as 1970-08-23 without a word.
    # The API speaks ISO-8601.
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if number or (isinstance(value, str) and _is_number(value)):
        raise ValueError("expected an ISO-8601 date-time such as 2025-06-21T09:12:00Z, not a number")
    return value


#: an ISO-8601 date-time (a date alone means its midnight); numbers are refused, see ``_iso_only``
IsoDateTime = Annotated[datetime, BeforeValidator(_iso_only)]


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: object) -> object:
    # JSON can spell a lone surrogate ("\ud800") that no UTF-8 text holds: it failed deep in language
    # detection and storage with a 500. A NUL is refused in every field, as PostgreSQL text cannot hold one.
    if isinstance(value, str) and (m := _UNSTORABLE.search(value)):
        what = "a NUL character" if m.group() == "\x00" else f"a lone surrogate (U+{ord(m.group()):04X})"
        raise ValueError(f"contains {what}, which cannot be stored as text")
    return value


#: text that can be stored and queried in every backend (for query parameters; bodies check every field)
StorableStr = Annotated[str, AfterValidator(storable)]


class _Input(BaseModel):
    """A request body: unknown fields are rejected, so that a misspelt field is not lost silently."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: object) -> object:
        if isinstance(value, int) and len(str(abs(value))) > MAX_EXT_ID_CHARS:
            raise ValueError(f"has more than {MAX_EXT_ID_CHARS} digits")
        return storable(value)


class HeadlineIn(_Input):
    """One headline from a feed."""

    title: str = Field(
        description="The headline as published (kept verbatim).",
        examples=["Aïd Al Fitr : Grâce Royale au profit de 1201 personnes"],
    )
    # Strict: lax mode would store `true` as id "1" and `false` as "0".
    id: Annotated[StrictStr, Field(max_length=MAX_EXT_ID_CHARS)] | StrictInt | None = Field(
        default=None, description="The feed's own id; (source, id) makes re-posting idempotent."
    )
    source: str | None = Field(default=None, max_length=200, description="Outlet or feed name.")
    url: str | None = Field(default=None, max_length=2000)
    published_at: IsoDateTime | None = Field(default=None, description="ISO-8601; naive times are taken as UTC.")
    lang: str | None = Field(
        default=None,
        max_length=8,
        pattern=LANG_PATTERN,
        description="ISO 639-1/639-3 code; detected when absent or empty.",
    )


class HeadlineBatch(_Input):
    headlines: list[HeadlineIn]


class IngestResultOut(BaseModel):
    #: built from an IngestResult (app/records.py): its fields read by attribute
    model_config = ConfigDict(from_attributes=True)

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


class CheckIn(_Input):
    title: str
    lang: str | None = Field(default=None, max_length=8, pattern=LANG_PATTERN)


class CheckMatchOut(BaseModel):
    headline_id: int
    story_id: int
    title: str
    lang: str | None
    source: str | None
    published_at: str | None = Field(description="When it ran (ISO-8601, from the feed); null when the feed gave none.")
    received_at: str | None = Field(
        None, description="When the service received it: when it ran, for a feed without times."
    )
    url: str | None = Field(
        None, description="Where it ran, as the feed gave it (not checked: a client links only http/https)."
    )
    same_story: bool = Field(
        False,
        description="It belongs to the story the check is about (`story_id`, else "
        "`closest_story_id`); false: related, not the same story (also listed in `related`).",
    )
    copies: int = Field(
        1,
        description="Stored headlines with this same text (normalised) among those scored, "
        "itself included: the same text is listed once.",
    )
    score: float
    cosine: float
    terms: dict[str, float] = Field(
        default_factory=dict,
        description="Why the pair scores what it does: the score's addends, which add up to it. `exact` alone "
        "for the same text; else `cosine` (embedding similarity), `cross_lang` (calibration of a cross-language "
        "cosine), `entity` (shared names), `number` (a shared figure), `lexical` (shared words, same language), "
        "`gram` (shared character trigrams), `conflict` (figures, weekdays or months that disagree: negative), "
        "`time` (publication days apart: negative).",
    )


class CheckVersionOut(BaseModel):
    """A story's earliest headline in one language."""

    headline_id: int
    title: str
    lang: str
    source: str | None
    url: str | None = Field(description="As the feed gave it (not checked: a client links only http/https).")
    published_at: str | None = Field(description="When it ran (ISO-8601, from the feed); null when the feed gave none.")
    received_at: str | None = Field(description="When the service received it: when it ran, for a feed without times.")


class CheckStoryOut(BaseModel):
    """The whole story the check is about, not only its headlines among the top matches."""

    id: int
    size: int = Field(description="How many headlines it holds.")
    n_sources: int = Field(description="How many distinct outlets ran it.")
    languages: list[str] = Field(description="Its languages, in order of first appearance.")
    first_seen: str = Field(description="ISO-8601: when its first headline ran.")
    last_seen: str = Field(description="ISO-8601: when its latest headline ran.")
    versions: list[CheckVersionOut] = Field(
        description="One per language: its earliest headline in that language, in the order they ran (at most 12)."
    )


class CheckOut(BaseModel):
    duplicate: bool
    story_id: int | None
    match: MatchType | None
    score: float
    threshold: float
    lang: str | None
    matches: list[CheckMatchOut]
    verdict: Literal["duplicate", "possible", "new"] = Field(
        description="`duplicate` exactly when `duplicate` is true; `possible` when not, but `confidence` reaches "
        "the bar (0.3, app/stories/confidence.py); `new` otherwise."
    )
    confidence: float = Field(
        ge=0.0,
        le=1.0,
        description="Probability that the headline is the same story as the closest stored one, "
        "calibrated on the shared labelled sets from `score - threshold` (docs/evidence.md); 0 when nothing was close.",
    )
    closest_story_id: int | None = Field(
        description="The story `score` and `confidence` are about: `story_id` for a duplicate, else the best-scoring "
        "story under the threshold; null when no stored headline was close enough to be scored."
    )
    related: list[CheckMatchOut] = Field(
        default_factory=list, description="The `matches` of other stories than that one: related, not the same story."
    )
    story: CheckStoryOut | None = Field(
        description="The story `closest_story_id` names, whole: its size, outlets, languages, times and its "
        "earliest headline in each language (`versions`), which the top `matches` may not show; null when "
        "`closest_story_id` is null (or that story was emptied meanwhile, by an editor's merge)."
    )


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
    sources: list[str] = Field(description="The outlets that ran it, each once, in order of first appearance.")
    n_sources: int = Field(description="How many distinct outlets ran it: the length of `sources`.")
    size: int = Field(description="How many headlines it holds.")
    first_seen: str
    last_seen: str
    recent_count: int = Field(description="Headlines received in the last hour.")
    topic_id: int | None


class StoryDetailOut(StoryOut):
    headlines: list[HeadlineOut] = Field(
        description="One page of the story's headlines, oldest first: `limit` of them from `offset`; "
        "`size` is how many there are in all."
    )
    limit: int
    offset: int


class StoryList(BaseModel):
    stories: list[StoryOut]
    total: int
    limit: int
    offset: int


class TopicOut(BaseModel):
    id: int
    label: str = Field(
        description="The topic's display name, never another topic's: its category's name for the "
        "category's most confident topic, else its first keywords."
    )
    category: str | None = Field(
        None, description='The taxonomy entry it belongs to ("sport", "other"...); null when not known.'
    )
    label_score: float
    keywords: list[str] = Field(
        description="Best first, the reader's language (`lang`, else Accept-Language) "
        "and names before other languages' words."
    )
    keyword_langs: list[str | None] = Field(
        default_factory=list, description="Each keyword's language; null for a name or a term of several."
    )
    size: int = Field(description="Stories the last refit put in it.")
    n_stories: int = Field(
        0,
        description="Stories it holds now (the refit's and those assigned since): the "
        "`total` of `GET /v1/stories?topic_id=` this id.",
    )
    n_headlines: int
    languages: list[str]
    first_seen: str | None
    last_seen: str | None
    stories: list[StoryOut] = Field(description="Its newest stories (`GET /v1/stories?topic_id=` pages on).")


class ClustersOut(BaseModel):
    version: str = Field(description="The ETag's value, without quotes.")
    generated_at: str
    topics: list[TopicOut]
    unassigned: list[StoryOut] = Field(description="The newest stories in no topic.")
    unassigned_total: int = Field(
        0,
        description="How many stories are in no topic: the `total` of "
        "`GET /v1/stories?unassigned=true` (with the same `since`).",
    )


class TopicEventsOut(BaseModel):
    events: list[dict] = Field(description='{"type": "new"|"merge"|"split"|"retired", "at": ISO time, "topic", ...}')


class RefitOut(BaseModel):
    n_stories: int
    n_topics: int
    noise_fraction: float
    seconds: float
    events: list[dict]
    in_child: bool = Field(
        False, description="Computed in a child process (windows of at least TICKER_REFIT_PROCESS_MIN_STORIES stories)."
    )
    worker_peak_rss_mib: float | None = Field(None, description="That child's peak resident memory, MiB.")


class RetentionOut(BaseModel):
    stories: int = Field(description="Stories deleted, with all their headlines.")
    headlines: int
    cutoff: str | None = Field(
        description="Stories whose last headline is older than this were deleted; "
        "null when retention is off or the store is empty."
    )
    retention_days: float
    seconds: float


class EncoderInfo(BaseModel):
    """Which encoder serves and how: an operator sees whether the int8 or the float32 path runs here."""

    name: str
    dim: int
    #: "int8" or "fp32" for the default model; absent for encoders that do not say
    precision: str | None = None
    #: bits of the int8 products' weights: 8, or 7 on CPUs whose integer products would saturate at 8
    weight_bits: int | None = None
    #: what runs the forward pass ("onnxruntime", "numpy", "torch"...)
    runtime: str | None = None
    #: the start-up probe's answer: do 8-bit weights multiply exactly on this CPU
    int8_full_range_exact: bool | None = None
    workers: int | None = None
    #: the CPU's model and the flags that choose the kernels
    cpu: dict[str, Any] | None = None


class Health(BaseModel):
    status: str
    detail: str | None = None
    encoder: EncoderInfo | None = None


class ErrorOut(BaseModel):
    detail: str


#: the largest id a route takes: ids are 64-bit in every store, and a larger one made SQLite raise (a 500)
MAX_ID = 2**63 - 1

_ERRORS = {
    400: "the body is not valid UTF-8 (the byte offset is given), or Content-Length is not a number",
    401: "API key missing or wrong (writes when TICKER_API_KEY is set; reads too with TICKER_PROTECT_READS)",
    409: "a refit is already running",
    413: "the body is over TICKER_MAX_BODY_BYTES",
    415: "wrong Content-Type",
    429: "too many dedup checks from this client; see Retry-After",
    500: "the topic refit failed (its worker process raised or died); the previous topics stay in place",
    503: "storage is not open or the encoder is still loading; see Retry-After",
}


def error_responses(*codes: int, not_found: str | None = None) -> dict[int | str, dict[str, Any]]:
    """The error statuses a route may answer, for its OpenAPI ``responses`` (clients and fuzzers rely on them)."""
    out: dict[int | str, dict[str, Any]] = {code: {"description": _ERRORS[code], "model": ErrorOut} for code in codes}
    if not_found:
        out[404] = {"description": not_found, "model": ErrorOut}
    return out
