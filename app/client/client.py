"""A small synchronous client for the ticker service's public HTTP API.

It speaks only the documented endpoints (``POST /v1/dedup/check``, ``POST /v1/headlines``), like any
newsroom CMS would, so it can live in a CMS's code base with httpx as its only dependency.

Retries: a request is retried (with exponential backoff, honouring ``Retry-After``) when the
connection could not be made, or the server answered 429 or 5xx. A read that failed half-way is
retried only when repeating the request is harmless (a check, or an ingest where every headline
carries its own ``id`` so the server treats a repeat as an idempotent replay).
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Sequence

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = "ticker-dedup-client/0.1"


class TickerError(Exception):
    """The service refused the request (4xx), kept failing (5xx/429), or could not be reached.

    ``status_code`` is None when no HTTP answer was received at all.
    """

    def __init__(self, message: str, status_code: int | None = None, detail: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class TickerConnectionError(TickerError):
    """No HTTP answer after all retries (refused connection, DNS failure, timeout...)."""


# --- typed mirrors of the contract's JSON ---------------------------------------------------------


def _iso(value: Any) -> Any:
    """Datetimes become the contract's ISO-8601 UTC "Z" strings; anything else passes through."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    return value


def _pick(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """Keep only the keys the dataclass knows: the server may add fields without breaking us."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass(frozen=True)
class HeadlineIn:
    title: str
    id: str | int | None = None
    source: str | None = None
    url: str | None = None
    published_at: str | datetime | None = None
    lang: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: _iso(v) for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_any(cls, item: "HeadlineIn | Mapping[str, Any]") -> "HeadlineIn":
        if isinstance(item, HeadlineIn):
            return item
        if not isinstance(item, Mapping) or not isinstance(item.get("title"), str):
            raise TypeError(f"a headline needs a string 'title': {item!r}")
        return cls(**_pick(cls, item))


@dataclass(frozen=True)
class IngestResult:
    headline_id: int
    story_id: int | None
    duplicate: bool
    lang: str | None = None
    match: str | None = None
    score: float | None = None
    idempotent_replay: bool = False
    #: the stored headline the new one was matched to (server extension to the contract)
    matched_headline_id: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "IngestResult":
        return cls(**_pick(cls, data))


@dataclass(frozen=True)
class Match:
    headline_id: int
    story_id: int
    title: str
    score: float
    lang: str | None = None
    source: str | None = None
    published_at: str | None = None
    cosine: float | None = None
    terms: dict[str, float] = field(default_factory=dict)
    #: where it ran, and when the service received it (when it ran, for a feed without times)
    url: str | None = None
    received_at: str | None = None
    #: it belongs to the story the check is about; False: related, not the same story
    same_story: bool = False
    #: stored headlines with this same text, itself included (listed once)
    copies: int = 1

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Match":
        return cls(**_pick(cls, data))


@dataclass(frozen=True)
class StoryVersion:
    """A story's earliest headline in one language."""

    headline_id: int
    title: str
    lang: str | None = None
    source: str | None = None
    url: str | None = None
    published_at: str | None = None
    received_at: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "StoryVersion":
        return cls(**_pick(cls, data))


@dataclass(frozen=True)
class CheckStory:
    """The story the check is about, whole: not only its headlines among the top matches."""

    id: int
    size: int = 0
    n_sources: int = 0
    #: in order of first appearance
    languages: list[str] = field(default_factory=list)
    first_seen: str | None = None
    last_seen: str | None = None
    #: one per language, its earliest headline, in the order they ran
    versions: list[StoryVersion] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CheckStory":
        picked = _pick(cls, data)
        picked["versions"] = [StoryVersion.from_json(v) for v in data.get("versions") or []]
        return cls(**picked)


@dataclass(frozen=True)
class CheckResult:
    duplicate: bool
    story_id: int | None = None
    match: str | None = None
    score: float | None = None
    threshold: float | None = None
    lang: str | None = None
    matches: list[Match] = field(default_factory=list)
    #: "duplicate" (exactly when ``duplicate``), "possible" or "new"; None from a service without verdicts
    verdict: str | None = None
    #: calibrated probability of the same story as the closest stored one (docs/evidence.md)
    confidence: float | None = None
    closest_story_id: int | None = None
    #: the matches of other stories: related, not the same story
    related: list[Match] = field(default_factory=list)
    #: the story ``closest_story_id`` names, whole (None from a service without it, or when nothing was close)
    story: CheckStory | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "CheckResult":
        picked = _pick(cls, data)
        about = data.get("story_id") if data.get("story_id") is not None else data.get("closest_story_id")

        def match(m: Mapping[str, Any]) -> Match:
            if "same_story" not in m:  # a service from before `same_story`
                m = {**m, "same_story": about is not None and m.get("story_id") == about}
            return Match.from_json(m)

        picked["matches"] = [match(m) for m in data.get("matches") or []]
        picked["related"] = [match(m) for m in data.get("related") or []]
        story = data.get("story")
        picked["story"] = CheckStory.from_json(story) if isinstance(story, Mapping) else None
        return cls(**picked)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# --- retry policy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 0.25
    max_backoff: float = 8.0
    #: a Retry-After larger than this is cut down: a CMS editor should not wait minutes
    max_retry_after: float = 30.0
    retry_statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        # full jitter keeps many CMS instances from retrying in lock-step after an outage
        base = min(self.backoff * (2**attempt), self.max_backoff)
        return base * (0.5 + random.random() / 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


def _error_message(response: httpx.Response) -> tuple[str, Any]:
    """Turn the contract's error body (string or list of {loc, msg}) into one readable line."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, str):
        text = detail
    elif isinstance(detail, list):
        parts = []
        for item in detail:
            if isinstance(item, Mapping):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg')}" if loc else str(item.get("msg")))
            else:
                parts.append(str(item))
        text = "; ".join(parts)
    else:
        text = response.text[:200].strip() or response.reason_phrase
    return f"HTTP {response.status_code}: {text}", detail


def _parse(build: Callable[[Any], Any], data: Any) -> Any:
    """A response that does not fit the contract is the server's fault, reported as TickerError."""
    try:
        return build(data)
    except (TypeError, AttributeError, KeyError) as exc:
        raise TickerError(f"unexpected response shape: {exc}", detail=data) from exc


# Errors after which the server may or may not have seen the request.
_MAYBE_SENT = (httpx.ReadTimeout, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
# Errors after which it certainly did not act on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class TickerClient:
    """``TickerClient("http://host:8000", api_key="...")``; use as a context manager or call close()."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout: float = 5.0,
        retries: int = 3,
        *,
        backoff: float = 0.25,
        max_retry_after: float = 30.0,
        batch_size: int = 500,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.policy = RetryPolicy(retries=retries, backoff=backoff, max_retry_after=max_retry_after)
        self.batch_size = batch_size
        self._sleep = sleep
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if api_key:
            # The server reads X-API-Key; the Bearer form is sent too for proxies that expect it.
            headers["X-API-Key"] = api_key
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)

    # -- lifecycle --
    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "TickerClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API --
    def check(self, title: str, lang: str | None = None) -> CheckResult:
        """Would this headline join an existing story? Nothing is stored."""
        body: dict[str, Any] = {"title": title}
        if lang:
            body["lang"] = lang
        data = self._request("POST", "/v1/dedup/check", json=body, idempotent=True)
        return _parse(CheckResult.from_json, data)

    def ingest(self, headlines: Sequence[HeadlineIn | Mapping[str, Any]]) -> list[IngestResult]:
        """Store headlines (in batches of ``batch_size``); one result per headline, in order."""
        items = [HeadlineIn.from_any(h) for h in headlines]
        results: list[IngestResult] = []
        for start in range(0, len(items), self.batch_size):
            batch = items[start : start + self.batch_size]
            data = self._request(
                "POST",
                "/v1/headlines",
                json={"headlines": [h.to_json() for h in batch]},
                # replaying a batch is only safe when the server can recognise each headline
                idempotent=all(h.id is not None for h in batch),
            )
            got = [_parse(IngestResult.from_json, r) for r in data.get("results") or []]
            if len(got) != len(batch):
                raise TickerError(f"server returned {len(got)} results for {len(batch)} headlines")
            results.extend(got)
        return results

    # -- plumbing --
    def _request(self, method: str, path: str, *, json: Any, idempotent: bool) -> dict[str, Any]:
        last_error: str = ""
        attempts = self.policy.retries + 1
        for attempt in range(attempts):
            final = attempt == attempts - 1
            try:
                response = self._http.request(method, path, json=json)
            except _NOT_SENT as exc:
                last_error = f"cannot reach {self.base_url}: {exc.__class__.__name__}: {exc}"
                if final:
                    raise TickerConnectionError(last_error) from exc
                self._sleep(self.policy.delay(attempt))
                continue
            except _MAYBE_SENT as exc:
                last_error = f"{self.base_url}{path}: {exc.__class__.__name__}: {exc}"
                if final or not idempotent:
                    raise TickerConnectionError(last_error) from exc
                self._sleep(self.policy.delay(attempt))
                continue
            except httpx.HTTPError as exc:  # invalid URL, unsupported protocol...
                raise TickerError(f"{self.base_url}{path}: {exc}") from exc

            if response.status_code in self.policy.retry_statuses and not final:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                self._sleep(self.policy.delay(attempt, retry_after))
                continue
            if response.is_error:
                message, detail = _error_message(response)
                raise TickerError(message, status_code=response.status_code, detail=detail)
            try:
                data = response.json()
            except ValueError as exc:
                raise TickerError(
                    f"{path}: expected JSON, got {response.headers.get('content-type')}",
                    status_code=response.status_code,
                ) from exc
            if not isinstance(data, dict):
                raise TickerError(f"{path}: expected a JSON object", status_code=response.status_code)
            return data
        raise TickerError(last_error or "request failed")  # unreachable: the loop returns or raises
