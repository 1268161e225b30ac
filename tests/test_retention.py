"""Retention: stories forgotten TICKER_RETENTION_DAYS after their last headline, through the HTTP API
and the background thread; the cutoff rule as a unit."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from app.retention import retention_cutoff

DAY = 86400.0


def _iso(days_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat(timespec="seconds").replace("+00:00", "Z")


def test_cutoff_counts_back_from_the_newest_story_or_now_whichever_is_earlier():
    assert retention_cutoff(1000 * DAY, 1000 * DAY, 30) == 970 * DAY
    # a replayed archive (newest story long ago) is measured from its own newest story
    assert retention_cutoff(500 * DAY, 1000 * DAY, 30) == 470 * DAY
    # a story dated in the future does not move the cutoff past now
    assert retention_cutoff(2000 * DAY, 1000 * DAY, 30) == 970 * DAY
    assert retention_cutoff(None, 1000 * DAY, 30) is None
    assert retention_cutoff(1000 * DAY, 1000 * DAY, 0) is None


OLD = [
    {"title": "Séisme de magnitude 4,1 ressenti à Al Hoceima", "source": "a", "id": "1", "published_at": _iso(30)},
    {"title": "Séisme de magnitude 4,1 ressenti à Al Hoceima", "source": "b", "id": "2", "published_at": _iso(30)},
]
NEW = [
    {
        "title": "Le Wydad s'impose face au Raja dans le derby de Casablanca",
        "source": "a",
        "id": "3",
        "published_at": _iso(0.01),
    }
]


def test_run_now_deletes_due_stories_and_says_what_it_did(make_client):
    c = make_client(retention_days=7, api_key="k")
    auth = {"X-API-Key": "k"}
    old = c.post("/v1/headlines", json={"headlines": OLD}, headers=auth).json()["results"]
    new = c.post("/v1/headlines", json={"headlines": NEW}, headers=auth).json()["results"]
    assert old[0]["story_id"] == old[1]["story_id"] and old[1]["match"] == "exact"

    assert c.post("/v1/retention/run").status_code == 401
    r = c.post("/v1/retention/run", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["stories"], body["headlines"], body["retention_days"]) == (1, 2, 7.0)
    cutoff = datetime.fromisoformat(body["cutoff"].replace("Z", "+00:00"))
    assert timedelta(days=6.9) < datetime.now(timezone.utc) - cutoff < timedelta(days=7.1)

    assert c.get(f"/v1/stories/{old[0]['story_id']}").status_code == 404
    assert c.get(f"/v1/headlines/{old[0]['headline_id']}").status_code == 404
    assert c.get(f"/v1/stories/{new[0]['story_id']}").status_code == 200
    assert c.get("/v1/stories").json()["total"] == 1
    assert "ticker_retention_deleted_headlines_total 2" in c.get("/metrics").text
    # the feed's (source, id) is free again: posting it stores it anew instead of replaying the deleted result
    again = c.post("/v1/headlines", json={"headlines": OLD[:1]}, headers=auth).json()["results"][0]
    assert again.get("idempotent_replay") is not True and again["headline_id"] != old[0]["headline_id"]
    # nothing left that is due
    assert c.post("/v1/retention/run", headers=auth).json()["stories"] == 1  # the re-posted 30-day-old headline
    assert c.post("/v1/retention/run", headers=auth).json()["stories"] == 0


def test_retention_off_by_default_and_the_endpoint_says_so(make_client):
    c = make_client()
    c.post("/v1/headlines", json={"headlines": OLD + NEW})
    r = c.post("/v1/retention/run")
    assert r.status_code == 409 and "TICKER_RETENTION_DAYS" in r.json()["detail"]
    assert c.get("/v1/stories").json()["total"] == 2


def test_the_background_thread_deletes_without_being_asked(make_client):
    c = make_client(retention_days=7, retention_every_seconds=0.2)
    old = c.post("/v1/headlines", json={"headlines": OLD + NEW}).json()["results"][0]
    deadline = time.monotonic() + 10
    while c.get(f"/v1/stories/{old['story_id']}").status_code != 404:
        assert time.monotonic() < deadline, "the retention thread did not run"
        time.sleep(0.1)
    assert c.get("/v1/stories").json()["total"] == 1
