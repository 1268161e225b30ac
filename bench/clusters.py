"""The dashboard's view: ``GET /v1/clusters`` at a given number of stories, idle and while a client ingests.

    .venv/bin/python -m bench.clusters [--stored 10000] [--requests 100] [--out bench/results/clusters.json]

In-process (the app behind Starlette's test client, no sockets): a SQLite file store filled with
synthetic headlines (``bench.synth.fill_store``), one topic refit, then ``--requests`` GETs without
``If-None-Match`` (so each is computed, never a 304), first idle, then while another thread posts batches
of 100 new headlines as fast as they are taken. Milliseconds per request; ``store_calls``: the store
methods one view called, counted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import log, percentiles, write_result  # noqa: E402
from bench.synth import filled_store, headlines  # noqa: E402

KEY = "bench"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stored", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from fastapi.testclient import TestClient

    from app.config import load_settings
    from app.main import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(env={}, data_dir=Path(tmp), api_key=KEY, refit_every_seconds=10**6,
                                 refit_every_stories=10**9)
        encoder, pool, _, store = filled_store(settings, args.stored, seed=11, exact_features=False)
        stories = store.count_stories()
        store.close()
        app = create_app(settings, encoder=encoder, wait_ready=True)
        auth = {"X-API-Key": KEY}
        with TestClient(app) as client:
            t = time.perf_counter()
            refit = client.post("/v1/clusters/refit", headers=auth).json()
            log(f"clusters: {stories} stories, refit {time.perf_counter() - t:.1f}s, {refit.get('n_topics')} topics")
            st = app.state.ticker.store
            calls: list[str] = []
            for name in ("list_stories", "topic_story_pages", "story_briefs", "recent_counts", "topics", "topic_stats"):
                real = getattr(st, name, None)
                if real is None:  # an older store without it
                    continue
                setattr(st, name, (lambda n, f: lambda *a, **k: calls.append(n) or f(*a, **k))(name, real))

            def timed(n: int) -> list[float]:
                out = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    r = client.get("/v1/clusters")
                    out.append((time.perf_counter() - t0) * 1000.0)
                    assert r.status_code == 200
                return out

            timed(5)
            calls.clear()
            client.get("/v1/clusters")
            per_view = len(calls)
            idle = timed(args.requests)
            stop, fed = threading.Event(), [0]
            new = headlines(pool, 100_000, seed=99)

            def feed() -> None:
                i = 0
                while not stop.is_set() and i + 100 <= len(new):
                    body = {"headlines": [{"title": h.title, "source": "bench", "id": f"b{i + j}"}
                                          for j, h in enumerate(new[i : i + 100])]}
                    client.post("/v1/headlines", json=body, headers=auth)
                    i += 100
                    fed[0] = i

            feeder = threading.Thread(target=feed)
            feeder.start()
            t = time.perf_counter()
            busy = timed(args.requests)
            seconds = time.perf_counter() - t
            stop.set()
            feeder.join()
    out: dict[str, Any] = {
        "section": "clusters", "stories": stories, "topics": refit.get("n_topics"), "store_calls_per_view": per_view,
        "idle_ms": percentiles(idle), "while_ingesting_ms": percentiles(busy),
        "ingested_meanwhile_per_s": round(fed[0] / seconds, 1) if seconds else 0.0,
        "targets": {"p50_ms<50_while_ingesting": percentiles(busy)["p50_ms"] < 50},
    }
    print(json.dumps(out))
    if args.out is not None:
        write_result(args.out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
