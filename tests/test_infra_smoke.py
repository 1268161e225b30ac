"""Smoke tests for the real external parts the other tests lean on.

- PostgreSQL + pgvector: runs when TICKER_TEST_PG_DSN is set, e.g.
      export TICKER_TEST_PG_DSN=$(scripts/pg_test_cluster.sh start /tmp/ticker-pg)
  (set-up: scripts/install_pgvector.sh; needs `psycopg[binary]` and `pgvector` in the venv).
- Headless Chromium: runs when /usr/bin/chromium exists and `playwright` imports
  (set-up: scripts/install_browser.sh).
Each skips, saying why, when its piece is missing.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS

PG_DSN_ENV = "TICKER_TEST_PG_DSN"


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture
def pg_conn():
    dsn = os.environ.get(PG_DSN_ENV)
    if not dsn:
        pytest.skip(f"{PG_DSN_ENV} not set (start one with scripts/pg_test_cluster.sh start DIR)")
    psycopg = pytest.importorskip("psycopg", reason="psycopg 3 not installed (pip install 'psycopg[binary]')")
    pgvector_psycopg = pytest.importorskip("pgvector.psycopg", reason="pgvector not installed (pip install pgvector)")
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        pgvector_psycopg.register_vector(conn)
        yield conn


def test_pgvector_hnsw_cosine_nearest(pg_conn) -> None:
    # Rows chosen so that cosine and L2 disagree on the nearest one: a wrong operator fails.
    rows = {
        1: np.array([10.0, 1.0, 0.0], dtype=np.float32),  # same direction as the query, far away
        2: np.array([1.0, 1.0, 1.0], dtype=np.float32),  # close in L2, other direction
        3: np.array([0.0, 0.0, 1.0], dtype=np.float32),
        4: np.array([-1.0, 0.0, 0.0], dtype=np.float32),
    }
    query = np.array([1.0, 0.0, 0.0], dtype=np.float32)

    pg_conn.execute("CREATE TEMP TABLE smoke_vec (id int PRIMARY KEY, embedding vector(3) NOT NULL)")
    pg_conn.execute("CREATE INDEX smoke_vec_hnsw ON smoke_vec USING hnsw (embedding vector_cosine_ops)")
    with pg_conn.cursor() as cur:
        cur.executemany("INSERT INTO smoke_vec (id, embedding) VALUES (%s, %s)", list(rows.items()))

    # Four rows would be seq-scanned; force the planner onto the index so HNSW itself is tested.
    pg_conn.execute("SET enable_seqscan = off")
    sql = "SELECT id, embedding <=> %s AS dist FROM smoke_vec ORDER BY embedding <=> %s LIMIT 2"
    plan = "\n".join(r[0] for r in pg_conn.execute("EXPLAIN " + sql, (query, query)).fetchall())
    assert "smoke_vec_hnsw" in plan, plan

    got = pg_conn.execute(sql, (query, query)).fetchall()
    want = sorted(rows, key=lambda i: _cosine_distance(rows[i], query))[:2]
    assert [r[0] for r in got] == want == [1, 2]
    for row_id, dist in got:
        assert dist == pytest.approx(_cosine_distance(rows[row_id], query), abs=1e-6)


@pytest.mark.browser
def test_headless_chromium_reads_data_url(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (run scripts/install_browser.sh)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright not installed (run scripts/install_browser.sh)"
    )

    text = "Séisme au Maroc — زلزال في المغرب"
    url = "data:text/html;charset=utf-8," + urllib.parse.quote(f"<title>smoke</title><h1 id=h>{text}</h1>")
    shot = tmp_path / "smoke.png"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            page = browser.new_page(viewport={"width": 480, "height": 120})
            page.goto(url, timeout=30_000)
            assert page.title() == "smoke"
            assert page.inner_text("#h") == text
            page.screenshot(path=str(shot))
        finally:
            browser.close()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 1000  # a blank page would compress to far less
