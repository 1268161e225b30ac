"""An acknowledged headline survives the process: a clean restart and a SIGKILL mid-stream."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from server import Server

pytestmark = pytest.mark.slow


def _env(tmp_path) -> dict[str, str]:
    return {"TICKER_DATA_DIR": str(tmp_path / "data"), "TICKER_REFIT_EVERY_SECONDS": "3600"}


def test_restart_keeps_everything(tmp_path):
    env = _env(tmp_path)
    with Server(env) as s:
        r = httpx.post(
            s.url + "/v1/headlines",
            json={
                "headlines": [
                    {"title": "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes", "source": "a", "id": "1"},
                    {"title": "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes", "source": "b", "id": "2"},
                    {"title": "Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario"},
                ]
            },
            timeout=30,
        )
        assert r.status_code == 200, r.text
        before = r.json()["results"]
    with Server(env) as s:
        for res in before:
            h = httpx.get(f"{s.url}/v1/headlines/{res['headline_id']}").json()
            assert h["headline_id"] == res["headline_id"]
        stories = httpx.get(s.url + "/v1/stories").json()
        assert stories["total"] == 2
        # replaying after the restart is still idempotent
        again = httpx.post(
            s.url + "/v1/headlines",
            json={
                "headlines": [
                    {"title": "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes", "source": "a", "id": "1"}
                ]
            },
        ).json()
        assert again["results"][0]["headline_id"] == before[0]["headline_id"]
        assert again["results"][0]["idempotent_replay"] is True


def test_sigkill_mid_stream_loses_no_acknowledged_headline(tmp_path):
    env = _env(tmp_path)
    acked: dict[str, int] = {}
    stop = threading.Event()
    server = Server(env).start()

    def feed() -> None:
        n = 0
        with httpx.Client(timeout=10) as client:
            while not stop.is_set() and n < 5000:
                batch = [
                    {
                        "title": f"Dépêche numéro {n + i} sur la météo à Rabat et la CAF",
                        "source": "feed",
                        "id": str(n + i),
                    }
                    for i in range(5)
                ]
                try:
                    r = client.post(server.url + "/v1/headlines", json={"headlines": batch})
                except httpx.HTTPError:
                    return  # the server died mid-request: that batch was never acknowledged
                if r.status_code == 200:
                    for item, res in zip(batch, r.json()["results"]):
                        acked[item["id"]] = res["headline_id"]
                n += 5

    t = threading.Thread(target=feed)
    t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()
    stop.set()
    t.join(timeout=30)
    server.stop()
    assert len(acked) >= 100, "the feed did not get going"

    with Server(env) as s:
        with httpx.Client(timeout=30) as client:
            for ext_id, hid in acked.items():
                h = client.get(f"{s.url}/v1/headlines/{hid}")
                assert h.status_code == 200, (ext_id, hid)
            # every acknowledged (source, id) is stored once: replay returns the same id and stores nothing
            ids = list(acked)
            for i in range(0, len(ids), 200):
                chunk = ids[i : i + 200]
                r = client.post(
                    s.url + "/v1/headlines",
                    json={
                        "headlines": [
                            {"title": f"Dépêche numéro {x} sur la météo à Rabat et la CAF", "source": "feed", "id": x}
                            for x in chunk
                        ]
                    },
                )
                res = r.json()["results"]
                assert all(x["idempotent_replay"] for x in res)
                assert [x["headline_id"] for x in res] == [acked[x] for x in chunk]
            # stories are consistent: sizes add up to the headlines stored
            total = client.get(s.url + "/v1/stories?limit=1").json()["total"]
            sizes, offset = 0, 0
            while offset < total:
                page = client.get(f"{s.url}/v1/stories?limit=500&offset={offset}").json()
                sizes += sum(x["size"] for x in page["stories"])
                offset += 500
            metrics = client.get(s.url + "/metrics").text
            stored = int(
                float(
                    next(line.split()[1] for line in metrics.splitlines() if line.startswith("ticker_store_headlines "))
                )
            )
            assert sizes == stored >= len(acked)
