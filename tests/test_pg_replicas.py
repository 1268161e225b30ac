"""Several replicas on one PostgreSQL database must behave like one service.

In-process: two PostgresStore instances (two pools, like two replicas) racing on migrations,
writes and the refit lock. End to end: two uvicorn processes on one database, fed the seed batch
at the same moment, must store every headline once and agree on the stories.

Needs TICKER_TEST_PG_DSN (scripts/test.sh sets it); skipped without it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import numpy as np
import pytest
from conftest import DATASETS, ROOT, read_jsonl

PG_DSN = os.environ.get("TICKER_TEST_PG_DSN", "")
pytestmark = pytest.mark.skipif(not PG_DSN, reason="TICKER_TEST_PG_DSN is not set (scripts/test.sh starts one)")

DIM = 16
#: how long the replicas may take to say they are ready (a bound on a wait, not a measure of speed)
READY_TIMEOUT_S = 45.0


def _admin(query: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        cur = conn.execute(query)  # type: ignore[arg-type]  # test-made identifiers only
        return cur.fetchall() if cur.description else []


@pytest.fixture
def schema() -> Iterator[str]:
    name = f"replicas_{uuid.uuid4().hex[:12]}"
    yield name
    _admin(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


# --- in process: two stores, one database ---------------------------------------------------


def _stores(schema: str, n: int = 2) -> list[Any]:
    from app.store.postgres import PostgresStore

    return [PostgresStore(PG_DSN, DIM, schema=schema) for _ in range(n)]


def test_replicas_starting_together_migrate_once(schema):
    from app.store.pg_migrations import LATEST
    from app.store.postgres import PostgresStore

    barrier = threading.Barrier(3)
    stores: list[Any] = []
    errors: list[BaseException] = []

    def start() -> None:
        barrier.wait()
        try:
            stores.append(PostgresStore(PG_DSN, DIM, schema=schema))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert not errors, errors
        assert len(stores) == 3
        rows = _admin(f'SELECT version FROM "{schema}".schema_migrations ORDER BY version')
        assert [r[0] for r in rows] == list(range(1, LATEST + 1))
    finally:
        for s in stores:
            s.close()


def test_two_stores_serialise_story_assignment(schema):
    """Both 'replicas' look for an exact match and open a story when none is found, at the same
    moment: the write lock must leave one story per text, whichever store wrote first."""
    from app.store.base import NewHeadline

    a, b = _stores(schema)
    rng = np.random.default_rng(0)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def ingest(store: Any, text_hash: str, who: str) -> None:
        emb = rng.normal(size=DIM).astype(np.float32)
        row = NewHeadline(
            title=who,
            norm=who,
            text_hash=text_hash,
            lang="fr",
            source=who,
            ext_id=None,
            url=None,
            published_at=100.0,
            received_at=100.0,
            story_id=0,
            match=None,
            score=None,
            features="{}",
            embedding=emb / np.linalg.norm(emb),
        )
        barrier.wait()
        try:
            with store.transaction():
                found = store.find_exact(text_hash, 0.0, 1000.0)
                time.sleep(0.01)  # both would be here at once without the lock
                row.story_id = found.story_id if found else store.create_story(row)
                hid = store.insert_headline(row)
                store.add_to_story(row.story_id, hid, row)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    try:
        for i in range(5):
            threads = [threading.Thread(target=ingest, args=(s, f"H{i}", w)) for s, w in ((a, "a"), (b, "b"))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
        assert not errors, errors
        assert a.count_headlines() == 10 and b.count_stories() == 5
        assert sorted(s.size for s in a.list_stories(limit=10, offset=0)[0]) == [2] * 5
        assert a.data_version() == b.data_version() == "10"  # one step per write transaction, shared
    finally:
        a.close()
        b.close()


def test_one_refit_leader_across_stores(schema):
    a, b = _stores(schema)
    try:
        with a.refit_leader() as lead_a:
            with b.refit_leader() as lead_b:
                assert (lead_a, lead_b) == (True, False)
        with b.refit_leader() as lead_b:  # a released it
            assert lead_b is True
            with a.refit_leader() as lead_a:
                assert lead_a is False
        with pytest.raises(RuntimeError):
            with a.refit_leader() as lead_a:
                assert lead_a is True
                raise RuntimeError("refit failed")
        with b.refit_leader() as lead_b:  # a failed refit released it too
            assert lead_b is True
    finally:
        a.close()
        b.close()


# --- end to end: two uvicorn replicas ---------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _dsn_with_schema(dsn: str, schema: str) -> str:
    options = quote(f"-c search_path={schema},public", safe="")
    return f"{dsn}{'&' if '?' in dsn else '?'}options={options}"


def _seed_batch() -> list[dict[str, Any]]:
    path = ROOT / "sample_data" / "batch.json"
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))["headlines"]
    gold_path = DATASETS / "seed_ticker" / "gold.jsonl"
    if not gold_path.exists():
        pytest.skip("neither sample_data/batch.json nor the shared seed gold is there")
    base = 1_750_492_800  # 2025-06-21 08:00 UTC; one minute per ticker position
    return [
        {
            "title": g["title"],
            "id": g["id"],
            "source": "ticker-" + g["id"].split("-")[0],
            "lang": g["lang"],
            "published_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + 60 * (i % 60))),
        }
        for i, g in enumerate(read_jsonl(gold_path))
    ]


# Made-up headlines unlike the seed's, each sent verbatim to both replicas at once, without ids.
FRESH = [
    "Un banc de dauphins observé au large de Dakhla par des pêcheurs artisanaux",
    "La bibliothèque nationale de Rabat ouvre ses archives numérisées au public",
    "Record d'affluence au festival des roses de Kelâat M'Gouna cette année",
    "Ouverture d'une nouvelle ligne de bus électriques entre Salé et Témara",
    "Un séisme de faible magnitude ressenti dans la région d'Al Hoceïma sans dégâts",
    "Les écoles de Fès testent un calendrier scolaire aménagé pendant la canicule",
]


class Replica:
    def __init__(self, name: str, port: int, env: dict[str, str], log: Path) -> None:
        self.name, self.url, self.log = name, f"http://127.0.0.1:{port}", log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log_file.close()


@pytest.fixture
def replicas(schema, tmp_path) -> Iterator[list[Replica]]:
    _admin(f'CREATE SCHEMA "{schema}"')  # the DSN's search_path names it; the app creates the tables
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            env = {
                **os.environ,
                "TICKER_DATABASE_URL": _dsn_with_schema(PG_DSN, schema),
                "TICKER_DATA_DIR": str(tmp_path / f"data-{name}"),
                "TICKER_LOAD_SAMPLE_DATA": "0",
                "TICKER_REFIT_EVERY_SECONDS": "3600",
                "TICKER_ENCODER_THREADS": "1",
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
            }
            started.append(Replica(name, _free_port(), env, tmp_path / f"replica-{name}.log"))
        yield started
    finally:
        for r in started:
            r.stop()


def _wait_ready(clients: dict[str, Any], reps: list[Replica], deadline: float) -> None:
    waiting = {r.name for r in reps}
    while waiting:
        for r in reps:
            if r.name not in waiting:
                continue
            if r.proc.poll() is not None:
                pytest.fail(f"replica {r.name} exited with {r.proc.returncode}:\n{r.tail()}")
            try:
                resp = clients[r.name].get("/readyz", timeout=2)
            except Exception:
                continue
            if resp.status_code == 200:
                waiting.discard(r.name)
            elif resp.json().get("status") == "failed":
                pytest.fail(f"replica {r.name} failed to start: {resp.text}\n{r.tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"replicas {sorted(waiting)} not ready in time:\n" + "\n".join(r.tail() for r in reps))
        time.sleep(0.2)


def _post_both(pool: ThreadPoolExecutor, clients: dict[str, Any], body: dict[str, Any]) -> tuple[list, list]:
    barrier = threading.Barrier(2)

    def post(name: str) -> list[dict[str, Any]]:
        barrier.wait()
        resp = clients[name].post("/v1/headlines", json=body, timeout=30)
        assert resp.status_code == 200, (name, resp.status_code, resp.text)
        return resp.json()["results"]

    fa, fb = pool.submit(post, "a"), pool.submit(post, "b")
    return fa.result(timeout=40), fb.result(timeout=40)


def _partition(client: Any) -> dict[int, int]:
    """headline id -> story id, as this replica serves it."""
    listed = client.get("/v1/stories", params={"limit": 500}, timeout=10).json()
    assert listed["total"] == len(listed["stories"]), "more stories than one page"
    out: dict[int, int] = {}
    for story in listed["stories"]:
        detail = client.get(f"/v1/stories/{story['id']}", timeout=10).json()
        assert len(detail["headlines"]) == story["size"]
        for h in detail["headlines"]:
            out[h["headline_id"]] = story["id"]
    return out


def test_two_replicas_ingesting_at_once_agree(replicas, schema):
    httpx = pytest.importorskip("httpx")
    t0 = time.monotonic()
    clients = {r.name: httpx.Client(base_url=r.url) for r in replicas}
    try:
        _wait_ready(clients, replicas, t0 + READY_TIMEOUT_S)
        ready_s = time.monotonic() - t0
        batch = _seed_batch()
        by_ext: dict[tuple[str, str], tuple[dict, dict]] = {}
        with ThreadPoolExecutor(2) as pool:
            # 1. the seed batch, five at a time, each small batch to both replicas at the same moment
            for i in range(0, len(batch), 5):
                part = batch[i : i + 5]
                ra, rb = _post_both(pool, clients, {"headlines": part})
                assert len(ra) == len(rb) == len(part)
                for h, a, b in zip(part, ra, rb):
                    by_ext[(h.get("source") or "", str(h["id"]))] = (a, b)
            # 2. identical new headlines without ids, one to each replica at the same moment
            fresh: list[tuple[dict, dict]] = []
            for title in FRESH:
                ra, rb = _post_both(
                    pool,
                    clients,
                    {
                        "headlines": [
                            {"title": title, "source": "wire-a", "lang": "fr", "published_at": "2026-03-20T09:00:00Z"}
                        ]
                    },
                )
                fresh.append((ra[0], rb[0]))

        # every (source, id) stored once: one replica stored it, the other answered with a replay
        for key, (a, b) in by_ext.items():
            assert (a["headline_id"], a["story_id"]) == (b["headline_id"], b["story_id"]), key
            assert a["idempotent_replay"] != b["idempotent_replay"], key
        n_ext = len(by_ext)
        rows = _admin(
            f'SELECT COUNT(*), COUNT(ext_id), COUNT(DISTINCT (source_key, ext_id)) FILTER (WHERE ext_id IS NOT NULL) FROM "{schema}".headlines'
        )[0]
        assert rows == (n_ext + 2 * len(FRESH), n_ext, n_ext)

        # simultaneous exact duplicates: both stored, one story, the later matched the earlier
        for title, (a, b) in zip(FRESH, fresh):
            assert a["headline_id"] != b["headline_id"], title
            assert a["story_id"] == b["story_id"], f"two stories for one headline sent to both replicas: {title}"
            later, earlier = (a, b) if a["match"] == "exact" else (b, a)
            assert later["match"] == "exact" and later["matched_headline_id"] == earlier["headline_id"], title

        # both replicas serve the same partition, and it is the one the ingest answers gave
        part_a, part_b = _partition(clients["a"]), _partition(clients["b"])
        assert part_a == part_b
        answered = {a["headline_id"]: a["story_id"] for a, _ in [*by_ext.values(), *fresh]}
        answered.update({b["headline_id"]: b["story_id"] for _, b in fresh})
        assert part_a == answered

        # gold: verbatim repeats of one title (the exact-duplicate pair) are one story
        titles: dict[str, set[int]] = {}
        for h in batch:
            a, _ = by_ext[(h.get("source") or "", str(h["id"]))]
            titles.setdefault(h["title"].strip(), set()).add(a["story_id"])
        repeats = {t: s for t, s in titles.items() if sum(1 for h in batch if h["title"].strip() == t) > 1}
        assert repeats, "the seed batch has no verbatim repeat to check"
        assert all(len(s) == 1 for s in repeats.values()), repeats

        # the clusters ETag comes from the shared data_version: both replicas give the same one
        tags = [clients[n].get("/v1/clusters", timeout=10).headers.get("etag") for n in ("a", "b")]
        if tags[0] != tags[1]:  # the minute may have turned between the two calls
            tags = [clients[n].get("/v1/clusters", timeout=10).headers.get("etag") for n in ("a", "b")]
        assert tags[0] and tags[0] == tags[1]
        # how long it took is shown, not asserted: every post above is bounded (_post_both), and speed is
        # for the benchmarks
        elapsed = time.monotonic() - t0
        print(f"replicas ready in {ready_s:.1f}s; {len(batch)} headlines ×2 + {len(FRESH)}×2 fresh in {elapsed:.1f}s")
    finally:
        for c in clients.values():
            c.close()


class _HashEncoder:
    """DIM-sized unit vectors from each text's hash: enough for matching to run, no model needed."""

    name, dim = "hash-16", DIM

    def encode(self, texts):
        import hashlib

        out = np.stack(
            [np.random.default_rng(int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)).normal(size=DIM) for t in texts]
        ).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_replicas_count_each_others_stories_in_the_rarity_of_names(schema):
    """Each replica counts the stories it opens and reads the others' from the database (by id), so
    both weigh names alike, and no story is counted twice."""
    from app.config import load_settings
    from app.pipeline import HeadlineInput, Pipeline
    from app.stories import extract
    from app.stories._text import normalise
    from app.stories.rarity import rarity_terms

    a_store, b_store = _stores(schema)
    try:
        settings = load_settings(env={})
        a, b = Pipeline(settings, a_store, _HashEncoder()), Pipeline(settings, b_store, _HashEncoder())
        names = ["Rabat", "Dakhla", "Agadir", "Tanger", "Oujda", "Fès"]
        a.ingest(
            [HeadlineInput(title=f"Kardashian visite {n} pour la {i}e fois", lang="fr") for i, n in enumerate(names)]
        )
        assert a.rarity.frequencies("fr").get("karda") == len(a.rarity) > 0
        b.check("Kardashian à Marrakech")  # a check reads what the other replica stored
        assert b.rarity.frequencies("fr") == a.rarity.frequencies("fr")
        b.ingest([HeadlineInput(title="Kardashian ouvre un restaurant à Casablanca", lang="fr")])
        storm = "Une tempête frappe Essaouira"
        a.ingest([HeadlineInput(title=storm, lang="fr")])  # reads b's story first
        terms = rarity_terms(extract(storm, normalise(storm), "fr"))
        assert a.rarity.frequencies("fr") == b.rarity.frequencies("fr") | dict.fromkeys(terms, 1)
        fresh = Pipeline(settings, a_store, _HashEncoder())
        assert fresh.warm_rarity() == len(a.rarity) and fresh.rarity.frequencies("fr") == a.rarity.frequencies("fr")
    finally:
        a_store.close()
        b_store.close()


def test_two_replicas_correcting_at_once_leave_a_consistent_store(schema):
    """Two editors on two replicas merge two stories into each other at the same moment: the write lock
    lets one merge through, the other is refused, and the other replica's matching cache follows."""
    from app.config import load_settings
    from app.corrections import CorrectionError, Corrections, bump_version
    from app.pipeline import HeadlineInput, Pipeline

    a_store, b_store = _stores(schema)
    try:
        settings = load_settings(env={})
        a, b = Pipeline(settings, a_store, _HashEncoder()), Pipeline(settings, b_store, _HashEncoder())
        first = a.ingest(
            [
                HeadlineInput(title="Séisme à Al Haouz", lang="fr"),
                HeadlineInput(title="Séisme à Al Haouz", lang="fr"),
                HeadlineInput(title="Pluies à Tanger", lang="fr"),
            ]
        )
        s1, s2 = first[0].story_id, first[2].story_id
        assert first[1].story_id == s1 and s1 != s2
        assert b.check("Pluies à Tanger").story_id == s2  # b's cache now holds s2's headline
        editors = [Corrections(a_store, a.forget_assignments), Corrections(b_store, b.forget_assignments)]
        barrier, outcomes = threading.Barrier(2), []

        def merge(service, source, target):
            barrier.wait()
            try:
                outcomes.append(service.merge(source, target, "ed").id)
            except CorrectionError as exc:
                outcomes.append(exc.status)

        threads = [threading.Thread(target=merge, args=args) for args in ((editors[0], s1, s2), (editors[1], s2, s1))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(o for o in outcomes if o in (404, 409)) and len(outcomes) == 2, outcomes
        sizes = {sid: a_store.story(sid).size for sid in (s1, s2)}
        assert sorted(sizes.values()) == [0, 3]
        survivor = max(sizes, key=sizes.__getitem__)
        assert a_store.merged_into([s1, s2]) == {min(sizes, key=sizes.__getitem__): survivor}
        assert a_store.corrections(10, 0)[1] == 1
        # both replicas now match every version into the survivor, whichever replica merged
        b.ingest([HeadlineInput(title="Un autre titre", lang="fr")])  # an ingest reads the corrections version
        assert b.check("Pluies à Tanger").story_id == survivor and a.check("Séisme à Al Haouz").story_id == survivor
        # a rule refitted on one replica is the rule of the other as soon as it looks at the store
        from app.teach import RULE_KEY, Rule, current_rule

        with a_store.transaction():
            a_store.set_meta(RULE_KEY, json.dumps(Rule(threshold=0.61, origin="corrections", corrections=1).__dict__))
            bump_version(a_store)
        b.ingest([HeadlineInput(title="Encore un titre", lang="fr")])
        assert b.params.threshold == 0.61 and current_rule(b).origin == "corrections"
    finally:
        a_store.close()
        b_store.close()
