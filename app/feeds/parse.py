"""A feed document in, its entries out: RSS (0.9x, 1.0, 2.0) and Atom through feedparser, JSON Feed (1.0, 1.1)
with the standard library. Pure: bytes and a content type, no network, no clock but the ``now`` given.

Each entry comes out with
- ``key``: what makes it the same item across polls and restarts, stored as the headline's ``ext_id`` beside
  the feed's source: its guid / id, else its link, else a hash of its cleaned title (an entry with neither
  would otherwise be stored again at every poll); a key longer than the headlines API allows is hashed;
- ``title``: cleaned (CDATA, markup and entities, even double-escaped ones, control characters, runs of
  spaces), cut to ``max_title_chars``; an entry whose title is empty once cleaned is skipped and counted;
- ``published_at``: the entry's published (else updated) time, epoch seconds, None when absent or beyond
  what POST /v1/headlines accepts (more than 36 h ahead, before 1900);
- ``lang``: the entry's own language (Atom ``xml:lang``, JSON Feed ``language``), else the feed's.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

import feedparser

from ..ingest.normalise import has_content
from ..limits import FUTURE_SLACK, LANG_PATTERN, MAX_EXT_ID_CHARS, OLDEST


class FeedParseError(ValueError):
    """The document is no feed at all (nothing readable as RSS, Atom or JSON Feed)."""


@dataclass(frozen=True)
class FeedEntry:
    key: str
    title: str
    url: str | None
    published_at: float | None
    lang: str | None


@dataclass(frozen=True)
class ParsedFeed:
    #: "rss20", "atom10", "json1"... as feedparser names its formats ("json1": JSON Feed)
    format: str
    title: str | None
    lang: str | None
    entries: list[FeedEntry] = field(default_factory=list)
    #: entries left out: no title once cleaned
    skipped: int = 0
    #: the XML was not well formed and feedparser recovered what it could (``entries`` is what it found)
    malformed: str | None = None


_JSON_TYPES = ("application/feed+json", "application/json")
_LANG = re.compile(LANG_PATTERN)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_SPACES = re.compile(r"\s+")
_MARKUP = re.compile(r"<[A-Za-z/!?]|&(#\d+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]{1,31});")
_CDATA = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.DOTALL)


class _Text(HTMLParser):
    """The text of an HTML fragment: tags dropped, entities decoded, script and style bodies left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in ("br", "p", "div", "li"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _strip_markup(text: str) -> str:
    parser = _Text()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def clean_title(raw: str | None, max_chars: int) -> str:
    """A feed title as plain text on one line: CDATA wrappers, tags and entities resolved (twice at most:
    feeds often escape their HTML once more, "&amp;eacute;"), control characters dropped, whitespace runs
    made one space; cut to ``max_chars`` at a word boundary when there is one near the end."""
    text = _CDATA.sub(lambda m: m.group(1), raw or "")
    for _ in range(2):
        if not _MARKUP.search(text):
            break
        text = _strip_markup(text)
    text = _SPACES.sub(" ", _CONTROL.sub("", text)).strip()
    if len(text) > max_chars:
        cut = text[:max_chars]
        space = cut.rfind(" ")
        text = (cut[:space] if space > max_chars * 0.8 else cut).rstrip()
    return text


def _lang(code: Any) -> str | None:
    """A declared language as the headlines API takes it ("fr-FR" stays as given; the pipeline maps it)."""
    if not isinstance(code, str):
        return None
    code = code.strip()
    return code if code and len(code) <= 8 and _LANG.match(code) else None


def _key(guid: Any, link: Any, title: str, published_at: float | None) -> str:
    for value in (guid, link):
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
            key = str(value).strip()
            break
    else:
        # neither guid nor link: the same title (and time) is the same item
        key = "title:" + hashlib.sha256(f"{title}\x00{published_at}".encode()).hexdigest()[:40]
    if len(key) > MAX_EXT_ID_CHARS or _CONTROL.search(key):
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def _sane_time(ts: float | None, now: float) -> float | None:
    """An entry's time as POST /v1/headlines would take it; else None (the arrival time is used)."""
    if ts is None or math.isnan(ts) or ts > now + FUTURE_SLACK or ts < OLDEST:
        return None
    return ts


def _entry(
    guid: Any,
    link: Any,
    raw_title: Any,
    ts: float | None,
    lang: str | None,
    max_chars: int,
    now: float,
    base_url: str | None = None,
) -> FeedEntry | None:
    title = clean_title(raw_title if isinstance(raw_title, str) else None, max_chars)
    if not title or not has_content(title):
        return None
    ts = _sane_time(ts, now)
    url = link.strip() if isinstance(link, str) else None
    if url and base_url:
        url = urljoin(base_url, url)  # a relative link, made absolute against where the feed was fetched
    if not url or not url.lower().startswith(("http://", "https://")) or len(url) > 2000:
        url = None
    # the key is the guid or link as the document writes it: made absolute, it would change when the feed moves
    return FeedEntry(key=_key(guid, link, title, ts), title=title, url=url, published_at=ts, lang=lang)


def _is_json(body: bytes, content_type: str | None) -> bool:
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in _JSON_TYPES:
        return True
    head = body[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{") and mime not in ("application/rss+xml", "application/atom+xml")


def _iso_time(value: Any) -> float | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _parse_json(body: bytes, max_chars: int, now: float, base_url: str | None) -> ParsedFeed:
    try:
        doc = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise FeedParseError(f"not JSON: {exc}") from None
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or "jsonfeed.org/version/" not in version or not isinstance(doc.get("items"), list):
        raise FeedParseError("JSON without a JSON Feed's version and items")
    feed_lang = _lang(doc.get("language"))
    entries: list[FeedEntry] = []
    skipped = 0
    for item in doc["items"]:
        if not isinstance(item, dict):
            skipped += 1
            continue
        link = item.get("url") or item.get("external_url")
        ts = _iso_time(item.get("date_published")) or _iso_time(item.get("date_modified"))
        e = _entry(
            item.get("id"),
            link,
            item.get("title"),
            ts,
            _lang(item.get("language")) or feed_lang,
            max_chars,
            now,
            base_url,
        )
        if e is None:
            skipped += 1
        else:
            entries.append(e)
    title = doc.get("title") if isinstance(doc.get("title"), str) else None
    return ParsedFeed(
        format="json" + version.rstrip("/").rsplit("/", 1)[-1].split(".")[0],
        title=title,
        lang=feed_lang,
        entries=entries,
        skipped=skipped,
    )


def _struct_time(value: Any) -> float | None:
    try:
        return float(calendar.timegm(value)) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


def _parse_xml(body: bytes, content_type: str | None, base_url: str | None, max_chars: int, now: float) -> ParsedFeed:
    # No base URL for feedparser: it would make a relative guid absolute too (and the key would change when
    # the feed moves); links are made absolute below. A stream, never the bytes themselves: feedparser would
    # take a string that looks like a URL or a path for one and open it.
    d = feedparser.parse(
        io.BytesIO(body), response_headers={"content-type": content_type or "application/xml"}, sanitize_html=True
    )
    why = d.get("bozo_exception") if d.get("bozo") else None
    if isinstance(why, feedparser.CharacterEncodingOverride):
        why = None  # a wrong charset declaration, read anyway: not an error
    if not d.entries and (why is not None or not d.get("version")):
        raise FeedParseError(f"not an RSS, Atom or JSON feed{f': {why}' if why else ''}")
    feed_lang = _lang(d.feed.get("language"))
    entries: list[FeedEntry] = []
    skipped = 0
    for e in d.entries:
        detail = e.get("title_detail") or {}
        ts = _struct_time(e.get("published_parsed")) or _struct_time(e.get("updated_parsed"))
        entry = _entry(
            e.get("id"),
            e.get("link"),
            e.get("title"),
            ts,
            _lang(detail.get("language")) or feed_lang,
            max_chars,
            now,
            base_url,
        )
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    return ParsedFeed(
        format=d.get("version") or "unknown",
        title=d.feed.get("title"),
        lang=feed_lang,
        entries=entries,
        skipped=skipped,
        malformed=str(why) if why is not None else None,
    )


def parse_feed(
    body: bytes, content_type: str | None, *, base_url: str | None = None, max_title_chars: int = 1000, now: float
) -> ParsedFeed:
    """The entries of a feed document, in document order, one per key (the first wins: a feed that lists
    an item twice stores it once). FeedParseError when it is no feed at all."""
    parsed = (
        _parse_json(body, max_title_chars, now, base_url)
        if _is_json(body, content_type)
        else _parse_xml(body, content_type, base_url, max_title_chars, now)
    )
    seen: set[str] = set()
    unique = []
    for e in parsed.entries:
        if e.key not in seen:
            seen.add(e.key)
            unique.append(e)
    if len(unique) == len(parsed.entries):
        return parsed
    return ParsedFeed(
        format=parsed.format,
        title=parsed.title,
        lang=parsed.lang,
        entries=unique,
        skipped=parsed.skipped,
        malformed=parsed.malformed,
    )
