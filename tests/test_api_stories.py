"""Stories and the newsroom check through the HTTP API, on the sample batch (the seed headlines)."""

from __future__ import annotations

import pytest
from conftest import ROOT

BATCH = ROOT / "sample_data" / "batch.json"


@pytest.fixture
def loaded(client):
    if not BATCH.exists():
        pytest.skip("sample_data/batch.json not generated")
    from app.sample import shifted_batch

    batch = shifted_batch(BATCH)
    r = client.post("/v1/headlines", json=batch)
    assert r.status_code == 200, r.text
    return client, batch["headlines"], r.json()["results"]


def _result_for(headlines, results, title):
    return next(res for h, res in zip(headlines, results) if h["title"] == title)


def test_exact_repeat_and_cross_language_versions_share_a_story(loaded):
    client, headlines, results = loaded
    aid = [res for h, res in zip(headlines, results) if h["title"].startswith("Aïd Al Fitr : Grâce Royale")]
    assert len(aid) == 2 and aid[0]["story_id"] == aid[1]["story_id"] and aid[1]["match"] == "exact"
    khaya_fr = _result_for(
        headlines, results, "Sultana Khaya sort du silence et dément toute «scission» avec le Polisario"
    )
    khaya_es = _result_for(
        headlines, results, "Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario"
    )
    assert khaya_fr["story_id"] == khaya_es["story_id"]
    assert khaya_es["match"] == "translation" and khaya_es["duplicate"] is True
    story = client.get(f"/v1/stories/{khaya_fr['story_id']}").json()
    assert {h["lang"] for h in story["headlines"]} == {"fr", "es"}
    assert story["size"] == 2 and sorted(story["languages"]) == ["es", "fr"]
    assert [v["lang"] for v in story["versions"]] == ["es"]
    assert all(0.0 < h["similarity"] <= 1.0001 for h in story["headlines"])


def test_a_story_pages_through_its_headlines(client):
    title = "Séisme de magnitude 5,2 ressenti à Al Hoceima ce matin"
    batch = {"headlines": [{"title": title, "source": f"s{i}", "id": str(i)} for i in range(7)]}
    results = client.post("/v1/headlines", json=batch).json()["results"]
    sid = results[0]["story_id"]
    assert {r["story_id"] for r in results} == {sid}
    whole = client.get(f"/v1/stories/{sid}").json()
    assert whole["size"] == 7 and len(whole["headlines"]) == 7 and (whole["limit"], whole["offset"]) == (200, 0)
    ids = [h["headline_id"] for h in whole["headlines"]]
    pages = [client.get(f"/v1/stories/{sid}?limit=3&offset={o}").json() for o in (0, 3, 6)]
    assert [h["headline_id"] for p in pages for h in p["headlines"]] == ids
    assert [len(p["headlines"]) for p in pages] == [3, 3, 1]
    assert all(p["size"] == 7 and p["canonical"] == whole["canonical"] for p in pages)
    assert pages[1]["headlines"][0]["similarity"] == pytest.approx(1.0, abs=1e-3)  # same text as the canonical
    assert client.get(f"/v1/stories/{sid}?offset=7").json()["headlines"] == []
    for bad in ("limit=0", "limit=1001", "offset=-1", "limit=x"):
        r = client.get(f"/v1/stories/{sid}?{bad}")
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"][0]["loc"][-1] == bad.split("=")[0]


def test_weather_alerts_of_one_day_stay_apart(loaded):
    _, headlines, results = loaded
    a = _result_for(headlines, results, "Alerte météo: Averses orageuses et fortes rafales de vent ce vendredi")
    b = _result_for(headlines, results, "Alerte météo. Nouvelle vague de chaleur dès ce vendredi")
    assert a["story_id"] != b["story_id"]


def test_stories_list_filters_and_pages(loaded):
    client, headlines, _ = loaded
    everything = client.get("/v1/stories?limit=500").json()
    assert everything["total"] == len(everything["stories"]) < len(headlines)
    last_seen = [s["last_seen"] for s in everything["stories"]]
    assert last_seen == sorted(last_seen, reverse=True)
    page = client.get("/v1/stories?limit=10&offset=10").json()
    assert [s["id"] for s in page["stories"]] == [s["id"] for s in everything["stories"][10:20]]
    es = client.get("/v1/stories?lang=es&limit=500").json()["stories"]
    assert es and all("es" in s["languages"] for s in es)
    source = headlines[0]["source"]
    by_source = client.get(f"/v1/stories?source={source}&limit=500").json()["stories"]
    assert by_source and all(source in s["sources"] for s in by_source)
    cut = everything["stories"][5]["last_seen"]
    since = client.get(f"/v1/stories?since={cut}&limit=500").json()["stories"]
    assert since and all(s["last_seen"] >= cut for s in since)
    assert client.get("/v1/stories/999999").status_code == 404
    assert client.get("/v1/stories?limit=0").status_code == 422


def test_dedup_check_is_read_only_and_explains_itself(loaded):
    client, _, _ = loaded
    before = client.get("/v1/stories?limit=1").json()["total"]
    r = client.post("/v1/dedup/check", json={"title": "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes"})
    body = r.json()
    assert r.status_code == 200 and body["duplicate"] is True and body["match"] == "exact"
    assert body["matches"][0]["title"] == "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes"
    assert 1 <= len(body["matches"]) <= 5
    assert body["threshold"] > 0
    # An exact repeat lists the exact headline first, even when its translation's pair score is higher.
    sahara = "Sahara : La Mauritanie défend la fermeture de ses frontières face au Polisario"
    body = client.post("/v1/dedup/check", json={"title": sahara}).json()
    assert body["match"] == "exact" and body["matches"][0]["title"] == sahara
    assert body["matches"][0]["terms"] == {"exact": 1.0}
    assert any(m["lang"] == "en" for m in body["matches"][1:])
    # A translation the service never saw: English version of a French-only story.
    r = client.post(
        "/v1/dedup/check", json={"title": "Sultana Khaya breaks her silence and denies any split with the Polisario"}
    )
    body = r.json()
    assert body["duplicate"] is True and body["match"] == "translation" and body["lang"] == "en"
    assert body["matches"][0]["score"] >= body["threshold"]
    # Each match says what its score is made of: addends that add up to it; here names carry across
    # languages ("Sultana Khaya", "Polisario") and the cross-language calibration applies.
    for m in body["matches"]:
        assert set(m["terms"]) <= {"cosine", "cross_lang", "entity", "number", "lexical", "gram", "conflict", "time"}
        assert sum(m["terms"].values()) == pytest.approx(m["score"], abs=1e-3)
        assert m["terms"]["cosine"] == pytest.approx(m["cosine"], abs=1e-4)
    top = body["matches"][0]["terms"]
    assert top["entity"] > 0 and top["cross_lang"] != 0 and top["lexical"] == 0  # no shared words across languages
    # Unrelated news is new.
    r = client.post(
        "/v1/dedup/check", json={"title": "Tokyo stock exchange closes higher on chip makers", "lang": "en"}
    )
    assert r.json()["duplicate"] is False and r.json()["story_id"] is None
    assert client.get("/v1/stories?limit=1").json()["total"] == before


def test_a_restarted_service_reads_its_newest_headlines_into_memory_and_checks_alike(loaded, make_client):
    client, headlines, _ = loaded
    titles = [
        "Sultana Khaya breaks her silence and denies any split with the Polisario",
        "Alerte météo : averses orageuses et rafales de vent ce samedi",
        "Tanger Med : saisie de près de 4 tonnes de chira",
    ]
    before = [client.post("/v1/dedup/check", json={"title": t}).json() for t in titles]
    again = make_client()  # a second service on the same data directory: a restart
    state = again.app.state.ticker
    stored = again.get("/v1/stories?limit=1").json()
    assert len(state.pipeline.cache) == len(headlines) and stored["total"] > 0
    assert [again.post("/v1/dedup/check", json={"title": t}).json() for t in titles] == before
    small = make_client(feature_cache_size=10)
    assert len(small.app.state.ticker.pipeline.cache) == 10


def test_dedup_check_bad_input(client):
    assert client.post("/v1/dedup/check", json={"title": "  "}).status_code == 422
    assert client.post("/v1/dedup/check", json={}).status_code == 422
    assert client.post("/v1/dedup/check", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415


def test_dedup_check_rate_limit(make_client):
    c = make_client(dedup_rate_per_minute=3)
    codes = [c.post("/v1/dedup/check", json={"title": "Un titre quelconque sur la CAF"}).status_code for _ in range(4)]
    assert codes[:3] == [200, 200, 200] and codes[3] == 429
    r = c.post("/v1/dedup/check", json={"title": "Un titre quelconque sur la CAF"})
    assert int(r.headers["Retry-After"]) >= 1


# --- search: GET /v1/stories?q= ---------------------------------------------------------------

SEARCHABLE = [
    {
        "title": "Côte d’Ivoire : Alassane Ouattara reçoit le Premier ministre",
        "lang": "fr",
        "source": "abidjan.net",
        "id": "s1",
        "published_at": "2026-03-02T08:00:00Z",
    },
    {
        "title": "Côte d’Ivoire : Alassane Ouattara reçoit le Premier ministre",
        "lang": "fr",
        "source": "fratmat",
        "id": "s2",
        "published_at": "2026-03-02T08:05:00Z",
    },
    {
        "title": "اَلْمَغْرِبُ يَفُوزُ بِكَأْسِ أَفْرِيقْيَا لِلْأُمَمِ",
        "lang": "ar",
        "source": "hespress",
        "id": "s3",
        "published_at": "2026-03-03T10:00:00Z",
    },
    {
        "title": "Sultana Khaya sort du silence et dément toute scission avec le Polisario",
        "lang": "fr",
        "source": "le360",
        "id": "s4",
        "published_at": "2026-03-04T10:00:00Z",
    },
    {
        "title": "Inflation : hausse de 50% du prix des tomates à Casablanca",
        "lang": "fr",
        "source": "le360",
        "id": "s5",
        "published_at": "2026-03-05T10:00:00Z",
    },
    {
        "title": "Séisme de magnitude 5,2 ressenti à Al Hoceima ce matin",
        "lang": "fr",
        "source": "snrtnews",
        "id": "s6",
        "published_at": "2026-03-06T10:00:00Z",
    },
]


@pytest.fixture
def searchable(client):
    results = client.post("/v1/headlines", json={"headlines": SEARCHABLE}).json()["results"]
    return client, {h["id"]: r["story_id"] for h, r in zip(SEARCHABLE, results)}


def _search(client, **params):
    r = client.get("/v1/stories", params={"limit": 50, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] >= len(body["stories"])
    return [s["id"] for s in body["stories"]], body["total"]


def test_search_folds_case_accents_quotes_and_arabic_marks(searchable):
    client, story = searchable
    ivoire, arabic, khaya, tomato, quake = story["s1"], story["s3"], story["s4"], story["s5"], story["s6"]
    assert story["s2"] == ivoire  # the same headline from a second outlet: one story
    assert _search(client, q="cote d'ivoire") == ([ivoire], 1)  # typed without accent, straight quote
    assert _search(client, q="CÔTE D’IVOIRE ouattara") == ([ivoire], 1)
    assert _search(client, q="sulta") == ([khaya], 1)  # a prefix, as it is typed
    assert _search(client, q="khaya polisario") == ([khaya], 1)
    assert _search(client, q="khaya ouattara") == ([], 0)  # every word must be there
    assert _search(client, q="المغرب يفوز بكاس") == ([arabic], 1)  # no tashkeel typed, hamza on alef unified
    assert _search(client, q="المـغرب") == ([arabic], 1)  # tatweel typed
    assert _search(client, q="seisme hoceima") == ([quake], 1)
    assert _search(client, q="50%") == ([tomato], 1)
    assert _search(client, q="%") == ([tomato], 1)  # not a wildcard
    assert _search(client, q="_") == ([], 0)
    assert _search(client, q="\\") == ([], 0)
    assert _search(client, q="le") == ([khaya, ivoire], 2)  # newest first; the source "le360" is no title
    page = client.get("/v1/stories", params={"q": "le", "limit": 1, "offset": 1}).json()
    assert [s["id"] for s in page["stories"]] == [ivoire] and page["total"] == 2
    # a story found is shown as the listing shows it, with its outlets counted
    found = client.get("/v1/stories", params={"q": "ouattara"}).json()["stories"][0]
    assert found["sources"] == ["abidjan.net", "fratmat"] and found["n_sources"] == 2 and found["size"] == 2
    assert client.get("/v1/stories", params={"q": "khaya"}).json()["stories"][0]["n_sources"] == 1


def test_search_combines_with_the_other_filters(searchable):
    client, story = searchable
    ivoire, arabic, khaya, tomato = story["s1"], story["s3"], story["s4"], story["s5"]
    assert _search(client, q="a", lang="fr") == ([story["s6"], tomato, khaya, ivoire], 4)
    assert _search(client, q="a", source="le360") == ([tomato, khaya], 2)
    assert _search(client, q="a", source="le360", since="2026-03-05T00:00:00Z") == ([tomato], 1)
    assert _search(client, q="a", since="2026-03-04T00:00:00Z", until="2026-03-05T12:00:00Z") == ([tomato, khaya], 2)
    assert _search(client, q="le", until="2026-03-03T00:00:00Z") == ([ivoire], 1)
    assert _search(client, q="المغرب", lang="ar") == ([arabic], 1) and _search(client, q="المغرب", lang="fr") == ([], 0)
    assert _search(client, q="le", unassigned="true") == ([khaya, ivoire], 2)  # no refit yet: no topic
    assert _search(client, q="le", topic_id=1) == ([], 0)
    everything, total = _search(client)
    assert total == len(SEARCHABLE) - 1 and _search(client, q="   ") == (everything, total)


def test_search_bad_input_is_422_naming_q(searchable):
    client, _ = searchable
    for q, says in (("x" * 201, "200 characters"), (" ".join(["mot"] * 9), "at most 8"), ("a\x00b", "NUL")):
        r = client.get("/v1/stories", params={"q": q})
        assert r.status_code == 422, (q[:20], r.text)
        (err,) = r.json()["detail"]
        assert err["loc"] == ["query", "q"] and says in err["msg"], err
    assert client.get("/v1/stories", params={"q": "x" * 200}).status_code == 200
    assert client.get("/v1/stories", params={"q": " ".join(["mot"] * 8)}).status_code == 200
    for bad in ("abc", "1.5", "-1", str(2**63)):
        r = client.get("/v1/stories", params={"topic_id": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "topic_id"], (bad, r.text)
    assert client.get("/v1/stories", params={"unassigned": "maybe"}).status_code == 422
    # the limits are in the schema, for clients and fuzzers
    params = {p["name"]: p for p in client.app.openapi()["paths"]["/v1/stories"]["get"]["parameters"]}
    assert params["q"]["schema"]["anyOf"][0]["maxLength"] == 200 and "8 words" in params["q"]["description"]
