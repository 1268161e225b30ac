"""Editors' corrections over HTTP: merge, move (split), "not the same story", undo, the list, and the
refusals; ids stay stable, listings and ETags follow, and corrections stick for later headlines."""

from __future__ import annotations

import threading

import pytest

KEY = {"X-API-Key": "k", "X-Editor": "Amina"}
#: verbatim repeats always join their story, whatever the model: stories of known sizes
A = "Le Maroc signe un accord gazier historique avec le Nigeria à Rabat"
B = "Inondations à Tétouan : des routes coupées après des pluies record"
C = "La Bourse de Casablanca termine la semaine en hausse de 2 %"


@pytest.fixture()
def c(make_client):
    return make_client(api_key="k", refit_every_seconds=3600.0, refit_every_stories=100_000)


def _ingest(c, items):
    r = c.post("/v1/headlines", json={"headlines": items}, headers=KEY)
    assert r.status_code == 200, r.text
    return r.json()["results"]


@pytest.fixture()
def stories(c):
    res = _ingest(
        c,
        [
            {"title": A, "source": "le360", "lang": "fr"},
            {"title": A, "source": "hespress", "lang": "fr"},
            {"title": B, "source": "le360", "lang": "fr"},
            {"title": C, "source": "medias24", "lang": "fr"},
        ],
    )
    a, b, cc = res[0]["story_id"], res[2]["story_id"], res[3]["story_id"]
    assert res[1]["story_id"] == a and len({a, b, cc}) == 3
    return {"a": a, "b": b, "c": cc, "headlines": [r["headline_id"] for r in res]}


def _size(c, sid):
    r = c.get(f"/v1/stories/{sid}", follow_redirects=False)
    return r.json()["size"] if r.status_code == 200 else r.status_code


def test_merge_keeps_the_id_answering_and_listings_follow_and_undo_restores(c, stories):
    a, b = stories["a"], stories["b"]
    etag = c.get("/v1/clusters").headers["etag"]
    total = c.get("/v1/stories").json()["total"]
    r = c.post("/v1/corrections/merge", json={"story_id": b, "into": a}, headers=KEY)
    assert r.status_code == 201, r.text
    merge = r.json()
    assert merge["kind"] == "merge" and merge["actor"] == "Amina" and merge["request"] == {"story_id": b, "into": a}
    gone = c.get(f"/v1/stories/{b}", follow_redirects=False)
    assert (
        gone.status_code == 307 and gone.json()["merged_into"] == a and gone.headers["location"] == f"/v1/stories/{a}"
    )
    assert _size(c, a) == 3
    assert c.get("/v1/stories").json()["total"] == total - 1
    assert b not in {s["id"] for s in c.get("/v1/stories").json()["stories"]}
    assert c.get("/v1/clusters").headers["etag"] != etag
    # undo: the story and its headline are back, under the same id
    r = c.post(f"/v1/corrections/{merge['id']}/undo", headers=KEY)
    assert r.status_code == 200 and r.json()["undone_by"] == "Amina" and r.json()["undone_at"]
    assert _size(c, b) == 1 and _size(c, a) == 2
    assert c.get("/v1/stories").json()["total"] == total
    again = c.post(f"/v1/corrections/{merge['id']}/undo", headers=KEY)
    assert again.status_code == 409 and "already undone" in again.json()["detail"]


def test_a_headline_moved_out_stays_out_for_its_later_repeats(c, stories):
    a, moved = stories["a"], stories["headlines"][1]
    r = c.post("/v1/corrections/move", json={"headline_ids": [moved], "to_story_id": None}, headers=KEY)
    assert r.status_code == 201, r.text
    new = r.json()["effect"]["opened"]
    assert new not in (a, stories["b"], stories["c"]) and r.json()["effect"]["moved"] == {str(moved): a}
    assert _size(c, a) == 1 and _size(c, new) == 1
    assert [h["headline_id"] for h in c.get(f"/v1/stories/{new}").json()["headlines"]] == [moved]
    # moving it back into its first story, then undoing that: back in the new one
    back = c.post("/v1/corrections/move", json={"headline_ids": [moved], "to_story_id": a}, headers=KEY).json()
    assert _size(c, new) == 404  # emptied: out of sight
    assert c.post(f"/v1/corrections/{back['id']}/undo", headers=KEY).status_code == 200
    assert c.get(f"/v1/stories/{new}").json()["headlines"][0]["headline_id"] == moved


def test_later_versions_follow_the_editor_not_the_story_they_were_split_from(c, stories):
    a = stories["a"]
    both = stories["headlines"][:2]
    # matching has seen these headlines in story a (its cache holds that); the editor splits them out
    assert c.post("/v1/dedup/check", json={"title": A}).json()["story_id"] == a
    r = c.post("/v1/corrections/move", json={"headline_ids": both, "to_story_id": None}, headers=KEY)
    new = r.json()["effect"]["opened"]
    assert _size(c, a) == 404 and _size(c, new) == 2
    assert c.post("/v1/dedup/check", json={"title": A}).json()["story_id"] == new
    rewrite = A.replace("historique ", "")
    assert c.post("/v1/dedup/check", json={"title": rewrite}).json()["story_id"] in (new, None)
    later = _ingest(
        c, [{"title": A, "source": "snrt", "lang": "fr"}, {"title": rewrite, "source": "snrt", "lang": "fr"}]
    )
    assert later[0]["story_id"] == new and later[1]["story_id"] != a


def test_stories_declared_different_are_never_merged(c, stories):
    a, cc = stories["a"], stories["c"]
    r = c.post("/v1/corrections/apart", json={"story_ids": [cc, a]}, headers=KEY)
    assert r.status_code == 201 and r.json()["request"] == {"story_ids": sorted((a, cc))}
    refused = c.post("/v1/corrections/merge", json={"story_id": cc, "into": a}, headers=KEY)
    assert refused.status_code == 409 and "not the same story" in refused.json()["detail"]
    assert c.post("/v1/corrections/apart", json={"story_ids": [a, cc]}, headers=KEY).status_code == 409
    assert c.post(f"/v1/corrections/{r.json()['id']}/undo", headers=KEY).status_code == 200
    assert c.post("/v1/corrections/merge", json={"story_id": cc, "into": a}, headers=KEY).status_code == 201


def test_the_list_is_newest_first_with_who_and_when(c, stories):
    c.post("/v1/corrections/apart", json={"story_ids": [stories["a"], stories["b"]]}, headers=KEY)
    c.post("/v1/corrections/merge", json={"story_id": stories["c"], "into": stories["a"]}, headers={"X-API-Key": "k"})
    body = c.get("/v1/corrections").json()
    assert body["total"] == 2 and [x["kind"] for x in body["corrections"]] == ["merge", "apart"]
    assert body["corrections"][0]["actor"].startswith("key:") and body["corrections"][1]["actor"] == "Amina"
    assert body["corrections"][0]["at"].endswith("Z")
    assert c.get("/v1/corrections?limit=1&offset=1").json()["corrections"][0]["kind"] == "apart"


@pytest.mark.parametrize(
    "path, body, status, words",
    [
        ("merge", {"story_id": "a", "into": "a"}, 422, "into itself"),
        ("merge", {"story_id": 987654, "into": "a"}, 404, "no story 987654"),
        ("merge", {"story_id": "a", "into": 987654}, 404, "no story 987654"),
        ("move", {"headline_ids": [987654], "to_story_id": "a"}, 404, "no headline 987654"),
        ("move", {"headline_ids": [], "to_story_id": "a"}, 422, "headline_ids"),
        ("move", {"headline_ids": ["h0"], "to_story_id": "a"}, 422, "already in story"),
        ("move", {"headline_ids": ["h0"], "to_story_id": 987654}, 404, "no story 987654"),
        ("apart", {"story_ids": ["a", "a"]}, 422, "apart from itself"),
        ("apart", {"story_ids": ["a"]}, 422, "story_ids"),
        ("merge", {"story_id": "a", "into": "b", "by": "me"}, 422, "by"),
    ],
)
def test_bad_corrections_get_a_clear_4xx(c, stories, path, body, status, words):
    def fill(v):
        if isinstance(v, list):
            return [fill(x) for x in v]
        if v in ("a", "b", "c"):
            return stories[v]
        if isinstance(v, str) and v.startswith("h"):
            return stories["headlines"][int(v[1:])]
        return v

    r = c.post(f"/v1/corrections/{path}", json={k: fill(v) for k, v in body.items()}, headers=KEY)
    assert r.status_code == status, r.text
    assert words in r.text


def test_a_merged_story_takes_no_more_corrections_and_unknown_corrections_are_404(c, stories):
    a, b, cc = stories["a"], stories["b"], stories["c"]
    assert c.post("/v1/corrections/merge", json={"story_id": b, "into": a}, headers=KEY).status_code == 201
    for path, body in (
        ("merge", {"story_id": cc, "into": b}),
        ("move", {"headline_ids": [stories["headlines"][3]], "to_story_id": b}),
    ):
        r = c.post(f"/v1/corrections/{path}", json=body, headers=KEY)
        assert r.status_code == 409 and f"merged into story {a}" in r.json()["detail"]
    assert c.post("/v1/corrections/424242/undo", headers=KEY).status_code == 404


def test_corrections_need_the_key(make_client):
    c = make_client(api_key="k")
    assert c.post("/v1/corrections/apart", json={"story_ids": [1, 2]}).status_code == 401
    assert c.post("/v1/corrections/apart", json={"story_ids": [1, 2]}, headers={"X-API-Key": "x"}).status_code == 401
    keyless = make_client()
    r = keyless.post("/v1/corrections/apart", json={"story_ids": [1, 2]})
    assert r.status_code == 403 and "TICKER_API_KEY" in r.json()["detail"]


def test_two_editors_merging_two_stories_into_each_other_at_once_leave_one_story(c, stories):
    a, b = stories["a"], stories["b"]
    barrier, codes = threading.Barrier(2), []

    def merge(source, target):
        barrier.wait()
        codes.append(
            c.post("/v1/corrections/merge", json={"story_id": source, "into": target}, headers=KEY).status_code
        )

    threads = [threading.Thread(target=merge, args=pair) for pair in ((a, b), (b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(codes) == [201, 409]
    sizes = sorted(s for s in (_size(c, a), _size(c, b)))
    assert sizes == [3, 307]  # one story holds all three headlines, the other answers with merged_into
    assert c.get("/v1/corrections").json()["total"] == 1
