"""Ingestion through the public HTTP API: batches, raw captures, idempotency and every bad input."""

from __future__ import annotations

import json

import pytest
from conftest import SHARED
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

AID = "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes"


def post(client, headlines, **kw):
    return client.post("/v1/headlines", json={"headlines": headlines}, **kw)


def test_batch_results_in_order_with_lang_and_story(client):
    r = post(
        client,
        [
            {"title": AID, "source": "a", "id": "1"},
            {
                "title": "Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario",
                "source": "b",
            },
            {"title": AID, "source": "c", "id": "9"},
        ],
    )
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert [x["lang"] for x in res] == ["fr", "es", "fr"]
    assert len({x["headline_id"] for x in res}) == 3
    assert res[0]["duplicate"] is False and res[0]["match"] is None
    assert res[2]["duplicate"] is True and res[2]["match"] == "exact"
    assert res[2]["story_id"] == res[0]["story_id"] != res[1]["story_id"]


def test_client_lang_wins_over_detection(client):
    r = post(client, [{"title": "Le Maroc et la CAF", "lang": "es"}])
    assert r.json()["results"][0]["lang"] == "es"


def test_same_source_and_id_is_idempotent(client):
    item = {"title": "Les prévisions du samedi 21 juin", "source": "le360", "id": 42}
    first = post(client, [item]).json()["results"][0]
    again = post(client, [item, item]).json()["results"]
    assert [a["headline_id"] for a in again] == [first["headline_id"]] * 2
    assert all(a["idempotent_replay"] for a in again)
    assert first["idempotent_replay"] is False
    story = client.get(f"/v1/stories/{first['story_id']}").json()
    assert len(story["headlines"]) == 1
    # the same id from another source is another headline
    other = post(client, [{**item, "source": "hespress"}]).json()["results"][0]
    assert other["headline_id"] != first["headline_id"] and other["idempotent_replay"] is False


def test_ticker_capture_yields_gold_headlines(client, seed_gold):
    seeds = SHARED / "seeds"
    titles: list[str] = []
    for path in sorted(seeds.glob("*.txt")):
        r = client.post(
            f"/v1/ticker?source={path.stem[:3]}&published_at=2025-06-21T10:00:00Z",
            content=path.read_bytes(),
            headers={"Content-Type": "text/plain; charset=utf-8"},
        )
        assert r.status_code == 200, r.text
        for x in r.json()["results"]:
            h = client.get(f"/v1/headlines/{x['headline_id']}").json()
            assert h["source"] == path.stem[:3] and h["published_at"] == "2025-06-21T10:00:00Z"
            titles.append(h["title"])
    # The ticker files give the gold ticker headlines in order, each capture its article title.
    ticker = [t for t in titles if t in {g["title"] for g in seed_gold if g["position"] >= 0}]
    assert ticker == [g["title"] for g in seed_gold if g["position"] >= 0]
    assert sorted(titles) == sorted(g["title"] for g in seed_gold)
    assert not any("Merci d'avoir" in t or "Cliquez ici" in t for t in titles)


def test_ticker_plain_newlines_and_pipes(client):
    body = "Premier titre sur le Maroc | Second titre sur la CAF\nTroisième titre sur la météo"
    r = client.post("/v1/ticker", content=body.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert len(r.json()["results"]) == 3


@pytest.mark.parametrize(
    "payload, where",
    [
        ({"headlines": [{"title": "   "}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": [{"title": "ok title"}, {"title": ""}]}, ["body", "headlines", 1, "title"]),
        ({"headlines": [{"title": "x" * 1001}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": [{"title": "ok", "published_at": "not a date"}]}, ["body", "headlines", 0, "published_at"]),
        (
            {"headlines": [{"title": "ok", "published_at": "2999-01-01T00:00:00Z"}]},
            ["body", "headlines", 0, "published_at"],
        ),
        ({"headlines": [{"title": "ok", "colour": "red"}]}, ["body", "headlines", 0, "colour"]),
        ({"headlines": [{"title": 12}]}, ["body", "headlines", 0, "title"]),
        ({"headlines": []}, ["body", "headlines"]),
        ({"items": []}, ["body", "headlines"]),
        ({"headlines": [{"title": "nul\u0000byte"}]}, ["body", "headlines", 0, "title"]),
    ],
)
def test_bad_items_get_422_naming_item_and_field(client, payload, where):
    r = client.post("/v1/headlines", json=payload)
    assert r.status_code == 422, r.text
    locs = [e["loc"] for e in r.json()["detail"]]
    assert where in locs, locs
    assert all(e["msg"] for e in r.json()["detail"])


def test_bad_batch_stores_nothing(client):
    r = post(client, [{"title": "Un bon titre sur la CAF"}, {"title": ""}])
    assert r.status_code == 422
    assert client.get("/v1/stories").json()["total"] == 0


def test_batch_over_limit(make_client):
    c = make_client(max_batch_size=3)
    r = post(c, [{"title": f"titre numéro {i}"} for i in range(4)])
    assert r.status_code == 422 and "limit is 3" in r.text


def test_invalid_json_wrong_type_and_utf8(client):
    r = client.post("/v1/headlines", content=b'{"headlines": [', headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"
    r = client.post("/v1/headlines", content=b"title=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    r = client.post(
        "/v1/headlines", content=b'{"headlines": [{"title": "\xff\xfe"}]}', headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and "UTF-8" in r.json()["detail"]
    r = client.post("/v1/ticker", content=b"x", headers={"Content-Type": "application/json"})
    assert r.status_code == 415
    r = client.post("/v1/ticker", content=b"   \n  ", headers={"Content-Type": "text/plain"})
    assert r.status_code == 422 and "no headline" in r.text


def test_body_over_limit_is_413(make_client):
    c = make_client(max_body_bytes=10_000)
    big = json.dumps({"headlines": [{"title": "y" * 900} for _ in range(20)]})
    r = c.post("/v1/headlines", content=big.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "10000" in r.json()["detail"]


def test_ops_endpoints(client):
    assert client.get("/livez").json()["status"] == "ok"
    assert client.get("/readyz").status_code == 200
    post(client, [{"title": AID}])
    r = client.get("/metrics")
    assert r.headers["content-type"] == CONTENT_TYPE_LATEST
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    assert samples[("ticker_headlines_ingested_total", ())] == 1
    assert samples[("ticker_store_headlines", ())] == 1
    assert samples[("ticker_request_duration_seconds_count", (("method", "POST"), ("route", "/v1/headlines")))] == 1


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert "/v1/headlines" in spec["paths"] and "/v1/dedup/check" in spec["paths"]
