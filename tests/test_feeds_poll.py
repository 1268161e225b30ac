"""Feed polling end to end: a real local HTTP server (http.server on 127.0.0.1, port 0) serves every case of
the issue, and the real app (TestClient, real encoder and store) follows it through its HTTP API. Polls are
driven one pass at a time (``FeedPoller.poll_once(now)``, with ``now`` moved forward by hand), so nothing
depends on the background thread's timing (TICKER_FEEDS_POLL off).

Cases: RSS 2.0, Atom, JSON Feed; a conditional GET answered 304; 429 with Retry-After; 500 and the backoff;
a redirect loop; a permanent redirect; malformed XML; a 20 MB feed (cut at the cap, never held whole); an
entry with no title; 410 Gone (and the feed resumed by PATCH, then paused); the address rules (private
addresses refused, every redirect hop checked, a DNS answer that changes between the check and the
connection); two pollers on one store; restarts and a crash between storing the entries and writing the
feed's state: nothing lost, nothing stored twice.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.feeds import fetch as fetch_mod
from app.feeds.fetch import Fetcher
from app.feeds.poller import FeedPoller

KEY = "feeds-test-key"
MB = 1024 * 1024


# ---- the feeds server -----------------------------------------------------------------------------


def rss(items: list[tuple[str, str]], lang: str = "fr") -> bytes:
    body = "".join(
        f"<item><title>{t}</title><guid isPermaLink=\"false\">{g}</guid>"
        f"<link>https://news.example/{g}</link><pubDate>Sat, 21 Mar 2026 09:00:00 GMT</pubDate></item>"
        for g, t in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>RSS</title>'
        f"<language>{lang}</language>{body}</channel></rss>"
    ).encode()


ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="es"><title>Atom</title><id>urn:atom</id>
<updated>2026-03-21T09:00:00Z</updated>
<entry><title type="html">&lt;b&gt;El Atl\xc3\xa9tico&lt;/b&gt; gana la liga tras vencer al Betis</title><id>urn:atom:1</id>
<link href="https://news.example/atom/1"/><updated>2026-03-21T08:00:00Z</updated></entry>
<entry xml:lang="en"><title>Morocco opens a new high-speed rail line to Marrakech</title><id>urn:atom:2</id>
<updated>2026-03-21T08:30:00Z</updated></entry>
</feed>"""

JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON",
        "language": "en",
        "items": [
            {
                "id": "j1",
                "url": "https://news.example/j1",
                "title": "Heavy rain expected across northern Morocco",
                "date_published": "2026-03-21T07:00:00Z",
            },
            {"id": "j2", "title": "Central bank keeps its key rate unchanged at 2.5 percent"},
        ],
    }
).encode()

RSS_ITEMS = [
    ("r1", "Le Maroc remporte la Coupe d&#8217;Afrique des nations de futsal"),
    ("r2", "<![CDATA[Séisme : une secousse de <b>magnitude 4,2</b> ressentie à Al Hoceima]]>"),
    ("r3", "Casablanca : la ligne T5 du tramway entre en service"),
]
NO_TITLE = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    b"<item><description>an entry with no title</description><guid>nt-1</guid></item>"
    b"<item><title>Rabat accueille le forum africain de l&apos;investissement</title><guid>nt-2</guid></item>"
    b"</channel></rss>"
)
MALFORMED = b"<?xml version=\"1.0\"?>\n<rss><channel><<<this is &&& not xml at all"
#: the bytes /slow drips, one every 0.1 s: far more than a 1 s time cap lets through
SLOW_BYTES = 300


@dataclass
class Sent:
    """How the server's answer on one of the streamed paths ended: what it wrote, and who stopped it."""

    #: body bytes written
    body: int = 0
    #: the client closed the connection before the server had written (or, for /huge-declared, sent) it all
    cut: bool = False
    #: set when the handler is done with the connection
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class Feeds:
    """The server's state: what it answers, and what it was asked."""

    port: int = 0
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    rss_items: list[tuple[str, str]] = field(default_factory=lambda: list(RSS_ITEMS))
    #: how the last answer on /huge, /huge-declared and /slow ended
    sent: dict[str, Sent] = field(default_factory=dict)
    #: /error answers a feed instead of a 500
    fixed: bool = False
    #: /gone answers a feed instead of a 410 (the publisher brought it back)
    back: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hits(self, path: str) -> list[dict[str, str]]:
        with self.lock:
            return [h for p, h in self.requests if p == path]

    def ended(self, path: str) -> Sent:
        """How the last answer on ``path`` ended, once the server is done with it."""
        with self.lock:
            sent = self.sent.get(path)
        assert sent is not None, f"{path} was never asked for"
        assert sent.done.wait(30), f"the server is still answering {path}"  # a bound on a wait
        return sent

    def rss_body(self) -> tuple[bytes, str]:
        body = rss(self.rss_items)
        return body, f'"v{len(self.rss_items)}"'


def _handler(feeds: Feeds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def send(self, status: int, body: bytes = b"", ctype: str | None = None, **headers: str) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for k, v in headers.items():
                self.send_header(k.replace("_", "-"), v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # one branch per case
            path = self.path
            with feeds.lock:
                feeds.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
            if path == "/rss":
                body, etag = feeds.rss_body()
                if self.headers.get("If-None-Match") == etag:
                    self.send(304, ETag=etag)
                else:
                    self.send(
                        200,
                        body,
                        "application/rss+xml; charset=utf-8",
                        ETag=etag,
                        Last_Modified="Sat, 21 Mar 2026 09:00:00 GMT",
                    )
            elif path == "/atom":
                if self.headers.get("If-Modified-Since") == "Sat, 21 Mar 2026 09:00:00 GMT":
                    self.send(304)
                else:
                    self.send(200, ATOM, "application/atom+xml", Last_Modified="Sat, 21 Mar 2026 09:00:00 GMT")
            elif path == "/feed.json":
                self.send(200, JSON_FEED, "application/feed+json")
            elif path == "/notitle":
                self.send(200, NO_TITLE, "application/rss+xml")
            elif path == "/says-german":
                self.send(
                    200,
                    rss([("de1", "Le Maroc inaugure une nouvelle ligne de train entre Rabat et Fès")], lang="de"),
                    "application/rss+xml",
                )
            elif path == "/limited":
                self.send(429, b"slow down", "text/plain", Retry_After="3600")
            elif path == "/unavailable":
                when = email.utils.formatdate(time.time() + 7200, usegmt=True)
                self.send(503, b"maintenance", "text/plain", Retry_After=when)
            elif path == "/error":
                if feeds.fixed:
                    self.send(200, rss([("fx1", "Fès : la médina rouvre après les travaux")]), "application/rss+xml")
                else:
                    self.send(500, b"boom", "text/plain")
            elif path in ("/loop-a", "/loop-b"):
                self.send(302, Location="/loop-b" if path == "/loop-a" else "/loop-a")
            elif path == "/moved":
                self.send(301, Location="/moved-here")
            elif path == "/moved-here":
                self.send(
                    200,
                    rss([("mv1", "Tanger Med bat son record de conteneurs traités en un mois")]),
                    "application/rss+xml",
                )
            elif path == "/temporary":
                self.send(302, Location="/rss")
            elif path == "/malformed":
                self.send(200, MALFORMED, "application/rss+xml")
            elif path == "/gone":
                if feeds.back:
                    self.send(
                        200,
                        rss([("bk1", "Ifrane : les premières neiges ferment la route nationale 13")]),
                        "application/rss+xml",
                    )
                else:
                    self.send(410, b"gone", "text/plain")
            elif path == "/to-private":
                self.send(302, Location=f"http://127.0.0.2:{feeds.port}/rss")
            elif path == "/huge-declared":
                sent = self._sent(path)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/rss+xml")
                    self.send_header("Content-Length", str(20 * MB))
                    self.end_headers()
                    # nothing more: a client that believes the header and reads waits for 20 MB (until its
                    # time cap). Wait for the client to hang up.
                    self.close_connection = True
                    self.connection.settimeout(30)
                    try:
                        sent.cut = self.connection.recv(1) == b""
                    except ConnectionResetError:
                        sent.cut = True
                    except OSError:  # timed out: the client kept the connection
                        pass
                finally:
                    sent.done.set()
            elif path in ("/huge", "/slow"):
                self._stream(path)
            else:
                self.send(404, b"no such feed", "text/plain")

        def _sent(self, path: str) -> Sent:
            sent = Sent()
            with feeds.lock:
                feeds.sent[path] = sent
            return sent

        def _stream(self, path: str) -> None:
            """20 MB of a valid RSS document, or a byte at a time, with no Content-Length (read to the close).
            A write that fails because the client hung up marks the answer cut."""
            sent = self._sent(path)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                if path == "/slow":
                    for _ in range(SLOW_BYTES):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        sent.body += 1
                        time.sleep(0.1)
                    return
                head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>huge</title>'
                item = b"<item><title>" + b"x" * 900 + b"</title><guid>g</guid></item>"
                self.wfile.write(head)
                sent.body = len(head)
                while sent.body < 20 * MB:
                    self.wfile.write(item)
                    sent.body += len(item)
            except (BrokenPipeError, ConnectionResetError):
                sent.cut = True
            finally:
                sent.done.set()

    return Handler


@pytest.fixture
def feeds() -> Iterator[Feeds]:
    state = Feeds()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


# ---- the app --------------------------------------------------------------------------------------

FAST = {
    "feeds_poll": False,
    "feeds_allow_private": True,
    "feeds_max_bytes": 1 * MB,
    "feeds_timeout_seconds": 5.0,
    "feeds_min_interval_seconds": 10.0,
    "feeds_default_interval_seconds": 300.0,
}


@pytest.fixture
def app_client(make_client) -> Callable[..., Any]:
    def build(**overrides: Any) -> Any:
        return make_client(**{**FAST, **overrides})

    return build


def add(client: Any, url: str, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/feeds", json={"url": url, **body})
    assert r.status_code == 201, r.text
    return r.json()


def poller(client: Any) -> FeedPoller:
    return client.app.state.ticker.feeds


def feed(client: Any, feed_id: int) -> dict[str, Any]:
    r = client.get(f"/v1/feeds/{feed_id}")
    assert r.status_code == 200, r.text
    return r.json()


def epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def stored(client: Any, source: str, key: str) -> Any:
    return client.app.state.ticker.store.get_by_external(source, key)


# ---- the formats, the conditional GET, the API --------------------------------------------------


def test_rss_atom_and_json_feed_are_stored_once_each_then_a_304_changes_nothing(app_client, feeds):
    client = app_client()
    r1 = add(client, feeds.url + "/rss", source="le360")
    a1 = add(client, feeds.url + "/atom", source="atom-desk", interval_seconds=60)
    j1 = add(client, feeds.url + "/feed.json")
    assert (r1["status"], r1["source"], r1["interval_seconds"], a1["interval_seconds"]) == (
        "pending",
        "le360",
        300.0,
        60.0,
    )
    assert j1["source"] == "127.0.0.1"  # the URL's host when none is given
    now = time.time()
    reports = poller(client).poll_once(now)
    assert sorted((r.feed_id, r.status, r.items_stored, r.error) for r in reports) == [
        (r1["id"], 200, 3, None),
        (a1["id"], 200, 2, None),
        (j1["id"], 200, 2, None),
    ]

    h = stored(client, "le360", "r2")
    assert h.title == "Séisme : une secousse de magnitude 4,2 ressentie à Al Hoceima"  # CDATA and markup gone
    assert (h.lang, h.url, h.published_at) == ("fr", "https://news.example/r2", epoch("2026-03-21T09:00:00Z"))
    assert stored(client, "le360", "r1").title == "Le Maroc remporte la Coupe d\u2019Afrique des nations de futsal"
    es, en = stored(client, "atom-desk", "urn:atom:1"), stored(client, "atom-desk", "urn:atom:2")
    assert (es.title, es.lang, en.lang) == ("El Atlético gana la liga tras vencer al Betis", "es", "en")
    assert stored(client, "127.0.0.1", "j1").lang == "en"
    # the headline is served like any other
    assert client.get(f"/v1/headlines/{h.id}").json()["source"] == "le360"

    state = feed(client, r1["id"])
    assert (state["status"], state["last_status"], state["items_seen"], state["items_stored"], state["fetches"]) == (
        "ok",
        200,
        3,
        3,
        1,
    )
    assert epoch(state["next_poll_at"]) == pytest.approx(now + 300, abs=1)
    assert feed(client, a1["id"])["next_poll_at"] < state["next_poll_at"]  # its own interval

    # not due yet: nothing is fetched
    assert poller(client).poll_once(now + 30) == []
    # due again: conditional GETs; the server answers 304 and nothing is stored
    reports = poller(client).poll_once(now + 301)
    assert sorted((r.feed_id, r.status, r.items_stored) for r in reports) == [
        (r1["id"], 304, 0),
        (a1["id"], 304, 0),
        (j1["id"], 200, 0),
    ]  # the JSON feed has no validators: read again
    assert feeds.hits("/rss")[-1]["if-none-match"] == '"v3"'
    assert feeds.hits("/atom")[-1]["if-modified-since"] == "Sat, 21 Mar 2026 09:00:00 GMT"
    assert "if-none-match" not in feeds.hits("/rss")[0]
    state = feed(client, r1["id"])
    assert (state["last_status"], state["items_stored"], state["fetches"], state["status"]) == (304, 3, 2, "ok")
    # the feed gets one more item: only it is stored
    feeds.rss_items.append(("r4", "Marrakech : le festival du film ouvre ses portes"))
    [report] = [r for r in poller(client).poll_once(now + 602) if r.feed_id == r1["id"]]
    assert (report.status, report.items_seen, report.items_stored) == (200, 4, 1)
    assert client.app.state.ticker.store.count_headlines() == 3 + 2 + 2 + 1

    metrics = client.get("/metrics").text
    assert f'ticker_feed_fetches_total{{feed="{r1["id"]}"}} 3' in metrics
    assert f'ticker_feed_not_modified_total{{feed="{r1["id"]}"}} 1' in metrics
    assert f'ticker_feed_items_stored_total{{feed="{r1["id"]}"}} 4' in metrics
    assert f'ticker_feed_items_seen_total{{feed="{j1["id"]}"}} 6' in metrics  # read at each of its 3 polls
    assert "# HELP ticker_feed_fetches_total" in metrics
    assert "ticker_feeds 3" in metrics and "ticker_feeds_ok 3" in metrics


def test_an_entry_with_no_title_is_skipped_and_the_others_stored(app_client, feeds):
    client = app_client()
    f = add(client, feeds.url + "/notitle", source="nt")
    [report] = poller(client).poll_once(time.time())
    assert (report.items_seen, report.items_stored, report.skipped, report.error) == (2, 1, 1, None)
    assert stored(client, "nt", "nt-1") is None
    assert stored(client, "nt", "nt-2").title == "Rabat accueille le forum africain de l'investissement"
    assert f'ticker_feed_items_skipped_total{{feed="{f["id"]}"}} 1' in client.get("/metrics").text


def test_a_language_the_service_does_not_take_is_detected_instead(app_client, feeds):
    """The API refuses lang "de" (TICKER_LANGUAGES); a feed declaring it gets its entries' language detected,
    not stored as "de" (which would make French text a "translation" of its own French versions)."""
    client = app_client()
    add(client, feeds.url + "/says-german", source="de-feed")
    [report] = poller(client).poll_once(time.time())
    assert report.items_stored == 1
    assert stored(client, "de-feed", "de1").lang == "fr"


def test_retry_after_is_honoured_on_429_and_503(app_client, feeds):
    client = app_client()
    limited = add(client, feeds.url + "/limited", interval_seconds=60)
    unavailable = add(client, feeds.url + "/unavailable", interval_seconds=60)
    now = time.time()
    reports = {r.feed_id: r for r in poller(client).poll_once(now)}
    assert reports[limited["id"]].status == 429 and reports[unavailable["id"]].status == 503
    a, b = feed(client, limited["id"]), feed(client, unavailable["id"])
    assert (a["status"], a["last_error"], a["consecutive_errors"], a["errors"]) == (
        "error",
        "HTTP 429 Too Many Requests",
        1,
        1,
    )
    assert epoch(a["next_poll_at"]) >= now + 3600 - 1  # seconds
    assert epoch(b["next_poll_at"]) >= now + 7200 - 5  # an HTTP date
    assert poller(client).poll_once(now + 3000) == []  # not before


def test_errors_back_off_with_jitter_and_a_success_ends_the_streak(app_client, feeds):
    client = app_client(feeds_max_backoff_seconds=1000.0)
    f = add(client, feeds.url + "/error", interval_seconds=100)
    t = time.time()
    delays = []
    for _ in range(6):
        [report] = poller(client).poll_once(t)
        assert report.error == "HTTP 500 Internal Server Error"
        nxt = epoch(feed(client, f["id"])["next_poll_at"])
        delays.append(nxt - t)
        t = nxt + 1.5  # next_poll_at is shown to the second
    # 100, 200, 400, 800, then the cap (1000), each times a factor in [0.8, 1.2)
    for delay, base in zip(delays, (100, 200, 400, 800, 1000, 1000)):
        assert 0.8 * base - 1 <= delay <= 1.2 * base + 1, delays
    state = feed(client, f["id"])
    assert (state["consecutive_errors"], state["errors"], state["last_status"]) == (6, 6, 500)
    # the feed is fixed: its URL now answers; the streak ends, the last error is kept with its time
    feeds.fixed = True
    [report] = poller(client).poll_once(t)
    state = feed(client, f["id"])
    assert (report.error, state["status"], state["consecutive_errors"], state["last_error"]) == (
        None,
        "ok",
        0,
        "HTTP 500 Internal Server Error",
    )
    assert epoch(state["next_poll_at"]) == pytest.approx(t + 100, abs=1)


def test_redirects_a_loop_is_an_error_a_permanent_one_moves_the_feed_a_temporary_one_does_not(app_client, feeds):
    client = app_client()
    loop = add(client, feeds.url + "/loop-a")
    moved = add(client, feeds.url + "/moved", source="mv")
    temporary = add(client, feeds.url + "/temporary", source="tmp")
    reports = {r.feed_id: r for r in poller(client).poll_once(time.time())}
    assert "more than 5 redirects" in reports[loop["id"]].error
    assert len(feeds.hits("/loop-a")) + len(feeds.hits("/loop-b")) == 6  # the first request and 5 redirects
    assert feed(client, loop["id"])["url"] == feeds.url + "/loop-a"
    assert reports[moved["id"]].items_stored == 1 and stored(client, "mv", "mv1") is not None
    assert feed(client, moved["id"])["url"] == feeds.url + "/moved-here"  # 301: the new URL from now on
    assert feed(client, temporary["id"])["url"] == feeds.url + "/temporary"  # 302: kept
    assert reports[temporary["id"]].items_stored == 3


def test_malformed_xml_is_an_error_and_stores_nothing(app_client, feeds):
    client = app_client()
    f = add(client, feeds.url + "/malformed")
    [report] = poller(client).poll_once(time.time())
    state = feed(client, f["id"])
    assert report.items_stored == 0 and state["status"] == "error" and state["last_status"] == 200
    assert state["last_error"].startswith("unreadable feed: not an RSS, Atom or JSON feed")
    assert client.app.state.ticker.store.count_headlines() == 0


def test_a_20_mb_feed_is_cut_at_the_cap_without_being_read_whole(app_client, feeds):
    client = app_client()
    f = add(client, feeds.url + "/huge")
    declared = add(client, feeds.url + "/huge-declared")
    reports = {r.feed_id: r for r in poller(client).poll_once(time.time())}
    assert "over the cap of 1048576 bytes" in reports[f["id"]].error
    # refused on its Content-Length: a client that waited for the body would report its time cap instead
    assert reports[declared["id"]].error == f"the feed is {20 * MB} bytes, over the cap of 1048576 bytes"
    assert feed(client, f["id"])["status"] == "error" and client.app.state.ticker.store.count_headlines() == 0
    # the client hung up on the 20 MB: the server could write what the socket buffers hold past the cap, not all
    huge = feeds.ended("/huge")
    assert huge.cut and huge.body < 8 * MB, huge
    # ...and on the declared one, with not a byte of its body sent
    refused = feeds.ended("/huge-declared")
    assert refused.cut and refused.body == 0, refused


def test_the_fetch_holds_at_most_the_cap_in_memory(feeds):
    fetcher = Fetcher(max_bytes=2 * MB, timeout=10, max_redirects=2, allow_private=True)
    try:
        tracemalloc.start()
        result = fetcher.fetch(feeds.url + "/huge")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        fetcher.close()
    assert result.error and result.bytes_read <= 2 * MB + 64 * 1024
    assert peak < 6 * MB, peak  # the chunks kept until the cap, not 20 MB


def test_a_fetch_that_drips_stops_at_the_time_cap(feeds):
    fetcher = Fetcher(max_bytes=MB, timeout=1.0, max_redirects=2, allow_private=True)
    try:
        result = fetcher.fetch(feeds.url + "/slow")
    finally:
        fetcher.close()
    assert result.error == "the fetch took longer than 1 s"
    # the client hung up in the middle of the drip (30 s of it), not after reading it to the end
    slow = feeds.ended("/slow")
    assert slow.cut and slow.body < SLOW_BYTES, slow
    assert result.bytes_read <= slow.body


def test_410_disables_the_feed(app_client, feeds):
    client = app_client()
    f = add(client, feeds.url + "/gone")
    now = time.time()
    poller(client).poll_once(now)
    state = feed(client, f["id"])
    assert (state["status"], state["enabled"], state["next_poll_at"], state["last_status"]) == (
        "disabled",
        False,
        None,
        410,
    )
    assert "410" in state["disabled_reason"] and state["paused"] is False  # disabled by the publisher, not paused
    assert poller(client).poll_once(now + 10 * 86400) == [] and len(feeds.hits("/gone")) == 1
    assert "ticker_feeds_disabled 1" in client.get("/metrics").text


def test_a_feed_disabled_by_410_and_resumed_by_patch_is_fetched_again_and_a_paused_one_is_not(app_client, feeds):
    """The publisher brings a removed feed back: PATCH {"enabled": true} makes it due at once, with its
    counters and last error kept; PATCH {"enabled": false} stops the polls again."""
    client = app_client()
    f = add(client, feeds.url + "/gone", source="back-desk")
    now = time.time()
    poller(client).poll_once(now)
    assert feed(client, f["id"])["status"] == "disabled"
    assert poller(client).poll_once(now + 86400) == [] and len(feeds.hits("/gone")) == 1

    feeds.back = True
    r = client.patch(f"/v1/feeds/{f['id']}", json={"enabled": True})
    assert r.status_code == 200, r.text
    resumed = r.json()
    assert (resumed["enabled"], resumed["disabled_reason"], resumed["consecutive_errors"], resumed["fetches"]) == (
        True,
        None,
        0,
        1,
    )
    assert epoch(resumed["next_poll_at"]) <= time.time()  # due now
    [report] = poller(client).poll_once(time.time() + 1)
    assert (report.status, report.items_stored, report.error) == (200, 1, None)
    assert len(feeds.hits("/gone")) == 2
    assert stored(client, "back-desk", "bk1") is not None
    state = feed(client, f["id"])
    assert (state["status"], state["fetches"], state["errors"], state["items_stored"], state["last_error"]) == (
        "ok",
        2,
        1,
        1,
        "HTTP 410 Gone",
    )

    # paused: never fetched, however late
    assert client.patch(f"/v1/feeds/{f['id']}", json={"enabled": False}).json()["status"] == "disabled"
    assert poller(client).poll_once(time.time() + 10 * 86400) == [] and len(feeds.hits("/gone")) == 2


# ---- the API ------------------------------------------------------------------------------------


def test_api_validation_auth_conflicts_and_not_found(app_client, feeds):
    client = app_client(api_key=KEY, feeds_max=2)
    h = {"X-API-Key": KEY}
    assert client.post("/v1/feeds", json={"url": feeds.url + "/rss"}).status_code == 401
    assert client.get("/v1/feeds").json() == {"feeds": [], "total": 0}  # reads are open

    def refused(body: dict[str, Any], field: str, words: str) -> None:
        r = client.post("/v1/feeds", json=body, headers=h)
        assert r.status_code == 422, r.text
        errors = r.json()["detail"]
        assert any(e["loc"][-1] == field and words in e["msg"] for e in errors), errors

    refused({"url": "ftp://example.org/rss"}, "url", "http or https")
    refused({"url": "file:///etc/passwd"}, "url", "http or https")
    refused({"url": "not a url"}, "url", "")
    refused({"url": "http://user:pw@example.org/rss"}, "url", "credentials")
    refused({"url": feeds.url + "/rss", "interval_seconds": 1}, "interval_seconds", "between 10 and 86400")
    refused({"url": feeds.url + "/rss", "interval_seconds": "300"}, "interval_seconds", "")
    refused({"url": feeds.url + "/rss", "lang": "français!"}, "lang", "")
    refused({"url": feeds.url + "/rss", "sauce": "x"}, "sauce", "")
    refused({}, "url", "")

    r = client.post("/v1/feeds", json={"url": feeds.url + "/rss", "lang": "fr"}, headers=h)
    assert r.status_code == 201 and r.json()["lang"] == "fr"
    first = r.json()["id"]
    again = client.post("/v1/feeds", json={"url": feeds.url + "/rss"}, headers=h)
    assert again.status_code == 409 and f"feed {first}" in again.json()["detail"]
    assert client.post("/v1/feeds", json={"url": feeds.url + "/atom"}, headers=h).status_code == 201
    full = client.post("/v1/feeds", json={"url": feeds.url + "/feed.json"}, headers=h)
    assert full.status_code == 409 and "TICKER_FEEDS_MAX" in full.json()["detail"]

    assert [f["id"] for f in client.get("/v1/feeds").json()["feeds"]] == [first, first + 1]
    assert client.get("/v1/feeds/999999").status_code == 404
    assert client.get("/v1/feeds/-1").status_code == 422
    assert client.delete(f"/v1/feeds/{first}").status_code == 401
    assert client.delete(f"/v1/feeds/{first}", headers=h).status_code == 204
    assert client.delete(f"/v1/feeds/{first}", headers=h).status_code == 404
    assert client.get(f"/v1/feeds/{first}").status_code == 404


def test_private_addresses_are_refused_unless_allowed(app_client, feeds):
    client = app_client(feeds_allow_private=False)
    for url in (
        feeds.url + "/rss",
        "http://localhost/rss",
        "http://10.1.2.3/rss",
        "http://169.254.169.254/latest",
        "http://[::1]/rss",
        "http://[::ffff:127.0.0.1]/rss",
        "http://0.0.0.0/rss",
    ):
        r = client.post("/v1/feeds", json={"url": url})
        assert r.status_code == 422, (url, r.text)
        [error] = r.json()["detail"]
        assert error["loc"] == ["body", "url"] and "TICKER_FEEDS_ALLOW_PRIVATE" in error["msg"], error
    assert feeds.requests == []


def test_every_redirect_hop_and_every_connection_is_checked(feeds, monkeypatch):
    """With private addresses refused: a redirect to one is not followed; a name whose DNS answer changes
    after the API's check (rebinding) is refused at the connection; and the connection goes to the address
    that was checked (a name the system resolver does not know is fetched through our resolution)."""
    # 127.0.0.1 stands for a public address in this test; every other loopback address stays private
    real = fetch_mod.address_is_public
    monkeypatch.setattr(fetch_mod, "address_is_public", lambda ip: ip == "127.0.0.1" or real(ip))
    fetcher = Fetcher(max_bytes=MB, timeout=5, max_redirects=3, allow_private=False)
    try:
        result = fetcher.fetch(feeds.url + "/to-private")
        assert result.status is None and "127.0.0.2" in result.error and "TICKER_FEEDS_ALLOW_PRIVATE" in result.error
        assert feeds.hits("/rss") == []

        answers = {"feeds.test": ["127.0.0.1"], "rebind.test": ["93.184.216.34"]}
        monkeypatch.setattr(fetch_mod, "resolve_host", lambda host, port: answers[host])
        ok = fetcher.fetch(f"http://feeds.test:{feeds.port}/rss")
        assert ok.status == 200 and ok.error is None
        assert feeds.hits("/rss")[-1]["host"] == f"feeds.test:{feeds.port}"  # the name kept, the checked address used

        fetch_mod.check_url(f"http://rebind.test:{feeds.port}/rss", allow_private=False)  # what the API checks: fine
        answers["rebind.test"] = ["127.0.0.9"]  # ... then the name points inside
        before = len(feeds.requests)
        bad = fetcher.fetch(f"http://rebind.test:{feeds.port}/rss")
        assert bad.status is None and "127.0.0.9" in bad.error and len(feeds.requests) == before
        # one private address among public ones is enough to refuse
        answers["rebind.test"] = ["93.184.216.34", "10.0.0.1"]
        assert "10.0.0.1" in fetcher.fetch(f"http://rebind.test:{feeds.port}/rss").error
    finally:
        fetcher.close()


# ---- leases, restarts, crashes --------------------------------------------------------------------


def test_two_pollers_on_one_store_fetch_each_feed_once(app_client, feeds):
    client = app_client()
    ids = [
        add(client, feeds.url + path, source=f"s{i}")["id"]
        for i, path in enumerate(("/rss", "/atom", "/feed.json", "/notitle", "/error", "/limited"))
    ]
    state = client.app.state.ticker
    other = FeedPoller(state.settings, state.store, state.pipeline.ingest, owner="replica-2")
    try:
        now = time.time()
        barrier = threading.Barrier(2)
        out: list[list[Any]] = [[], []]

        def run(k: int, p: FeedPoller) -> None:
            barrier.wait()
            out[k] = p.poll_once(now)

        threads = [threading.Thread(target=run, args=(k, p)) for k, p in enumerate((poller(client), other))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        polled = sorted(r.feed_id for r in out[0] + out[1])
        assert polled == sorted(ids)
        for path in ("/rss", "/atom", "/feed.json", "/notitle", "/error", "/limited"):
            assert len(feeds.hits(path)) == 1, path
    finally:
        other.stop()


def test_nothing_is_lost_or_stored_twice_across_restarts_and_a_crash(app_client, feeds, monkeypatch):
    client = app_client()
    f = add(client, feeds.url + "/rss", source="le360")
    now = time.time()
    poller(client).poll_once(now)
    assert client.app.state.ticker.store.count_headlines() == 3
    client.__exit__(None, None, None)  # a clean stop

    # a restart: the feed and its state are still there; its validators are sent
    client = app_client()
    state = feed(client, f["id"])
    assert (state["items_stored"], state["fetches"], state["status"]) == (3, 1, "ok")
    [report] = poller(client).poll_once(now + 301)
    assert report.status == 304 and feeds.hits("/rss")[-1]["if-none-match"] == '"v3"'

    # new entries arrive; the process dies after they are committed, before the feed's state is written
    feeds.rss_items += [
        ("r4", "Marrakech : le festival du film ouvre ses portes"),
        ("r5", "Agadir : la saison touristique bat un record"),
    ]
    store = client.app.state.ticker.store

    def crash(*args: Any, **kwargs: Any) -> bool:
        raise SystemExit("killed")

    state = client.app.state.ticker
    dying = FeedPoller(state.settings, store, state.pipeline.ingest, owner="dying-replica")
    monkeypatch.setattr(store, "record_feed_poll", crash)
    with pytest.raises(SystemExit):
        dying.poll_feed(store.claim_feeds("dying-replica", now + 602, 120.0, 10)[0], now + 602)
    assert store.count_headlines() == 5  # durable before they count
    monkeypatch.undo()
    dying.fetcher.close()  # (no stop(): a dead process gives nothing back)
    client.__exit__(None, None, None)

    client = app_client()
    p = poller(client)
    assert p.poll_once(now + 603) == []  # the dead process's lease holds until it runs out ...
    [report] = p.poll_once(now + 602 + 121)  # ... then another takes the feed over
    # the validators were never written: the whole document is read again, and nothing is stored twice
    assert (report.status, report.items_seen, report.items_stored) == (200, 5, 0)
    assert client.app.state.ticker.store.count_headlines() == 5
    assert feeds.hits("/rss")[-1].get("if-none-match") == '"v3"'
    for key, _ in feeds.rss_items:
        assert stored(client, "le360", key) is not None
    state = feed(client, f["id"])
    assert (state["items_stored"], state["items_seen"]) == (3, 8)  # the crashed poll's 2 were never counted


def test_the_background_poller_follows_a_feed_added_through_the_api(app_client, feeds):
    client = app_client(feeds_poll=True)
    f = add(client, feeds.url + "/feed.json", source="bg")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and feed(client, f["id"])["status"] == "pending":
        time.sleep(0.1)
    assert feed(client, f["id"])["items_stored"] == 2
    owner = poller(client).owner
    client.__exit__(None, None, None)  # stops cleanly and gives its leases back
    assert not any(t.name == "ticker-feeds" and t.is_alive() for t in threading.enumerate())
    assert owner  # (the lease itself is released by release_feeds: see the store contract)


def test_pg_replicas_poll_each_feed_once_and_take_over_a_dead_ones_feeds(feeds):
    """Two pollers on two PostgresStore pools over one schema (two replicas): a pass of both fetches each
    feed once; a replica that dies holding a lease hands the feed over when the lease runs out."""
    import os
    import uuid

    dsn = os.environ.get("TICKER_TEST_PG_DSN", "")
    if not dsn:
        pytest.skip("TICKER_TEST_PG_DSN is not set")
    import psycopg

    from app.config import load_settings
    from app.pipeline import IngestResult
    from app.store.postgres import PostgresStore

    schema = f"feeds_{uuid.uuid4().hex[:12]}"
    stores = [PostgresStore(dsn, 16, schema=schema) for _ in range(2)]
    settings = load_settings(env={}, **FAST)
    ingested: list[tuple[str | None, str | None]] = []
    lock = threading.Lock()

    def ingest(items: Any) -> list[IngestResult]:
        with lock:
            ingested.extend((i.source, i.ext_id) for i in items)
        return [
            IngestResult(
                headline_id=n, lang=None, story_id=n, duplicate=False, match=None, score=None, matched_headline_id=None
            )
            for n, _ in enumerate(items)
        ]

    pollers = [FeedPoller(settings, s, ingest, owner=f"replica-{k}") for k, s in enumerate(stores)]
    try:
        now = time.time()
        paths = ("/rss", "/atom", "/feed.json", "/notitle", "/error", "/limited", "/gone", "/moved")
        for i, path in enumerate(paths):
            stores[0].add_feed(feeds.url + path, f"s{i}", None, 60.0, now, max_feeds=100)
        barrier = threading.Barrier(2)
        out: list[list[Any]] = [[], []]

        def run(k: int) -> None:
            barrier.wait()
            out[k] = pollers[k].poll_once(now)

        threads = [threading.Thread(target=run, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(r.feed_id for r in out[0] + out[1]) == sorted(f.id for f in stores[0].feeds())
        for path in paths:
            assert len(feeds.hits(path)) == 1, path
        assert len(ingested) == len(set(ingested)) == 3 + 2 + 2 + 1 + 1

        # replica 0 leases the due feeds and dies; replica 1 takes them over once the lease runs out
        due = now + 61
        held = stores[0].claim_feeds("replica-0", due, settings.feeds_lease_seconds, 100)
        assert held and pollers[1].poll_once(due) == []
        taken = pollers[1].poll_once(due + settings.feeds_lease_seconds)
        # (with them, any feed whose jittered backoff fell between the two times)
        assert {f.id for f in held} <= {r.feed_id for r in taken}
        assert all(f.leased_by is None for f in stores[1].feeds())
    finally:
        for p in pollers:
            p.fetcher.close()
        for s in stores:
            s.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # type: ignore[arg-type]  # test-made name
