"""PATCH /v1/feeds/{id} through the real app: the API key, the 404, every 422 naming its field (the same
checks as POST /v1/feeds), and the changed feed as the answer. What a change does to polling: the store
contract (tests/test_store_contract.py) and tests/test_feeds_poll.py (a 410-disabled feed resumed)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest

KEY = "feeds-api-key"
H = {"X-API-Key": KEY}
URL = "http://127.0.0.1:9/rss"  # never fetched: the poller is off


@pytest.fixture
def client(make_client) -> Any:
    return make_client(
        api_key=KEY,
        feeds_poll=False,
        feeds_allow_private=True,
        feeds_min_interval_seconds=10.0,
        feeds_default_interval_seconds=300.0,
    )


@pytest.fixture
def feed(client) -> dict[str, Any]:
    r = client.post("/v1/feeds", json={"url": URL, "source": "le360", "lang": "fr", "interval_seconds": 600}, headers=H)
    assert r.status_code == 201, r.text
    return r.json()


def patch(client: Any, feed_id: int, body: Any, headers: dict[str, str] | None = H) -> Any:
    return client.patch(f"/v1/feeds/{feed_id}", json=body, headers=headers)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_changing_a_feed_needs_the_key_and_an_existing_feed(client, feed):
    assert patch(client, feed["id"], {"enabled": False}, headers=None).status_code == 401
    assert patch(client, feed["id"], {"enabled": False}, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get(f"/v1/feeds/{feed['id']}").json() == feed  # nothing changed
    r = patch(client, 999_999, {"enabled": False})
    assert r.status_code == 404 and "999999" in r.json()["detail"]
    assert patch(client, 999_999, {"source": None}).status_code == 404  # (the one that reads the feed first)
    assert patch(client, -1, {"enabled": False}).status_code == 422


@pytest.mark.parametrize(
    ("body", "loc", "words"),
    [
        ({}, ["body"], "nothing to change"),
        ({"sauce": "x"}, ["body", "sauce"], ""),
        ({"enabled": False, "paused": True}, ["body", "paused"], ""),
        ({"enabled": "yes"}, ["body", "enabled"], ""),
        ({"enabled": 0}, ["body", "enabled"], ""),
        ({"enabled": None}, ["body", "enabled"], "true or false"),
        ({"interval_seconds": 1}, ["body", "interval_seconds"], "between 10 and 86400"),
        ({"interval_seconds": 10**6}, ["body", "interval_seconds"], "between 10 and 86400"),
        ({"interval_seconds": "300"}, ["body", "interval_seconds"], ""),
        ({"source": ""}, ["body", "source"], ""),
        ({"source": "x" * 201}, ["body", "source"], ""),
        ({"source": "a\u0000b"}, ["body", "source"], "NUL"),
        ({"lang": "français!"}, ["body", "lang"], ""),
        ({"lang": "fr-FR-toolong-x"}, ["body", "lang"], ""),
    ],
)
def test_a_refused_change_names_its_field_and_changes_nothing(client, feed, body, loc, words):
    r = patch(client, feed["id"], body)
    assert r.status_code == 422, r.text
    errors = r.json()["detail"]
    assert any(e["loc"] == loc and words in e["msg"] for e in errors), errors
    assert client.get(f"/v1/feeds/{feed['id']}").json() == feed


def test_a_valid_field_beside_a_refused_one_is_not_applied(client, feed):
    r = patch(client, feed["id"], {"enabled": False, "interval_seconds": 5})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "interval_seconds"]
    assert client.get(f"/v1/feeds/{feed['id']}").json() == feed  # not paused either


def test_the_answer_is_the_changed_feed(client, feed):
    fid = feed["id"]
    r = patch(client, fid, {"enabled": False})
    assert r.status_code == 200, r.text
    paused = r.json()
    assert (
        paused["enabled"],
        paused["status"],
        paused["disabled_reason"],
        paused["next_poll_at"],
        paused["paused"],
    ) == (
        False,
        "disabled",
        "paused by an operator",
        None,
        True,
    )
    assert feed["paused"] is False
    moved = ("enabled", "status", "disabled_reason", "next_poll_at", "paused")
    assert {k: v for k, v in paused.items() if k not in moved} == {k: v for k, v in feed.items() if k not in moved}
    assert client.get(f"/v1/feeds/{fid}").json() == paused
    assert patch(client, fid, {"enabled": False}).json() == paused  # the same again: nothing changes

    before = time.time()
    resumed = patch(client, fid, {"enabled": True}).json()
    assert (resumed["enabled"], resumed["status"], resumed["disabled_reason"], resumed["paused"]) == (
        True,
        "pending",
        None,
        False,
    )
    assert before - 1 <= epoch(resumed["next_poll_at"]) <= time.time() + 1  # due now

    r = patch(client, fid, {"interval_seconds": 60, "source": "  Le360 Sport ", "lang": "es"})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert (changed["interval_seconds"], changed["source"], changed["lang"], changed["url"]) == (
        60.0,
        "Le360 Sport",
        "es",
        URL,
    )
    # null, or blanks: what POST gives when the field is left out
    back = patch(client, fid, {"source": "   ", "lang": None, "interval_seconds": None}).json()
    assert (back["source"], back["lang"], back["interval_seconds"]) == ("127.0.0.1", None, 300.0)
    assert patch(client, fid, {"source": None, "lang": ""}).json()["source"] == "127.0.0.1"
    assert client.get("/v1/feeds").json()["feeds"] == [client.get(f"/v1/feeds/{fid}").json()]


def test_the_route_is_in_the_schema_with_its_errors(client):
    op = client.get("/openapi.json").json()["paths"]["/v1/feeds/{feed_id}"]["patch"]
    assert {"200", "401", "404", "422"} <= set(op["responses"])
    body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    schema = client.get("/openapi.json").json()["components"]["schemas"][body]
    assert set(schema["properties"]) == {"enabled", "interval_seconds", "source", "lang"}
    assert schema["additionalProperties"] is False and schema["minProperties"] == 1
