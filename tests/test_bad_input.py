"""Hostile and odd input through the HTTP API: every request gets a clear 4xx or is stored exactly
(read back and compared byte for byte), never a 5xx.

test_api_ingest.py covers the basic refusals (empty title, over-long title, bad date, unknown field,
wrong content type, broken JSON, one invalid UTF-8 body); this file covers the rest.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import started_client

JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}
BODY_PATHS = [("/v1/headlines", JSON), ("/v1/dedup/check", JSON), ("/v1/ticker", TEXT)]


@pytest.fixture(scope="module")
def refusing(tmp_path_factory, encoder):
    """One app for the tests that send only what must be refused. Each of them checks that nothing was
    stored, so they can share a store instead of starting an app each, and at the end the store is
    checked to hold nothing."""
    client = started_client(encoder, tmp_path_factory.mktemp("refusing"))
    yield client
    try:
        assert client.get("/v1/stories").json()["total"] == 0, "a refused request stored something"
    finally:
        client.__exit__(None, None, None)


def post(c, *items, **kw):
    return c.post("/v1/headlines", json={"headlines": list(items)}, **kw)


def read_back(c, headline_id: int) -> dict:
    r = c.get(f"/v1/headlines/{headline_id}")
    assert r.status_code == 200, r.text
    return r.json()


def assert_clear_4xx(r, *codes: int) -> None:
    assert r.status_code in (codes or (400, 413, 415, 422)), (r.status_code, r.text[:300])
    detail = r.json()["detail"]
    assert detail and (isinstance(detail, str) or all(d["loc"] and d["msg"] for d in detail)), detail


# --- bytes that are not UTF-8 ---------------------------------------------------------------------

BAD_UTF8 = [
    b"\xff",  # never valid
    b"\xe9",  # Latin-1 e-acute
    b"\xc0\x80",  # overlong NUL
    b"\xed\xa0\x80",  # a UTF-16 surrogate encoded as UTF-8
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xe2\x82",  # truncated sequence (at the very end of the body below)
]


@pytest.mark.parametrize("bad", BAD_UTF8, ids=lambda b: b.hex())
@pytest.mark.parametrize("path, headers", BODY_PATHS, ids=lambda x: x if isinstance(x, str) else "")
def test_invalid_utf8_is_400_with_the_byte_offset(refusing, path, headers, bad):
    prefix = b'{"title": "Le Maroc ' if headers is JSON else "Le Maroc et l'Espagne ".encode()
    body = prefix + bad if bad == b"\xe2\x82" else prefix + bad + b' et la CAF"}'
    if path == "/v1/headlines":
        prefix = b'{"headlines": [{"title": "Le Maroc '
        body = prefix + bad + (b"" if bad == b"\xe2\x82" else b'"}]}')
    r = refusing.post(path, content=body, headers=headers)
    assert r.status_code == 400, r.text
    assert f"byte {len(prefix)}" in r.json()["detail"]
    assert refusing.get("/v1/stories").json()["total"] == 0


def test_other_charsets_are_refused_not_guessed(client):
    text = "Le Maroc et l'Espagne signent un accord à Rabat"
    for charset, data in (("latin-1", text.encode("latin-1")), ("utf-16", text.encode("utf-16"))):
        r = client.post("/v1/ticker", content=data, headers={"Content-Type": f"text/plain; charset={charset}"})
        assert_clear_4xx(r, 400)


def test_a_byte_order_mark_is_not_part_of_the_first_headline(client):
    # Captures saved by Windows tools start with a BOM; it must not stick to the first title (it is
    # invisible, and the title would no longer equal the same headline sent without it).
    title = "Le Maroc et l'Espagne signent un accord sur l'eau"
    r = client.post(
        "/v1/ticker", content=b"\xef\xbb\xbf" + title.encode() + "\nDeuxième titre sur la CAF".encode(), headers=TEXT
    )
    assert r.status_code == 200, r.text
    first = r.json()["results"][0]
    assert read_back(client, first["headline_id"])["title"] == title
    again = post(client, {"title": title}).json()["results"][0]
    assert again["story_id"] == first["story_id"] and again["match"] == "exact"


def test_a_byte_order_mark_before_json_is_a_clear_4xx(client):
    body = b"\xef\xbb\xbf" + json.dumps({"headlines": [{"title": "Le Maroc et la CAF"}]}).encode()
    r = client.post("/v1/headlines", content=body, headers=JSON)
    if r.status_code != 200:  # RFC 8259 lets a parser ignore the BOM or refuse the text; either is fine, clearly
        assert_clear_4xx(r, 400, 422)


# --- NUL and lone surrogates ----------------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "source", "url", "id", "lang"])
@pytest.mark.parametrize("evil", ["\x00", "\ud800", "\udfff"], ids=["nul", "high-surrogate", "low-surrogate"])
def test_unstorable_characters_in_any_field_are_422(refusing, field, evil):
    item = {"title": "Le Maroc et la CAF", "source": "src", "url": "https://x.ma/1", "id": "1", "lang": "fr"}
    item[field] = f"a{evil}b" if field != "lang" else f"f{evil}"
    # json.dumps writes a lone surrogate as the escape "\ud800", exactly as a careless client would
    r = refusing.post("/v1/headlines", content=json.dumps({"headlines": [item]}).encode(), headers=JSON)
    assert_clear_4xx(r, 422)
    assert ["body", "headlines", 0, field] == r.json()["detail"][0]["loc"][:4]
    r = refusing.post(
        "/v1/dedup/check", content=json.dumps({"title": f"Le Maroc {evil} et la CAF"}).encode(), headers=JSON
    )
    assert_clear_4xx(r, 422)
    assert refusing.get("/v1/stories").json()["total"] == 0


def test_nul_in_a_capture_and_in_query_parameters(client):
    r = client.post("/v1/ticker", content="Le Maroc et la CAF\x00 ce soir".encode(), headers=TEXT)
    assert_clear_4xx(r, 422)
    r = client.post("/v1/ticker?source=le%00360", content="Le Maroc et la CAF ce soir".encode(), headers=TEXT)
    assert_clear_4xx(r, 422)
    for q in ("source=a%00b", "lang=f%00r"):
        assert_clear_4xx(client.get(f"/v1/stories?{q}"), 422)
    assert client.get("/v1/stories").json()["total"] == 0


# --- size -----------------------------------------------------------------------------------------


def test_ten_megabyte_bodies_are_413_everywhere(client):
    big_json = json.dumps({"headlines": [{"title": "Le Maroc et la CAF " * 50}] * 11_000}).encode()
    assert len(big_json) > 10_000_000
    for path, headers in BODY_PATHS:
        assert_clear_4xx(client.post(path, content=big_json, headers=headers), 413)

        def chunks():  # streamed, without a Content-Length
            for i in range(0, len(big_json), 65536):
                yield big_json[i : i + 65536]

        assert_clear_4xx(client.post(path, content=chunks(), headers=headers), 413)
    assert client.get("/v1/stories").json()["total"] == 0


def test_hundred_thousand_character_titles(client):
    long = ("Le Maroc et l'Espagne " * 5000)[:100_000]
    r = post(client, {"title": long})
    assert_clear_4xx(r, 422)
    assert "100000 characters" in r.json()["detail"][0]["msg"]
    assert_clear_4xx(client.post("/v1/dedup/check", json={"title": long}), 422)
    assert_clear_4xx(client.post("/v1/ticker", content=long.encode(), headers=TEXT), 422)
    # a long field that is not the title
    assert_clear_4xx(post(client, {"title": "Le Maroc et la CAF", "source": "s" * 100_000}), 422)
    assert_clear_4xx(post(client, {"title": "Le Maroc et la CAF", "url": "https://x.ma/" + "u" * 100_000}), 422)
    assert client.get("/v1/stories").json()["total"] == 0


# --- text of every kind is stored exactly ----------------------------------------------------------

UNICODE_TITLES = [
    "🇲🇦 Le Maroc ⚽ bat l'Espagne 2-1 et file en finale 🎉🔥",
    "👩🏽‍💻 Les développeuses marocaines à l'honneur au GITEX Africa 👨‍👩‍👧",
    "المغرب يستضيف كأس أمم إفريقيا 2025 في الرباط والدار البيضاء",
    "الْمَغْرِبُ يَفُوزُ عَلَى إِسْبَانْيَا ـــ فِي نِهَائِيِّ الْبُطُولَةِ",
    "Le Maroc (المغرب) et l'Espagne — acuerdo sobre el agua / agreement on water",
    "\u202bالرباط\u202c : match ce soir au complexe Moulay Abdellah",
    "\u202eLe titre retourné par un caractère de contrôle bidi",
    "Ai\u0308d Al Fitr : gra\u0302ce royale au profit de 1201 personnes",  # NFD, kept as sent
    "ⵜⴰⵎⴰⵣⵉⵖⵜ : ⴰⵙⴳⴳⵯⴰⵙ ⴰⵎⴰⵢⵏⵓ 2975 ⵉⵎⵎⴰ ⵎⴰⵔⵓⴽ",
    "Le\u00a0Maroc\u200b et la\u2009CAF\u2028signent\u2029un accord",
    "𝐋𝐞 𝐌𝐚𝐫𝐨𝐜 et 𝔩𝔞 𝔆𝔄𝔉 : caractères hors du plan de base",
    "Z̸̢̛̛a̷̧̛l̶̨̛g̵̢̛ơ̸̢ : des diacritiques empilés sur le titre du jour",
    "Caractères privés \ue000 et non-caractères \ufdd0 \uffff dans un titre",
    "🔥🔥🔥 CAN 2025 : la finale à Rabat 🔥🔥🔥",  # emoji alone is refused: tests/test_adversarial_input.py
]


@pytest.mark.parametrize("title", UNICODE_TITLES, ids=range(len(UNICODE_TITLES)))
def test_any_text_is_stored_byte_for_byte(client, title):
    source, url = "مصدر 🇲🇦 source", "https://exemple.ma/المغرب/🎉?q=é"
    r = post(client, {"title": title, "source": source, "url": url, "id": title[:20]})
    assert r.status_code == 200, r.text
    h = read_back(client, r.json()["results"][0]["headline_id"])
    assert h["title"].encode("utf-8") == title.encode("utf-8")
    assert h["source"].encode("utf-8") == source.encode("utf-8") and h["url"] == url
    # the same text again is an exact duplicate of it
    again = post(client, {"title": title}).json()["results"][0]
    assert again["story_id"] == r.json()["results"][0]["story_id"] and again["match"] == "exact"
    assert client.post("/v1/dedup/check", json={"title": title}).json()["duplicate"] is True


def test_arabic_and_mixed_captures_split_and_store_exactly(client):
    titles = [
        "المغرب يستضيف كأس أمم إفريقيا في الرباط",
        "Le Maroc et l'Espagne signent un accord sur l'eau",
        "Marruecos y España firman un acuerdo sobre el agua",
    ]
    r = client.post(
        "/v1/ticker?source=%D9%87%D8%B3%D8%A8%D8%B1%D9%8A%D8%B3", content=" | ".join(titles).encode(), headers=TEXT
    )
    assert r.status_code == 200, r.text
    got = [read_back(client, x["headline_id"]) for x in r.json()["results"]]
    assert [g["title"] for g in got] == titles and {g["source"] for g in got} == {"هسبريس"}
    assert got[0]["lang"] == "ar"


# --- wrong shapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, loc",
    [
        ([{"title": "x"}], ["body"]),
        ("headlines", ["body"]),
        (None, ["body"]),
        (42, ["body"]),
        ({"headlines": None}, ["body", "headlines"]),
        ({"headlines": {"title": "Le Maroc"}}, ["body", "headlines"]),
        ({"headlines": "Le Maroc"}, ["body", "headlines"]),
        ({"headlines": ["Le Maroc et la CAF"]}, ["body", "headlines", 0]),
        ({"headlines": [None]}, ["body", "headlines", 0]),
        ({"headlines": [{}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": [{"source": "a"}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": [{"title": None}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": [{"title": ["Le", "Maroc"]}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": [{"title": {"fr": "Le Maroc"}}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": [{"title": True}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": [{"title": "Le Maroc", "id": True}]}, ["body", "headlines", 0, "id"]),
        ({"headlines": [{"title": "Le Maroc", "id": 1.5}]}, ["body", "headlines", 0, "id"]),
        ({"headlines": [{"title": "Le Maroc", "id": [1]}]}, ["body", "headlines", 0, "id"]),
        ({"headlines": [{"title": "Le Maroc", "id": "x" * 201}]}, ["body", "headlines", 0, "id"]),
        ({"headlines": [{"title": "Le Maroc", "id": 10**201}]}, ["body", "headlines", 0, "id"]),
        ({"headlines": [{"title": "Le Maroc", "source": 7}]}, ["body", "headlines", 0, "source"]),
        ({"headlines": [{"title": "Le Maroc", "url": {"href": "x"}}]}, ["body", "headlines", 0, "url"]),
        ({"headlines": [{"title": "Le Maroc", "lang": 12}]}, ["body", "headlines", 0, "lang"]),
        ({"headlines": [{"title": "Le Maroc", "published_at": True}]}, ["body", "headlines", 0, "published_at"]),
        ({"headlines": [{"title": "Le Maroc", "published_at": 1750500000}]}, ["body", "headlines", 0, "published_at"]),
        ({"headlines": [{"title": "Le Maroc", "published_at": "20250621"}]}, ["body", "headlines", 0, "published_at"]),
        (
            {"headlines": [{"title": "Le Maroc", "published_at": "2025-02-30T10:00:00Z"}]},
            ["body", "headlines", 0, "published_at"],
        ),
        (
            {"headlines": [{"title": "Le Maroc", "published_at": "2025-06-21T10:00:00+25:00"}]},
            ["body", "headlines", 0, "published_at"],
        ),
        ({"headlines": [{"title": "Le Maroc"}], "source": "top-level"}, ["body", "source"]),
        ({"headlines": [{"title": "Le Maroc", "Title": "dup"}]}, ["body", "headlines", 0, "Title"]),
        (
            {"headlines": [{"title": "Le Maroc", "publishedAt": "2025-06-21T10:00:00Z"}]},
            ["body", "headlines", 0, "publishedAt"],
        ),
    ],
)
def test_wrong_types_missing_and_unknown_fields_are_422_at_the_field(refusing, body, loc):
    r = refusing.post("/v1/headlines", content=json.dumps(body).encode(), headers=JSON)
    assert_clear_4xx(r, 422)
    locs = [d["loc"][: len(loc)] for d in r.json()["detail"]]
    assert loc in locs, locs
    assert refusing.get("/v1/stories").json()["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"title": None},
        {"title": 5},
        {"title": ["x"]},
        {"lang": "fr"},
        {"title": "Le Maroc", "extra": 1},
        {"title": "Le Maroc", "lang": 3},
        [],
        "Le Maroc",
    ],
)
def test_dedup_check_wrong_shapes(refusing, body):
    assert_clear_4xx(refusing.post("/v1/dedup/check", content=json.dumps(body).encode(), headers=JSON), 422)


def test_duplicate_keys_and_odd_json(client):
    # the last of duplicate keys wins (as in every JSON parser of note); the stored title says which
    r = client.post(
        "/v1/headlines",
        headers=JSON,
        content=b'{"headlines": [{"title": "Premier titre sur le Maroc", "title": "Second titre sur la CAF"}]}',
    )
    assert r.status_code == 200
    assert read_back(client, r.json()["results"][0]["headline_id"])["title"] == "Second titre sur la CAF"
    for raw in (
        b"",
        b"{",
        b"NaN",
        b'{"headlines": [{"title": NaN}]}',
        b"{'headlines': []}",
        b'{"headlines": [{"title": "x",}]}',
        b"\x00",
        b" " * 1000,
    ):
        assert_clear_4xx(client.post("/v1/headlines", content=raw, headers=JSON), 400, 422)


@pytest.mark.parametrize("depth", [64, 5_000, 200_000])
def test_deeply_nested_json(refusing, depth):
    body = b'{"headlines": [{"title": "Le Maroc", "lang": ' + b"[" * depth + b"]" * depth + b"}]}"
    assert_clear_4xx(refusing.post("/v1/headlines", content=body, headers=JSON), 400, 413, 422)
    body = b'{"title": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}"
    assert_clear_4xx(refusing.post("/v1/dedup/check", content=body, headers=JSON), 400, 413, 422)


# --- ids ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext_id", [0, -1, 2**63, 2**64 + 1, 10**30, -(10**40), "0", "۱۲۳", "🆔-1", " spaced id ", "x" * 200]
)
def test_any_reasonable_id_is_stored_and_replays(client, ext_id):
    item = {"title": "Le Maroc et l'Espagne signent un accord sur l'eau", "source": "ids", "id": ext_id}
    first = post(client, item)
    assert first.status_code == 200, first.text
    again = post(client, item).json()["results"][0]
    assert again["idempotent_replay"] is True and again["headline_id"] == first.json()["results"][0]["headline_id"]
    assert client.get("/v1/stories").json()["stories"][0]["size"] == 1


def test_huge_ids_in_paths_are_404_or_422(client):
    for path in ("/v1/headlines", "/v1/stories", "/v1/clusters"):
        for x in ("9223372036854775807", "9223372036854775808", "1" + "0" * 400, "-1", "1e3", "0x10", "١٢٣"):
            r = client.get(f"{path}/{x}")
            assert r.status_code in (404, 422), (path, x, r.status_code, r.text)


def test_huge_numbers_in_query_parameters(client):
    for q in ("limit=1" + "0" * 30, "offset=1" + "0" * 30, "offset=-1", "limit=0", "limit=abc", "offset=1e3"):
        assert_clear_4xx(client.get(f"/v1/stories?{q}"), 422)
    assert_clear_4xx(client.get("/v1/clusters?stories_per_topic=" + "9" * 40), 422)


#: values no 64-bit id or count can hold: past Python's 4,300-digit int limit, and just beyond int64 either way
OUT_OF_RANGE = ["1" * 4301, "9" * 5000, str(2**63), str(2**64), str(-(2**63) - 1), "1" + "0" * 400]


def _int_parameters(schema: dict) -> list[tuple[str, str, dict]]:
    """(method, path, parameter) for every integer path or query parameter of the app's OpenAPI schema."""
    out = []
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                types = [p["schema"], *p["schema"].get("anyOf", [])]
                if any(t.get("type") == "integer" for t in types):
                    out.append((method, path, p))
    return out


def test_every_int_parameter_refuses_what_int64_cannot_hold(client):
    params = _int_parameters(client.app.openapi())
    assert {(path, p["name"]) for _, path, p in params} >= {
        ("/v1/headlines/{headline_id}", "headline_id"),
        ("/v1/stories/{story_id}", "story_id"),
        ("/v1/clusters/{topic_id}", "topic_id"),
        ("/v1/stories", "limit"),
        ("/v1/clusters/events", "limit"),
    }
    for method, path, p in params:
        # bounds in the schema keep every value a store is given within int64
        assert -(2**63) <= p["schema"]["minimum"] and p["schema"]["maximum"] <= 2**63 - 1, (path, p)
        for value in OUT_OF_RANGE:
            url = path
            query = {}
            # the path parameters of this method's route only: another method's would fill the placeholder first
            for other in (q for m, pth, q in params if pth == path and m == method and q["in"] == "path"):
                url = url.replace("{%s}" % other["name"], value if other is p else "1")
            if p["in"] == "query":
                query[p["name"]] = value
            r = client.request(method.upper(), url, params=query)
            assert r.status_code in (404, 422), (method, path, p["name"], value[:30], r.status_code, r.text[:200])
            if r.status_code == 422:
                assert [p["in"], p["name"]] in [d["loc"] for d in r.json()["detail"]], r.text[:300]


# --- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+05:00",
        "0001-01-01T00:00:00-14:00",
        "1899-12-31T23:59:59Z",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59+14:00",
        "2999-01-01T00:00:00",
    ],
)
def test_far_past_and_future_dates_are_422(refusing, when):
    r = post(refusing, {"title": "Le Maroc et la CAF", "published_at": when})
    assert_clear_4xx(r, 422)
    assert r.json()["detail"][0]["loc"] == ["body", "headlines", 0, "published_at"]
    q = when.replace("+", "%2B")
    assert_clear_4xx(
        refusing.post(f"/v1/ticker?published_at={q}", content="Le Maroc et la CAF".encode(), headers=TEXT), 422
    )
    # as filters they are fine: nothing is that old or that new
    for path in ("/v1/stories?since=", "/v1/stories?until=", "/v1/clusters?since="):
        assert refusing.get(path + q).status_code == 200


FLOATISH = [
    "2.0250621e7",
    "1.7e9",
    "1.7E+09",
    "1e9",
    "+1e9",
    "-1e9",
    " 1.7e9 ",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1_700_000_000",
    "20250621",
    "1750500000.5",
]


@pytest.mark.parametrize("value", FLOATISH)
def test_numbers_in_any_form_are_refused_where_a_date_is_expected(refusing, value):
    # pydantic would read "2.0250621e7" as Unix seconds: 1970-08-23, stored without a word
    r = post(refusing, {"title": "Le Maroc et la CAF", "published_at": value})
    assert_clear_4xx(r, 422)
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "headlines", 0, "published_at"] and "not a number" in err["msg"], err
    for path, name in (("/v1/stories", "since"), ("/v1/stories", "until"), ("/v1/clusters", "since")):
        r = refusing.get(path, params={name: value})
        assert_clear_4xx(r, 422)
        (err,) = r.json()["detail"]
        assert err["loc"] == ["query", name] and "not a number" in err["msg"], (path, err)
    r = refusing.post("/v1/ticker", params={"published_at": value}, content="Le Maroc et la CAF".encode(), headers=TEXT)
    assert_clear_4xx(r, 422)
    assert r.json()["detail"][0]["loc"] == ["query", "published_at"]
    assert refusing.get("/v1/stories").json()["total"] == 0


def test_time_zones_are_converted_to_utc(client):
    base = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=1)
    cases = []
    for hours in (14, 5.75, 1, 0, -3.5, -12):
        tz = timezone(timedelta(hours=hours))
        cases.append((base.astimezone(tz).isoformat(), base))
    cases.append((base.replace(tzinfo=None).isoformat(), base))  # naive = UTC
    cases.append((base.strftime("%Y-%m-%dT%H:%M:%S.123456Z"), base))  # fractions dropped on output
    cases.append((base.strftime("%Y-%m-%d"), base.replace(hour=0, minute=0, second=0)))  # a date alone: midnight UTC
    r = post(
        client, *({"title": f"Le Maroc et la CAF, dépêche {i}", "published_at": w} for i, (w, _) in enumerate(cases))
    )
    assert r.status_code == 200, r.text
    for (sent, expected), res in zip(cases, r.json()["results"]):
        got = read_back(client, res["headline_id"])["published_at"]
        assert got == expected.strftime("%Y-%m-%dT%H:%M:%SZ"), (sent, got)


def test_published_at_slightly_ahead_is_accepted(client):
    # clock skew and time zones: up to 36 h ahead is taken, beyond that refused
    soon = datetime.fromtimestamp(time.time() + 30 * 3600, timezone.utc).isoformat()
    late = datetime.fromtimestamp(time.time() + 40 * 3600, timezone.utc).isoformat()
    assert post(client, {"title": "Le Maroc et la CAF demain", "published_at": soon}).status_code == 200
    assert_clear_4xx(post(client, {"title": "Le Maroc et la CAF après-demain", "published_at": late}), 422)


# --- lang -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("junk", ["🙂", " ", "e", "english", "12", "fr fr", "fr;", "<script>", "en-US-extra-long", "ف"])
def test_lang_junk_is_422(refusing, junk):
    r = post(refusing, {"title": "Le Maroc et la CAF", "lang": junk})
    assert_clear_4xx(r, 422)
    assert r.json()["detail"][0]["loc"] == ["body", "headlines", 0, "lang"]
    assert_clear_4xx(refusing.post("/v1/dedup/check", json={"title": "Le Maroc et la CAF", "lang": junk}), 422)


@pytest.mark.parametrize(
    "given, stored", [("FR", "fr"), ("fra", "fr"), ("ara", "ar"), ("en-US", "en"), ("", "fr"), ("ary", "ary")]
)
def test_lang_codes_are_normalised_or_kept(client, given, stored):
    r = post(client, {"title": "Le Maroc et l'Espagne signent un accord sur l'eau", "lang": given})
    assert r.status_code == 200, r.text
    lang = read_back(client, r.json()["results"][0]["headline_id"])["lang"]
    assert lang == stored, lang


@pytest.mark.parametrize("given", ["xx", "kab", "de", "zz-ZZ"])
def test_unknown_lang_codes_are_422_listing_the_accepted_ones(refusing, given):
    # a code the service does not know, or not among TICKER_LANGUAGES: stored, "de" made French text a "translation"
    r = post(refusing, {"title": "Le Maroc et l'Espagne signent un accord sur l'eau", "lang": given})
    assert_clear_4xx(r, 422)
    [err] = r.json()["detail"]
    assert err["loc"] == ["body", "headlines", 0, "lang"]
    assert err["ctx"]["accepted"][:5] == ["fr", "es", "en", "ar", "ary"] and given in err["msg"]
    assert_clear_4xx(refusing.post("/v1/dedup/check", json={"title": "Le Maroc et la CAF", "lang": given}), 422)


def test_405_names_every_method_of_the_path(make_client) -> None:
    """GET and POST on /v1/feeds are two routes; a 405 lists both, and a literal path is not taken for its
    sibling template (/v1/clusters/refit is POST only, /v1/clusters/{id} GET)."""
    c = make_client(api_key="k")
    auth = {"X-API-Key": "k"}
    r = c.put("/v1/feeds", headers=auth)
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    assert c.get("/v1/clusters/refit", headers=auth).headers["allow"] == "POST"
    assert set(c.post("/v1/clusters/7", headers=auth).headers["allow"].split(", ")) == {"GET", "HEAD"}
    assert set(c.options("/v1/feeds/3", headers=auth).headers["allow"].split(", ")) == {
        "GET",
        "HEAD",
        "DELETE",
        "PATCH",
    }
