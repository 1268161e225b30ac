"""Load on the real service (uvicorn subprocess on 127.0.0.1): writers, a dashboard poller, refits and
newsroom checks all at once, for a bounded time.

Eight writer threads post overlapping batches: the same texts from several outlets (exact duplicates
across clients), the same (source, id) from several clients at once, replays of what was acknowledged
earlier, and fresh headlines. Meanwhile one thread polls GET /v1/clusters with If-None-Match, one
calls POST /v1/clusters/refit, one runs dedup checks, and one misbehaves at the socket (half bodies,
unread answers, bytes that are not HTTP) and then retries its write. Afterwards: no 5xx; every acknowledged headline is
readable with what was sent; nothing is stored twice (the store holds exactly the acknowledged set);
all copies of one text sit in one story.

TICKER_TEST_LOAD_SECONDS sets the duration (default 12 s); TICKER_TEST_LOAD_REPORT names a JSON file
that receives the figures (used for docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import random
import socket
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx
import pytest
from server import Server

pytestmark = pytest.mark.slow

KEY = "load-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
WRITERS = 8
SECONDS = float(os.environ.get("TICKER_TEST_LOAD_SECONDS", "12"))
MAX_REQUESTS_PER_WRITER = 5000  # a bound on count as well as on time

# Texts that arrive again and again, from many outlets: each must end in exactly one story.
SHARED = [
    "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes",
    "Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario",
    "Morocco and Spain sign a water agreement in Rabat",
    "المغرب يستضيف كأس أمم إفريقيا 2025 في الرباط والدار البيضاء",
    "Alerte météo : fortes pluies attendues samedi sur le Rif et l'Oriental",
    "Bourse de Casablanca : le MASI termine la semaine en hausse de 2,3 %",
    "Le Wydad s'impose face au Raja dans le derby de Casablanca",
    "Inflation: Bank Al-Maghrib maintient son taux directeur à 2,75 %",
    "Sahara : un nouveau consulat ouvre ses portes à Dakhla",
    "Marruecos bate su récord de turistas en el primer semestre",
    "Tanger Med dépasse les 8 millions de conteneurs traités",
    "Le roi Mohammed VI inaugure un hôpital universitaire à Agadir",
]
SOURCES = ["le360", "hespress", "mapexpress", "yabiladi", "medias24", "lematin", "efe", "reuters"]


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    codes: Counter = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    acked: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))  # (source, id) -> ids
    titles: dict[int, tuple[str, str]] = field(default_factory=dict)  # headline id -> (title, source)
    stories_of_text: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    headlines_sent: int = 0
    uncertain: int = 0  # requests without an answer: stored or not, we cannot tell
    errors: list[str] = field(default_factory=list)

    def ack(self, batch: list[dict], results: list[dict]) -> None:
        with self.lock:
            self.headlines_sent += len(batch)
            for item, res in zip(batch, results):
                hid = res["headline_id"]
                key = (item.get("source") or "", item["id"]) if "id" in item else ("", f"no-id-{hid}")
                self.acked[key].add(hid)
                self.titles[hid] = (item["title"], item.get("source"))
                self.stories_of_text[item["title"]].add(res["story_id"])

    def record(self, kind: str, r: httpx.Response, seconds: float) -> None:
        with self.lock:
            self.codes[(kind, r.status_code)] += 1
            self.latencies[kind].append(seconds)
            if r.status_code >= 500 and len(self.errors) < 20:
                self.errors.append(f"{kind} {r.status_code} {r.text[:300]}")


def _writer(url: str, n: int, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(n)
    mine: list[dict] = []
    with httpx.Client(base_url=url, timeout=120, headers=AUTH) as c:
        for k in range(MAX_REQUESTS_PER_WRITER):
            if stop.is_set():
                return
            batch: list[dict] = []
            for _ in range(rng.randint(3, 12)):
                roll = rng.random()
                if roll < 0.35:  # a shared text from some outlet; outlets re-send their own id for it
                    t = rng.randrange(len(SHARED))
                    src = rng.choice(SOURCES)
                    batch.append({"title": SHARED[t], "source": src, "id": f"{src}-{t}"})
                elif roll < 0.5:  # one wire item that every client relays at once: same (source, id)
                    w = rng.randrange(30)
                    batch.append(
                        {
                            "title": f"Dépêche MAP n° {w} : le Conseil de gouvernement se réunit jeudi ({w})",
                            "source": "map-wire",
                            "id": f"w{w}",
                        }
                    )
                elif roll < 0.65 and mine:  # a replay of something this client had acknowledged
                    batch.append(rng.choice(mine))
                elif roll < 0.75:  # no id: every post is a new headline (an exact duplicate of the text)
                    batch.append({"title": SHARED[rng.randrange(len(SHARED))]})
                else:  # fresh
                    batch.append(
                        {
                            "title": f"Flash {n}-{k}-{len(batch)} : le port de Nador reçoit {rng.randint(2, 900)} navires",
                            "source": f"client{n}",
                            "id": f"{k}-{len(batch)}",
                            "lang": "fr",
                        }
                    )
            start = time.perf_counter()
            try:
                r = c.post("/v1/headlines", json={"headlines": batch})
            except httpx.HTTPError as exc:
                with tally.lock:
                    tally.uncertain += len(batch)
                    tally.errors.append(f"write: {type(exc).__name__}: {exc}")
                continue
            tally.record("write", r, time.perf_counter() - start)
            if r.status_code != 200:
                continue
            tally.ack(batch, r.json()["results"])
            mine.extend(i for i in batch if "id" in i)


def _poller(url: str, stop: threading.Event, tally: Tally) -> None:
    etag = None
    with httpx.Client(base_url=url, timeout=120) as c:
        while not stop.is_set():
            start = time.perf_counter()
            r = c.get("/v1/clusters", headers={"If-None-Match": etag} if etag else {})
            tally.record("clusters", r, time.perf_counter() - start)
            if r.status_code == 304:
                assert r.headers["ETag"] == etag
            elif r.status_code == 200:
                etag = r.headers["ETag"]
                body = r.json()
                assert body["version"] == etag.strip('"')
            time.sleep(0.2)


def _refitter(url: str, stop: threading.Event, tally: Tally) -> None:
    with httpx.Client(base_url=url, timeout=120, headers=AUTH) as c:
        while not stop.wait(1.0):
            start = time.perf_counter()
            r = c.post("/v1/clusters/refit")
            tally.record("refit", r, time.perf_counter() - start)


def _checker(url: str, stop: threading.Event, tally: Tally) -> None:
    rng = random.Random(99)
    with httpx.Client(base_url=url, timeout=120) as c:
        while not stop.is_set():
            start = time.perf_counter()
            r = c.post("/v1/dedup/check", json={"title": rng.choice(SHARED)})
            tally.record("check", r, time.perf_counter() - start)
            time.sleep(0.05)


def _rude(url: str, stop: threading.Event, tally: Tally) -> None:
    """A client that misbehaves at the socket: half a body then gone, a request whose answer it never
    reads, bytes that are not HTTP. After a broken write it retries, as a feed would."""
    host, port = url.removeprefix("http://").split(":")
    k = 0
    with httpx.Client(base_url=url, timeout=120, headers=AUTH) as c:
        while not stop.wait(0.1):
            k += 1
            batch = [
                {"title": f"Coupure de courant n° {k} dans le quartier Hassan à Rabat", "source": "rude", "id": str(k)}
            ]
            body = json.dumps({"headlines": batch}).encode()
            head = (
                f"POST /v1/headlines HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {KEY}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            sent = [head + body[: len(body) // 2], head + body, b"\x16\x03\x01\x02\x00 not http at all\r\n\r\n"][k % 3]
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                sock.sendall(sent)
            with tally.lock:
                tally.codes[("rude", 0)] += 1
            if k % 3 != 2:
                start = time.perf_counter()
                r = c.post("/v1/headlines", json={"headlines": batch})
                tally.record("retry", r, time.perf_counter() - start)
                if r.status_code == 200:
                    tally.ack(batch, r.json()["results"])


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else 0.0


def test_concurrent_writers_pollers_and_refits(tmp_path):
    env = {
        "TICKER_DATA_DIR": str(tmp_path / "data"),
        "TICKER_API_KEY": KEY,
        "TICKER_REFIT_EVERY_SECONDS": "5",
        "TICKER_REFIT_EVERY_STORIES": "50",
        "TICKER_REFIT_MIN_SECONDS": "0",
        "TICKER_DEDUP_RATE_PER_MINUTE": "100000",
    }
    tally = Tally()
    stop = threading.Event()
    with Server(env) as server:
        threads = [threading.Thread(target=_writer, args=(server.url, n, stop, tally)) for n in range(WRITERS)]
        threads += [
            threading.Thread(target=f, args=(server.url, stop, tally)) for f in (_poller, _refitter, _checker, _rude)
        ]
        failures: list[BaseException] = []

        def guarded(t: threading.Thread) -> threading.Thread:
            run = t.run

            def wrapped() -> None:
                try:
                    run()
                except BaseException as exc:  # an assertion in a thread must fail the test
                    failures.append(exc)
                    stop.set()

            t.run = wrapped  # type: ignore[method-assign]
            return t

        began = time.monotonic()
        for t in threads:
            guarded(t).start()
        stop.wait(SECONDS)
        stop.set()
        for t in threads:
            t.join(timeout=180)
        elapsed = time.monotonic() - began
        assert not failures, failures
        assert not any(t.is_alive() for t in threads), "a client thread hung"

        with httpx.Client(base_url=server.url, timeout=60) as c:
            # quiet now: the dashboard's poll with the last ETag costs a 304 (the ETag also turns each minute)
            for _ in range(3):
                etag = c.get("/v1/clusters").headers["ETag"]
                quiet_poll = c.get("/v1/clusters", headers={"If-None-Match": etag}).status_code
                if quiet_poll == 304:
                    break
            # every acknowledged headline is there, as sent
            for hid, (title, source) in tally.titles.items():
                r = c.get(f"/v1/headlines/{hid}")
                assert r.status_code == 200, (hid, r.status_code)
                h = r.json()
                assert h["title"] == title and h["source"] == source, (hid, h)
            stored = int(
                float(
                    next(
                        line.split()[1]
                        for line in c.get("/metrics").text.splitlines()
                        if line.startswith("ticker_store_headlines ")
                    )
                )
            )
            total_stories = c.get("/v1/stories?limit=1").json()["total"]
            story_sizes = 0
            for offset in range(0, total_stories, 500):
                story_sizes += sum(s["size"] for s in c.get(f"/v1/stories?limit=500&offset={offset}").json()["stories"])
        server_log = server.output()

    writes = sum(n for (kind, _), n in tally.codes.items() if kind == "write")
    five = {k: n for k, n in tally.codes.items() if k[1] >= 500}
    report = {
        "seconds": round(elapsed, 1),
        "writer_threads": WRITERS,
        "requests": sum(tally.codes.values()),
        "write_requests": writes,
        "headlines_sent": tally.headlines_sent,
        "headlines_stored": stored,
        "stories": total_stories,
        "status_codes": {f"{k} {c}": n for (k, c), n in sorted(tally.codes.items())},
        "5xx": sum(five.values()),
        "unanswered_headlines": tally.uncertain,
        "write_p50_ms": round(1000 * _pct(tally.latencies["write"], 0.5), 1),
        "write_p95_ms": round(1000 * _pct(tally.latencies["write"], 0.95), 1),
        "clusters_p95_ms": round(1000 * _pct(tally.latencies["clusters"], 0.95), 1),
        "check_p95_ms": round(1000 * _pct(tally.latencies["check"], 0.95), 1),
        "headlines_per_second": round(tally.headlines_sent / elapsed, 1),
    }
    print("\nload:", json.dumps(report))
    if os.environ.get("TICKER_TEST_LOAD_REPORT"):
        with open(os.environ["TICKER_TEST_LOAD_REPORT"], "w") as f:
            json.dump(report, f, indent=1)

    assert not five, (five, tally.errors, server_log[-3000:])
    assert writes >= 20 and tally.codes[("write", 200)] == writes, report
    assert tally.codes[("clusters", 200)] >= 1, report
    assert quiet_poll == 304, "once the writes stop, polling with the last ETag must answer 304"
    assert all(code in (200, 409) for kind, code in tally.codes if kind == "refit"), report
    assert tally.codes[("rude", 0)] >= 10 and all(code == 200 for kind, code in tally.codes if kind == "retry"), report
    assert tally.codes[("refit", 200)] >= 1, report
    # nothing stored twice: every (source, id) got one headline id, however many clients sent it at once
    assert all(len(ids) == 1 for ids in tally.acked.values()), {k: v for k, v in tally.acked.items() if len(v) > 1}
    # nothing lost, nothing extra: the store holds exactly the acknowledged headlines
    if tally.uncertain == 0:
        assert stored == len(tally.acked), (stored, len(tally.acked))
    else:
        assert len(tally.acked) <= stored <= len(tally.acked) + tally.uncertain
    assert story_sizes == stored
    # one story per duplicate set
    split = {t: s for t, s in tally.stories_of_text.items() if len(s) > 1}
    assert not split, split
    assert sum(1 for t in SHARED if t in tally.stories_of_text) >= len(SHARED) // 2


# --- faults at start-up: the process stays up and says what is wrong --------------------------------


def _app(tmp_path, **overrides):
    from app.config import load_settings
    from app.main import create_app

    overrides.setdefault("data_dir", tmp_path / "data")
    return create_app(load_settings(env={}, **overrides))


def test_requests_while_the_encoder_loads_get_503_then_succeed(tmp_path, encoder, monkeypatch):
    from fastapi.testclient import TestClient

    import app.main as main

    gate = threading.Event()

    def slow_load(spec, **kw):
        assert gate.wait(60)
        return encoder

    monkeypatch.setattr(main, "load_encoder", slow_load)
    with TestClient(_app(tmp_path)) as c:
        assert c.get("/livez").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "starting"
        for r in (
            c.post("/v1/headlines", json={"headlines": [{"title": "Le Maroc et la CAF"}]}),
            c.post("/v1/dedup/check", json={"title": "Le Maroc et la CAF"}),
            c.get("/v1/stories"),
            c.get("/v1/clusters"),
            c.post("/v1/clusters/refit"),
        ):
            assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1, (r.request.url, r.text)
        gate.set()
        deadline = time.monotonic() + 60
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "never became ready"
            time.sleep(0.05)
        assert c.post("/v1/headlines", json={"headlines": [{"title": "Le Maroc et la CAF"}]}).status_code == 200


@pytest.mark.parametrize("fault", ["encoder", "data_dir"])
def test_a_failed_start_is_reported_not_a_crash(tmp_path, monkeypatch, fault):
    from fastapi.testclient import TestClient

    import app.main as main

    overrides = {}
    if fault == "encoder":

        def broken(spec, **kw):
            raise OSError("model file is corrupt")

        monkeypatch.setattr(main, "load_encoder", broken)
        reason, secret = "the encoder could not be loaded", "corrupt"
    else:  # the data directory is a file: storage cannot open
        (tmp_path / "not-a-dir").write_text("x")
        overrides["data_dir"] = tmp_path / "not-a-dir"
        reason, secret = "the store could not be opened", "not-a-dir"
        monkeypatch.setattr(main, "load_encoder", lambda spec, **kw: _TinyEncoder())
    with TestClient(_app(tmp_path, **overrides)) as c:
        deadline = time.monotonic() + 30
        while (r := c.get("/readyz")).json()["status"] == "starting":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert r.status_code == 503 and r.json()["status"] == "failed" and reason in r.json()["detail"], r.text
        assert secret not in r.text  # the exception's own text (a path, say) goes to the log only
        assert c.get("/livez").status_code == 200
        assert "ticker_ready 0" in c.get("/metrics").text
        for r in (
            c.post("/v1/headlines", json={"headlines": [{"title": "Le Maroc et la CAF"}]}),
            c.get("/v1/stories"),
            c.post("/v1/dedup/check", json={"title": "Le Maroc"}),
        ):
            assert r.status_code == 503 and "start-up failed" in r.json()["detail"], r.text


class _TinyEncoder:
    name, dim = "tiny", 8

    def encode(self, texts):
        import numpy as np

        out = np.ones((len(texts), self.dim), dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_the_served_app_freezes_what_start_up_built(tmp_path, encoder):
    """A full garbage collection holds the GIL from start to end (134-185 ms in a refit over 10k
    stories): the served app leaves what start-up built out of those passes; an app built with
    ``freeze_gc=False`` (tests, tools) leaves the collector alone."""
    import gc

    from fastapi.testclient import TestClient

    from app.config import load_settings
    from app.main import create_app

    gc.unfreeze()
    try:
        plain = create_app(load_settings(env={}, data_dir=tmp_path / "a"), encoder=encoder, wait_ready=True)
        with TestClient(plain):
            assert gc.get_freeze_count() == 0
        served = create_app(
            load_settings(env={}, data_dir=tmp_path / "b"), encoder=encoder, wait_ready=True, freeze_gc=True
        )
        with TestClient(served) as client:
            assert client.app.state.ticker.ready.is_set()
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
