"""Topics through the HTTP API: refit, the clusters view, ETags, stable ids across refits, events."""

from __future__ import annotations

import pytest
from conftest import DATASETS, ROOT, read_jsonl


@pytest.fixture
def topical(make_client):
    from app.sample import shifted_batch

    c = make_client(refit_every_seconds=3600.0, refit_every_stories=100_000, api_key="k")
    auth = {"X-API-Key": "k"}
    r = c.post("/v1/headlines", json=shifted_batch(ROOT / "sample_data" / "batch.json"), headers=auth)
    assert r.status_code == 200
    # more material so that topics are dense enough: gnews_fr titles (French news, several sections)
    extra = [
        {"title": row["title"], "lang": "fr", "source": "gnews", "id": row["id"]}
        for row in read_jsonl(DATASETS / "gnews_fr" / "dev.jsonl")[:200]
    ]
    assert c.post("/v1/headlines", json={"headlines": extra}, headers=auth).status_code == 200
    r = c.post("/v1/clusters/refit", headers=auth)
    assert r.status_code == 200, r.text
    return c, auth, r.json()


def test_refit_needs_the_key_and_reports(topical):
    c, auth, report = topical
    assert report["n_topics"] >= 3 and 0.0 <= report["noise_fraction"] < 0.6
    assert report["n_stories"] > 100
    assert c.post("/v1/clusters/refit").status_code == 401


def test_clusters_view_and_etag(topical):
    c, _, _ = topical
    r = c.get("/v1/clusters?stories_per_topic=3")
    assert r.status_code == 200
    body = r.json()
    assert body["topics"], body
    for t in body["topics"]:
        assert t["label"] and isinstance(t["keywords"], list) and 1 <= len(t["stories"]) <= 3
        assert t["size"] >= len(t["stories"]) and t["languages"]
        assert all(s["topic_id"] == t["id"] for s in t["stories"])
        # keywords are content words, not stop words
        assert not {"le", "la", "de", "des", "les", "the", "of"} & {k.lower() for k in t["keywords"]}
    etag = r.headers["ETag"]
    again = c.get("/v1/clusters?stories_per_topic=3", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    one = c.get(f"/v1/clusters/{body['topics'][0]['id']}").json()
    assert one["id"] == body["topics"][0]["id"]
    assert c.get("/v1/clusters/999999").status_code == 404
    # a new headline changes the version
    c.post(
        "/v1/headlines",
        json={"headlines": [{"title": "Nouvelle alerte météo sur Rabat ce lundi"}]},
        headers={"X-API-Key": "k"},
    )
    assert c.get("/v1/clusters?stories_per_topic=3", headers={"If-None-Match": etag}).status_code == 200


def test_topic_ids_survive_a_refit_and_events_are_recorded(topical):
    c, auth, _ = topical
    before = {t["id"]: t["size"] for t in c.get("/v1/clusters").json()["topics"]}
    members = {}
    for tid in before:
        members[tid] = {s["id"] for s in c.get(f"/v1/clusters/{tid}?stories=500").json()["stories"]}
    extra = [
        {"title": row["title"], "lang": "fr", "source": "gnews", "id": row["id"]}
        for row in read_jsonl(DATASETS / "gnews_fr" / "dev.jsonl")[200:230]
    ]
    c.post("/v1/headlines", json={"headlines": extra}, headers=auth)
    assert c.post("/v1/clusters/refit", headers=auth).status_code == 200
    after = {}
    for t in c.get("/v1/clusters").json()["topics"]:
        after[t["id"]] = {s["id"] for s in c.get(f"/v1/clusters/{t['id']}?stories=500").json()["stories"]}
    # every topic that kept most of its stories kept its id
    for tid, old in members.items():
        best = max(after.items(), key=lambda kv: len(kv[1] & old), default=(None, set()))
        if len(best[1] & old) > len(old) / 2 and len(best[1] & old) > len(best[1]) / 2:
            assert best[0] == tid, (tid, best[0])
    kept = sum(1 for tid in members if tid in after)
    assert kept >= len(members) // 2
    events = c.get("/v1/clusters/events").json()["events"]
    assert events and {e["type"] for e in events} <= {"new", "merge", "split", "retired"}
    assert all(e["at"].endswith("Z") for e in events)


def test_the_sample_data_topics_carry_distinct_names(make_client):
    """What `make run` shows first: one name per topic, never two under one name (the terrorism articles'
    topic used to share "Sahara & diplomacy" with the Sahara topic)."""
    from app.sample import shifted_batch

    c = make_client(refit_every_seconds=3600.0, refit_every_stories=100_000, api_key="k")
    auth = {"X-API-Key": "k"}
    assert (
        c.post("/v1/headlines", json=shifted_batch(ROOT / "sample_data" / "batch.json"), headers=auth).status_code
        == 200
    )
    assert c.post("/v1/clusters/refit", headers=auth).status_code == 200
    topics = c.get("/v1/clusters?stories_per_topic=50").json()["topics"]
    named = [t["label"] for t in topics]
    assert len(named) >= 5 and len({n.casefold() for n in named}) == len(named), named
    topic_of = {s["canonical"]["title"]: t for t in topics for s in t["stories"]}
    terrorism = [title for title in topic_of if "terrorisme" in title]
    # counter-terrorism cooperation between states: a security or an international subject, not the Sahara
    assert terrorism and all(topic_of[title]["category"] in {"security", "international"} for title in terrorism)
    sahara = topic_of["Mauritania defends Lebriga closure amid Polisario pressure"]
    assert sahara["label"] == "Sahara & diplomacy" and sahara["category"] == "sahara"
    # a topic's name is its category's only when it is that category's most confident topic
    for category in {t["category"] for t in topics}:
        mine = [t for t in topics if t["category"] == category]
        assert sum(" · " not in t["label"] for t in mine) <= 1


def _count_store_calls(store) -> list[str]:
    calls: list[str] = []
    for name in (
        "list_stories",
        "topic_story_pages",
        "story_briefs",
        "recent_counts",
        "topics",
        "topic_stats",
        "story_headlines",
        "stories_by_ids",
        "story",
        "headlines",
    ):
        real = getattr(store, name)
        setattr(store, name, (lambda n, f: lambda *a, **k: calls.append(n) or f(*a, **k))(name, real))
    return calls


def test_clusters_ask_the_store_as_often_for_many_topics_as_for_one(make_client):
    """The view's queries do not grow with the topics (it asked 4-5 per topic); a second poll of an unchanged
    store (no If-None-Match) is the body kept for its ETag, with no query but the data version."""
    from app.sample import shifted_batch

    c = make_client(refit_every_seconds=3600.0, refit_every_stories=100_000, api_key="k")
    auth = {"X-API-Key": "k"}
    assert (
        c.post("/v1/headlines", json=shifted_batch(ROOT / "sample_data" / "batch.json"), headers=auth).status_code
        == 200
    )
    assert c.post("/v1/clusters/refit", headers=auth).status_code == 200
    store = c.app.state.ticker.store
    calls = _count_store_calls(store)
    first = c.get("/v1/clusters")
    body = first.json()
    assert len(body["topics"]) >= 5
    many = list(calls)
    calls.clear()
    again = c.get("/v1/clusters")
    assert again.content == first.content and again.headers["ETag"] == first.headers["ETag"] and calls == []
    c.app.state.ticker.extra.pop("clusters_body")  # forget the kept body: build again, for one topic
    store.topics = (lambda f: lambda *a, **k: f(*a, **k)[:1])(store.topics)
    assert len(c.get("/v1/clusters").json()["topics"]) == 1
    assert len(many) == len(calls) <= 10, (many, calls)


def _all_pages(c, **params) -> tuple[list[dict], list[int]]:
    """Every story of a listing, a page of 4 at a time, and the totals each page gave."""
    stories, totals, offset = [], [], 0
    while True:
        page = c.get("/v1/stories", params={**params, "limit": 4, "offset": offset}).json()
        stories += page["stories"]
        totals.append(page["total"])
        if not page["stories"]:
            return stories, totals
        offset += 4


def test_topics_count_their_stories_and_page_through_them(topical):
    """Each topic's `n_stories` is what GET /v1/stories?topic_id= pages through, newest first, starting with
    the stories the clusters view shows; `unassigned_total` is the unassigned listing's total."""
    from app.api.models import ClustersOut, StoryOut, TopicOut

    c, _, _ = topical
    # stories move between topics between refits (online assignment, editors): n_stories follows, size does not
    store = c.app.state.ticker.store
    first, second = sorted(store.topic_members().items(), key=lambda kv: -len(kv[1]))[:2]
    moved = sorted(first[1])[:2]
    for sid in moved:
        store.set_story_topic(sid, second[0])
    body = c.get("/v1/clusters?stories_per_topic=3&unassigned_limit=2").json()
    ClustersOut.model_validate(body)  # the plain-dict body has the documented shape
    by_id = {t["id"]: t for t in body["topics"]}
    assert by_id[first[0]]["n_stories"] == len(first[1]) - 2 == by_id[first[0]]["size"] - 2
    assert by_id[second[0]]["n_stories"] == len(second[1]) + 2 == by_id[second[0]]["size"] + 2
    assert body["topics"] and set(body["topics"][0]) == set(TopicOut.model_fields)
    assert set(body["topics"][0]["stories"][0]) == set(StoryOut.model_fields)
    everything = c.get("/v1/stories", params={"limit": 1}).json()["total"]
    counted = 0
    for t in body["topics"]:
        assert t["category"] is None or isinstance(t["category"], str)
        stories, totals = _all_pages(c, topic_id=t["id"])
        ids = [s["id"] for s in stories]
        assert len(ids) == len(set(ids)) == t["n_stories"] and set(totals) == {t["n_stories"]}, t["id"]
        assert all(s["topic_id"] == t["id"] for s in stories)
        assert [s["last_seen"] for s in stories] == sorted((s["last_seen"] for s in stories), reverse=True)
        assert [s["id"] for s in t["stories"]] == ids[:3]  # the card's stories are the list's first page
        assert stories[:3] == t["stories"]  # shown alike in both
        assert sum(s["size"] for s in stories) == t["n_headlines"]
        counted += t["n_stories"]
    assert counted >= 20 and any(t["n_stories"] > 3 for t in body["topics"])  # some topics page
    unassigned, totals = _all_pages(c, unassigned="true")
    assert len(unassigned) == body["unassigned_total"] and set(totals) == {body["unassigned_total"]}
    assert all(s["topic_id"] is None for s in unassigned)
    assert [s["id"] for s in body["unassigned"]] == [s["id"] for s in unassigned[:2]] and len(unassigned) > 2
    assert counted + body["unassigned_total"] == everything  # every story is in one topic, or in none
    for s in [s for t in body["topics"] for s in t["stories"]] + body["unassigned"]:
        assert s["n_sources"] == len(set(s["sources"])) >= 1
    # one topic alone says the same
    t = body["topics"][0]
    one = c.get(f"/v1/clusters/{t['id']}?stories=3").json()
    assert {k: one[k] for k in ("n_stories", "category", "label", "stories")} == {
        k: t[k] for k in ("n_stories", "category", "label", "stories")
    }
    # an unknown topic has no story; a topic id that is not a number is refused
    assert c.get("/v1/stories?topic_id=999999").json() == {"stories": [], "total": 0, "limit": 50, "offset": 0}
    r = c.get("/v1/stories?topic_id=sport")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "topic_id"]


def test_a_topics_category_is_served_with_its_label(topical):
    from dataclasses import replace

    c, _, _ = topical
    store = c.app.state.ticker.store
    topics = store.topics()
    members = store.topic_members()
    # as the refit stores it (another part fills it in); what the API shows is what the store holds
    store.replace_topics(
        [replace(t, category="sport" if i == 0 else None) for i, t in enumerate(topics)],
        {sid: t for t, sids in members.items() for sid in sids},
        [],
    )
    body = c.get("/v1/clusters").json()
    by_id = {t["id"]: t for t in body["topics"]}
    assert by_id[topics[0].id]["category"] == "sport" and by_id[topics[0].id]["label"] == topics[0].label
    assert all(by_id[t.id]["category"] is None for t in topics[1:] if t.id in by_id)
    assert c.get(f"/v1/clusters/{topics[0].id}").json()["category"] == "sport"


def test_keywords_come_in_the_readers_language_first(topical):
    from dataclasses import replace

    c, _, _ = topical
    store = c.app.state.ticker.store
    topics = store.topics()
    members = store.topic_members()
    words, langs = ["gobierno", "gouvernement", "Sánchez", "reforma", "réforme"], ["es", "fr", None, "es", "fr"]
    store.replace_topics(
        [replace(t, keywords=words, keyword_langs=langs) if i == 0 else t for i, t in enumerate(topics)],
        {sid: t for t, sids in members.items() for sid in sids},
        [],
    )

    def shown(path: str, **headers: str) -> tuple[list[str], list]:
        body = c.get(path, headers=headers).json()
        t = next(t for t in body.get("topics", [body]) if t["id"] == topics[0].id)
        return t["keywords"], t["keyword_langs"]

    assert shown("/v1/clusters?lang=fr")[0] == ["gouvernement", "Sánchez", "réforme", "gobierno", "reforma"]
    assert shown("/v1/clusters?lang=es") == (
        ["gobierno", "Sánchez", "reforma", "gouvernement", "réforme"],
        ["es", None, "es", "fr", "fr"],
    )
    # no lang: the browser's Accept-Language; each answer has its own ETag
    assert shown("/v1/clusters", **{"Accept-Language": "fr-MA,fr;q=0.9,en;q=0.5"})[0][0] == "gouvernement"
    assert c.get("/v1/clusters?lang=fr").headers["ETag"] != c.get("/v1/clusters?lang=es").headers["ETag"]
    assert shown(f"/v1/clusters/{topics[0].id}?lang=es")[0][0] == "gobierno"
    assert c.get("/v1/clusters?lang=<b>").status_code == 422


def test_the_next_view_after_a_write_shows_it_and_the_etag_moves(topical, monkeypatch):
    """The body kept for an ETag is never served after a write: a new story is in the very next view."""
    import app.api.clusters as clusters_api

    c, auth, _ = topical
    first = c.get("/v1/clusters")
    etag = first.headers["ETag"]
    assert c.get("/v1/clusters", headers={"If-None-Match": etag}).status_code == 304
    assert c.get("/v1/clusters").content == first.content  # kept
    before = first.json()
    posted = [
        {
            "title": "Un dromadaire élu maire de Tataouine, une première mondiale",
            "source": f"s{i}",
            "id": f"dromadaire-{i}",
        }
        for i in range(3)
    ]
    r = c.post("/v1/headlines", json={"headlines": posted}, headers=auth).json()["results"]
    sid = r[0]["story_id"]
    assert {x["story_id"] for x in r} == {sid}
    after = c.get("/v1/clusters")
    assert after.headers["ETag"] != etag and after.json()["version"] != before["version"]
    body = after.json()
    shown = [s for t in body["topics"] for s in t["stories"]] + body["unassigned"]
    story = next(s for s in shown if s["id"] == sid)
    assert story["size"] == 3 and story["n_sources"] == 3 and story["recent_count"] == 3
    n_before = before["unassigned_total"] + sum(t["n_stories"] for t in before["topics"])
    assert body["unassigned_total"] + sum(t["n_stories"] for t in body["topics"]) == n_before + 1
    assert c.get("/v1/clusters", headers={"If-None-Match": after.headers["ETag"]}).status_code == 304
    # the minute is part of the ETag: recent counts move with the clock
    real = clusters_api.time.time
    monkeypatch.setattr(clusters_api.time, "time", lambda: real() + 60.0)
    later = c.get("/v1/clusters", headers={"If-None-Match": after.headers["ETag"]})
    assert later.status_code == 200 and later.headers["ETag"] != after.headers["ETag"]


def test_between_refits_a_story_joins_only_a_topic_it_fits(make_client):
    """Online assignment: a new Polisario headline joins the Sahara topic at once; a story like no topic stays
    "new, not yet grouped" (unassigned) until a refit looks at it, instead of going to the nearest topic."""
    from app.sample import shifted_batch

    c = make_client(refit_every_seconds=3600.0, refit_every_stories=100_000, api_key="k")
    auth = {"X-API-Key": "k"}
    assert (
        c.post("/v1/headlines", json=shifted_batch(ROOT / "sample_data" / "batch.json"), headers=auth).status_code
        == 200
    )
    assert c.post("/v1/clusters/refit", headers=auth).status_code == 200
    sahara = next(t for t in c.get("/v1/clusters").json()["topics"] if t["category"] == "sahara")
    posted = [
        {
            "title": "Sahara : le Polisario rejette le plan d'autonomie, le Maroc saisit l'ONU et la MINURSO",
            "lang": "fr",
            "source": "s1",
        },
        {"title": "Un dromadaire élu maire de Tataouine, une première mondiale", "lang": "fr", "source": "s2"},
    ]
    r = c.post("/v1/headlines", json={"headlines": posted}, headers=auth)
    assert r.status_code == 200
    fits, stranger = (item["story_id"] for item in r.json()["results"])
    assert c.get(f"/v1/stories/{fits}").json()["topic_id"] == sahara["id"]
    assert c.get(f"/v1/stories/{stranger}").json()["topic_id"] is None
    body = c.get("/v1/clusters").json()
    assert stranger in [s["id"] for s in body["unassigned"]]
    assert stranger in [s["id"] for s in c.get("/v1/stories?unassigned=true&limit=500").json()["stories"]]
    assert next(t for t in body["topics"] if t["id"] == sahara["id"])["n_stories"] == sahara["n_stories"] + 1
