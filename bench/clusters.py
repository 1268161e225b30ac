"""The dashboard's view: ``GET /v1/clusters`` at a given number of stories, idle and while a client ingests.

    .venv/bin/python -m bench.clusters [--stored 25000] [--requests 100] [--busy-seconds 10]
                                       [--stories-per-topic N] [--out bench/results/clusters.json]

In-process (the app behind Starlette's test client, no sockets): a SQLite file store filled with
synthetic headlines (``bench.synth.fill_store``), one topic refit, then GETs without ``If-None-Match`` (so
none is a 304), back to back:

- ``idle_ms``: ``--requests`` polls of an unchanged store: what a dashboard gets (the body kept for the
  current ETag after the first).
- ``idle_build_ms``: the same, the kept body dropped before each request: what building the view costs.
- ``while_ingesting_ms``: polls while another thread posts batches of 100 new headlines as fast as they are
  taken, for at least ``--busy-seconds`` and ``--requests`` polls. Every batch moves the ETag, so the first
  poll after it builds the view again; ``builds_while_ingesting`` counts the polls that got a new ETag.
- ``while_ingesting_build_ms``: the same, the kept body dropped before each request (every poll builds).

``store_calls_per_view``: the store methods one view called when it built the body, counted (0 when the
kept body is served: ``store_calls_when_kept``). ``body_bytes``: the size of one response.
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
COUNTED = ("list_stories", "topic_story_pages", "story_briefs", "recent_counts", "topics", "topic_stats")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stored", type=int, default=10_000, help="synthetic headlines stored first")
    ap.add_argument("--requests", type=int, default=100, help="requests per phase (at least)")
    ap.add_argument(
        "--busy-seconds", type=float, default=5.0, help="each phase while ingesting lasts at least this long"
    )
    ap.add_argument("--stories-per-topic", type=int, default=None, help="asked of the view (default: the server's)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    from fastapi.testclient import TestClient

    from app.config import load_settings
    from app.main import create_app

    path = "/v1/clusters" + (f"?stories_per_topic={args.stories_per_topic}" if args.stories_per_topic else "")
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            env={}, data_dir=Path(tmp), api_key=KEY, refit_every_seconds=10**6, refit_every_stories=10**9
        )
        encoder, pool, _, store = filled_store(settings, args.stored, seed=11, exact_features=False)
        stories = store.count_stories()
        store.close()
        app = create_app(settings, encoder=encoder, wait_ready=True)
        auth = {"X-API-Key": KEY}
        with TestClient(app) as client:
            t = time.perf_counter()
            refit = client.post("/v1/clusters/refit", headers=auth).json()
            log(f"clusters: {stories} stories, refit {time.perf_counter() - t:.1f}s, {refit.get('n_topics')} topics")
            state = app.state.ticker
            st = state.store
            calls: list[str] = []
            for name in COUNTED:
                real = getattr(st, name, None)
                if real is None:  # an older store without it
                    continue
                setattr(st, name, (lambda n, f: lambda *a, **k: calls.append(n) or f(*a, **k))(name, real))

            def drop_kept() -> None:
                state.extra.pop("clusters_body", None)  # the body kept for the current ETag, if any

            def timed(n: int, build: bool, seconds: float = 0.0) -> tuple[list[float], int]:
                """``n`` polls (and for at least ``seconds``); returns their ms and how many got a new ETag."""
                out, etags, last = [], 0, None
                end = time.perf_counter() + seconds
                while len(out) < n or time.perf_counter() < end:
                    if build:
                        drop_kept()
                    t0 = time.perf_counter()
                    r = client.get(path)
                    out.append((time.perf_counter() - t0) * 1000.0)
                    assert r.status_code == 200
                    if r.headers.get("ETag") != last:
                        etags, last = etags + 1, r.headers.get("ETag")
                return out, etags

            timed(5, build=True)
            drop_kept()
            calls.clear()
            body = client.get(path)
            per_view = len(calls)
            calls.clear()
            client.get(path)
            when_kept = len(calls)
            idle, _ = timed(args.requests, build=False)
            idle_build, _ = timed(args.requests, build=True)
            stop, fed = threading.Event(), [0]
            new = headlines(pool, 100_000, seed=99)

            def feed() -> None:
                i = 0
                while not stop.is_set() and i + 100 <= len(new):
                    batch = {
                        "headlines": [
                            {"title": h.title, "source": "bench", "id": f"b{i + j}"}
                            for j, h in enumerate(new[i : i + 100])
                        ]
                    }
                    client.post("/v1/headlines", json=batch, headers=auth)
                    i += 100
                    fed[0] = i

            feeder = threading.Thread(target=feed)
            feeder.start()
            time.sleep(0.5)  # the feed under way
            t = time.perf_counter()
            fed0 = fed[0]
            busy, builds = timed(args.requests, build=False, seconds=args.busy_seconds)
            busy_build, _ = timed(args.requests, build=True, seconds=args.busy_seconds)
            seconds = time.perf_counter() - t
            ingested = fed[0] - fed0
            stop.set()
            feeder.join()
    out: dict[str, Any] = {
        "section": "clusters",
        "stories": stories,
        "topics": refit.get("n_topics"),
        "stories_per_topic": args.stories_per_topic or "server default",
        "body_bytes": len(body.content),
        "store_calls_per_view": per_view,
        "store_calls_when_kept": when_kept,
        "idle_ms": percentiles(idle),
        "idle_build_ms": percentiles(idle_build),
        "while_ingesting_ms": percentiles(busy),
        "while_ingesting_requests": len(busy),
        "builds_while_ingesting": builds,
        "while_ingesting_build_ms": percentiles(busy_build),
        "while_ingesting_build_requests": len(busy_build),
        "ingested_meanwhile_per_s": round(ingested / seconds, 1) if seconds else 0.0,
        "targets": {
            "p50_ms<50_while_ingesting": percentiles(busy)["p50_ms"] < 50,
            "build_p50_ms<50_while_ingesting": percentiles(busy_build)["p50_ms"] < 50,
        },
    }
    print(json.dumps(out))
    if args.out is not None:
        write_result(args.out, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
