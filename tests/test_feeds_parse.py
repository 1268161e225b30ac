"""app/feeds/parse.py: feed documents in, cleaned entries out. Pure: no server, no store, no network."""

from __future__ import annotations

import calendar
import json

import pytest

from app.feeds.parse import FeedParseError, clean_title, parse_feed

NOW = calendar.timegm((2026, 3, 21, 12, 0, 0))

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Le360</title><link>https://fr.le360.ma/</link><language>fr-FR</language>
<item><title><![CDATA[<b>Sahara</b> : l&#8217;ONU salue &amp; soutient]]></title>
  <guid isPermaLink="false">le360-1</guid><link>https://fr.le360.ma/a/1</link>
  <pubDate>Sat, 21 Mar 2026 09:12:00 +0100</pubDate></item>
<item><title>AT&amp;amp;T &amp;lt;i&amp;gt;rachète&amp;lt;/i&amp;gt; un   opérateur
   marocain</title><link>/a/2</link></item>
<item><description>an entry with no title</description><guid>le360-3</guid></item>
<item><title>   </title><guid>le360-4</guid></item>
<item><title>Same guid again</title><guid isPermaLink="false">le360-1</guid></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="es">
<title>Atom</title><id>urn:feed</id><updated>2026-03-21T09:00:00Z</updated>
<entry><title type="html">&lt;em&gt;Rabat&lt;/em&gt; acoge la cumbre</title><id>urn:e1</id>
  <link href="https://example.org/e1"/><updated>2026-03-21T09:00:00+01:00</updated></entry>
<entry xml:lang="en"><title type="text">Rabat hosts the summit</title><id>urn:e2</id>
  <published>2026-03-20T09:00:00Z</published><updated>2026-03-21T10:00:00Z</updated></entry>
</feed>"""

JSON_FEED = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON",
    "language": "ar",
    "items": [
        {
            "id": 7,
            "url": "https://example.org/j7",
            "title": "وزارة التربية تعلن مواعيد الامتحانات",
            "date_published": "2026-03-21T08:00:00Z",
        },
        {"id": "j8", "content_text": "a micro-post without a title"},
        {
            "id": "j9",
            "title": "Élections : le scrutin reporté",
            "language": "fr",
            "date_modified": "2026-03-21T07:30:00+00:00",
        },
        "not an object",
    ],
}


def test_rss_entries_keys_titles_times_and_the_feeds_language():
    feed = parse_feed(RSS.encode(), "application/rss+xml; charset=utf-8", base_url="https://fr.le360.ma/rss", now=NOW)
    assert feed.format == "rss20" and feed.lang == "fr-FR" and feed.malformed is None
    first, second = feed.entries
    assert (first.key, first.title, first.url, first.lang) == (
        "le360-1",
        "Sahara : l\u2019ONU salue & soutient",
        "https://fr.le360.ma/a/1",
        "fr-FR",
    )
    assert first.published_at == calendar.timegm((2026, 3, 21, 8, 12, 0))  # +0100 read as such
    # no guid: the link is the key, as written (made absolute, it would change if the feed moved); the URL
    # stored is absolute; markup escaped twice is cleaned
    assert (second.key, second.url) == ("/a/2", "https://fr.le360.ma/a/2")
    assert second.title == "AT&T rachète un opérateur marocain" and second.published_at is None
    # no title, a blank title: skipped and counted; the repeated guid is kept once
    assert feed.skipped == 2


def test_atom_entries_take_their_own_language_else_the_feeds():
    feed = parse_feed(ATOM.encode(), "application/atom+xml", now=NOW)
    assert feed.format == "atom10" and feed.lang == "es"
    (e1, e2) = feed.entries
    assert (e1.key, e1.title, e1.lang, e1.url) == ("urn:e1", "Rabat acoge la cumbre", "es", "https://example.org/e1")
    assert e1.published_at == calendar.timegm((2026, 3, 21, 8, 0, 0))  # updated, when nothing is published
    assert (e2.key, e2.title, e2.lang) == ("urn:e2", "Rabat hosts the summit", "en")
    assert e2.published_at == calendar.timegm((2026, 3, 20, 9, 0, 0))  # published wins over updated


def test_json_feed_items():
    feed = parse_feed(json.dumps(JSON_FEED).encode(), "application/feed+json", now=NOW)
    assert feed.format == "json1" and feed.lang == "ar" and feed.title == "JSON"
    assert [(e.key, e.lang, e.url) for e in feed.entries] == [("7", "ar", "https://example.org/j7"), ("j9", "fr", None)]
    assert feed.entries[0].published_at == calendar.timegm((2026, 3, 21, 8, 0, 0))
    assert feed.entries[1].published_at == calendar.timegm((2026, 3, 21, 7, 30, 0))
    assert feed.skipped == 2  # the item without a title, the item that is not an object
    # found by its shape too, whatever the server calls it
    assert parse_feed(json.dumps(JSON_FEED).encode(), "text/plain", now=NOW).entries == feed.entries


def test_a_relative_guid_stays_as_written_whatever_the_feeds_url():
    rss = b'<rss version="2.0"><channel><title>t</title><item><title>Relative</title><guid>item-7</guid></item></channel></rss>'
    for base in ("https://a.example/rss", "https://b.example/moved/rss", None):
        assert parse_feed(rss, "application/rss+xml", base_url=base, now=NOW).entries[0].key == "item-7"


def test_an_empty_feed_is_a_feed():
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>quiet</title></channel></rss>', "application/rss+xml", now=NOW
    )
    assert (feed.entries, feed.skipped, feed.malformed) == ([], 0, None)


def test_keys_when_there_is_no_guid_nor_link_and_when_the_guid_is_too_long():
    rss = """<rss version="2.0"><channel><title>t</title>
    <item><title>Only a title</title></item>
    <item><title>Long guid</title><guid isPermaLink="false">{}</guid></item></channel></rss>""".format("x" * 500)
    a, b = parse_feed(rss.encode(), "application/rss+xml", now=NOW).entries
    again = parse_feed(rss.encode(), "application/rss+xml", now=NOW).entries
    assert a.key.startswith("title:") and a.key == again[0].key  # the same item at the next poll: the same key
    assert b.key.startswith("sha256:") and len(b.key) <= 200 and b.key == again[1].key


def test_times_a_post_would_refuse_become_none():
    rss = """<rss version="2.0"><channel><title>t</title>
    <item><title>From the future</title><guid>f</guid><pubDate>Sat, 21 Mar 2099 09:00:00 GMT</pubDate></item>
    <item><title>Tomorrow</title><guid>t</guid><pubDate>Sun, 22 Mar 2026 09:00:00 GMT</pubDate></item>
    </channel></rss>"""
    future, tomorrow = parse_feed(rss.encode(), "application/rss+xml", now=NOW).entries
    assert future.published_at is None
    assert tomorrow.published_at == calendar.timegm((2026, 3, 22, 9, 0, 0))  # within 36 h: kept


def test_malformed_xml_is_recovered_when_it_can_be_and_refused_when_it_is_no_feed():
    broken = b'<rss version="2.0"><channel><title>x</title><item><title>kept & fine</title><guid>b1</guid></item><item><title>cut'
    feed = parse_feed(broken, "application/rss+xml", now=NOW)
    assert [e.title for e in feed.entries][:1] == ["kept & fine"] and feed.malformed
    for junk, ctype in (
        (b"<?xml version=\"1.0\"?>\n<rss><channel><<<this is &&& not xml", "application/rss+xml"),
        (b"<html><body><p>Not a feed</p></body></html>", "text/html"),
        (b"\x00\x01garbage<<<", "application/xml"),
        (b'{"not": "a json feed"}', "application/json"),
        (b"{broken json", "application/feed+json"),
        (b"", "application/rss+xml"),
    ):
        with pytest.raises(FeedParseError):
            parse_feed(junk, ctype, now=NOW)


def test_a_body_that_looks_like_a_url_or_a_path_is_never_opened(tmp_path):
    secret = tmp_path / "secret.xml"
    secret.write_text('<rss version="2.0"><channel><item><title>secret</title></item></channel></rss>')
    for body in (str(secret).encode(), b"http://127.0.0.1:9/feed"):
        with pytest.raises(FeedParseError):
            parse_feed(body, "application/rss+xml", now=NOW)


@pytest.mark.parametrize(
    "raw, clean",
    [
        ("<![CDATA[<b>Hello</b> &amp; world &eacute;]]>", "Hello & world é"),
        ("&amp;eacute;t&amp;eacute;", "été"),
        ("<script>alert(1)</script>Rabat", "Rabat"),
        ("a < b and 5<10", "a < b and 5<10"),
        ("Q&A: R&D", "Q&A: R&D"),
        (" line\none\u0000\u200b ", "line one\u200b"),
        ("Sultana Khaya", "Sultana Khaya"),
        ("", ""),
        (None, ""),
    ],
)
def test_clean_title(raw, clean):
    assert clean_title(raw, 1000) == clean


def test_long_titles_are_cut_at_a_word():
    title = clean_title("mot " * 400, 100)
    assert len(title) <= 100 and title.endswith("mot")
