"""/metrics through the public route, parsed with the Prometheus client library's own parser: counters and
the request histogram move with requests, each app counts from zero, and with PROMETHEUS_MULTIPROC_DIR
several worker processes' counters are summed in one scrape."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from conftest import ROOT
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

AID = "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes"
BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf"]

#: HELP lines served before the client library: dashboards and docs read them, so they stay word for word
FORMER_HELP = {
    "ticker_feed_fetches": "Fetches of a followed feed (label feed: its id), whatever their outcome.",
    "ticker_feed_errors": "Polls of a feed that failed: no answer, an HTTP error, an unreadable or oversized body.",
    "ticker_feed_not_modified": "Fetches of a feed answered 304 Not Modified (the conditional GET worked).",
    "ticker_feed_items_seen": "Entries read in the documents fetched from a feed.",
    "ticker_feed_items_stored": "New headlines stored from a feed's entries (each entry once).",
    "ticker_feed_items_skipped": "Entries of a feed left out: no title once cleaned.",
    "ticker_request_duration_seconds": "HTTP request latency by route.",
}


def scrape(client) -> tuple[dict[str, tuple[str, str]], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """GET /metrics: each family's (type, help) by name, and every sample's value by (name, sorted labels)."""
    r = client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == CONTENT_TYPE_LATEST
    return parse(r.text)


def parse(text: str) -> tuple[dict[str, tuple[str, str]], dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    families: dict[str, tuple[str, str]] = {}
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = (family.type, family.documentation)
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, f"{key} served twice"
            samples[key] = s.value
    return families, samples


def labels(**kw: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(kw.items()))


def test_counters_and_the_histogram_move_with_requests(client):
    families, before = scrape(client)
    assert families["ticker_headlines_ingested"][0] == "counter"
    assert families["ticker_http_responses"][0] == "counter"
    assert families["ticker_request_duration_seconds"][0] == "histogram"
    for name, (kind, _) in families.items():
        assert kind in ("counter", "gauge", "histogram"), name
    for name, text in FORMER_HELP.items():
        assert families[name][1] == text
    # label-less counters are served from zero, before anything happened
    assert before[("ticker_headlines_ingested_total", ())] == 0
    assert before[("ticker_ready", ())] == 1 and before[("ticker_store_headlines", ())] == 0

    post = {"headlines": [{"title": AID, "source": "a", "id": "1"}, {"title": AID, "source": "b", "id": "2"}]}
    assert client.post("/v1/headlines", json=post).status_code == 200
    assert client.post("/v1/headlines", json=post).status_code == 200  # both replayed
    assert client.get("/v1/stories/999999").status_code == 404
    _, after = scrape(client)

    assert after[("ticker_headlines_ingested_total", ())] == 2
    assert after[("ticker_headlines_duplicate_total", ())] == 1  # the second title joins the first one's story
    assert after[("ticker_headlines_replayed_total", ())] == 2
    assert after[("ticker_store_headlines", ())] == 2 and after[("ticker_store_stories", ())] == 1
    posts = labels(code="200", route="/v1/headlines")
    assert after[("ticker_http_responses_total", posts)] == 2
    assert after[("ticker_http_responses_total", labels(code="404", route="/v1/stories/{story_id}"))] == 1
    # the first scrape is counted once it is answered: the second one sees it
    assert after[("ticker_http_responses_total", labels(code="200", route="/metrics"))] == 1

    route = {"method": "POST", "route": "/v1/headlines"}
    assert after[("ticker_request_duration_seconds_count", labels(**route))] == 2
    assert after[("ticker_request_duration_seconds_sum", labels(**route))] > 0
    buckets = [after[("ticker_request_duration_seconds_bucket", labels(**route, le=le))] for le in BUCKETS]
    assert buckets == sorted(buckets) and buckets[-1] == 2  # cumulative, +Inf holds them all
    assert ("ticker_request_duration_seconds_count", labels(**route)) not in before

    assert client.post("/v1/headlines", json={"headlines": [{"title": "Le Maroc et la CAF"}]}).status_code == 200
    _, last = scrape(client)
    assert last[("ticker_headlines_ingested_total", ())] == 3
    assert last[("ticker_http_responses_total", posts)] == 3
    assert last[("ticker_request_duration_seconds_count", labels(**route))] == 3
    assert (
        last[("ticker_request_duration_seconds_sum", labels(**route))]
        > after[("ticker_request_duration_seconds_sum", labels(**route))]
    )


def test_each_app_counts_from_zero(tmp_path):
    from fastapi.testclient import TestClient

    from app.config import load_settings
    from app.main import create_app

    # without the lifespan: /livez and /metrics need neither the store nor the encoder
    first = TestClient(create_app(load_settings(env={}, data_dir=tmp_path / "a")))
    second = TestClient(create_app(load_settings(env={}, data_dir=tmp_path / "b")))
    for _ in range(3):
        assert first.get("/livez").status_code == 200
    livez = ("ticker_http_responses_total", labels(code="200", route="/livez"))
    assert scrape(first)[1][livez] == 3
    _, other = scrape(second)
    assert livez not in other and other[("ticker_ready", ())] == 0


def test_multiprocess_mode_must_be_chosen_before_the_library_is_imported(monkeypatch, tmp_path):
    from app.api.metrics import Metrics

    # this process imported prometheus_client without the variable: its values live in memory, not in files
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(RuntimeError, match="before the process starts"):
        Metrics()


WORKER = textwrap.dedent(
    """
    import sys
    from fastapi.testclient import TestClient
    from app.config import load_settings
    from app.main import create_app

    app = create_app(load_settings(env={}, data_dir=sys.argv[1]))
    client = TestClient(app)  # no lifespan: no store, no encoder
    n = int(sys.argv[2])
    for _ in range(n):
        assert client.get("/livez").status_code == 200
    app.state.ticker.metrics.inc("ticker_headlines_ingested_total", n)
    app.state.ticker.metrics.inc("ticker_feed_fetches_total", n, feed="7")
    print("counted", flush=True)
    # both workers stay alive side by side until the test has seen each one count
    if sys.stdin.readline().strip() == "scrape":
        r = client.get("/metrics")
        assert r.status_code == 200, r.text
        sys.stdout.write(r.text)
    """
)


@pytest.mark.slow
def test_several_workers_are_summed_in_one_scrape(tmp_path):
    mp = tmp_path / "prometheus"
    mp.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp)}

    def start(n: int) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-c", WORKER, str(tmp_path / f"data-{n}"), str(n)]
        return subprocess.Popen(
            cmd, cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )

    # two "workers", as uvicorn --workers 2 would run them: each counts its own requests in its own process
    first, second = start(3), start(4)
    try:
        for w in (first, second):
            assert w.stdout is not None and w.stdout.readline() == "counted\n", w.communicate(timeout=60)[1]
        out, err = second.communicate(input="scrape\n", timeout=120)
        assert second.returncode == 0, err
    finally:
        first.communicate(input="\n", timeout=60)
        second.kill()
    assert {p.name.split("_")[0] for p in mp.iterdir()} == {"counter", "histogram"}  # the library's files

    families, samples = parse(out)
    # the scraping worker answered 4 /livez itself: the other 3 come from the other worker's files
    livez = ("ticker_http_responses_total", labels(code="200", route="/livez"))
    assert samples[livez] == 7
    get = {"method": "GET", "route": "/livez"}
    assert samples[("ticker_request_duration_seconds_count", labels(**get))] == 7
    assert samples[("ticker_request_duration_seconds_bucket", labels(**get, le="+Inf"))] == 7
    assert samples[("ticker_headlines_ingested_total", ())] == 7
    assert samples[("ticker_feed_fetches_total", labels(feed="7"))] == 7
    assert families["ticker_request_duration_seconds"] == ("histogram", FORMER_HELP["ticker_request_duration_seconds"])
    assert families["ticker_feed_fetches"] == ("counter", FORMER_HELP["ticker_feed_fetches"])
    # the scrape-time gauges are the answering process's own
    assert samples[("ticker_ready", ())] == 0
