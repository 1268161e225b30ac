"""Evidence an editor can act on: the dedup check's verdict and calibrated confidence, when and where each
match ran, the same text once, other stories apart; unknown languages and every bad batch item refused at
once; HEAD on the pages. All over HTTP (TestClient on the real app), and the calibration recomputed on the
shared labelled sets' held-out half (bench/calibrate_check.py, docs/evidence.md)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from app.stories.confidence import CONFIDENCE_INTERCEPT, CONFIDENCE_SLOPE, POSSIBLE_BAR, confidence, verdict

KHAYA_FR = "Sultana Khaya sort du silence et dément toute «scission» avec le Polisario"
KHAYA_ES = "Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario"
KHAYA_EN = "Sultana Khaya breaks her silence and denies any split with the Polisario"
OTHER_FR = "Le Polisario accuse le Maroc lors d'une réunion à Alger"


def _iso(minutes_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")


def _seed(client, translation: bool = True) -> list[dict]:
    r = client.post(
        "/v1/headlines",
        json={
            "headlines": [
                {
                    "title": KHAYA_FR,
                    "source": "le360",
                    "url": "https://fr.le360.ma/khaya",
                    "published_at": _iso(37),
                    "lang": "fr",
                },
                {
                    "title": KHAYA_FR,
                    "source": "hespress-fr",
                    "published_at": _iso(20),
                    "lang": "fr",
                },  # the same text again
                *(
                    [{"title": KHAYA_ES, "source": "le360-es", "url": "https://es.le360.ma/khaya", "lang": "es"}]
                    if translation
                    else []
                ),
                {"title": OTHER_FR, "source": "alyaoum24", "published_at": _iso(90), "lang": "fr"},
            ]
        },
    )
    assert r.status_code == 200, r.text
    return r.json()["results"]


def test_check_carries_verdict_confidence_and_when_and_where_it_ran(client) -> None:
    ids = _seed(client)
    r = client.post("/v1/dedup/check", json={"title": KHAYA_EN})
    assert r.status_code == 200, r.text
    body = r.json()
    # the existing fields keep their meaning
    assert body["duplicate"] is True and body["story_id"] == ids[0]["story_id"] and body["match"] == "translation"
    assert body["verdict"] == "duplicate" and body["closest_story_id"] == body["story_id"]
    assert 0.5 <= body["confidence"] <= 1.0
    assert body["confidence"] == confidence(body["score"], body["threshold"], True)

    titles = [m["title"] for m in body["matches"]]
    assert titles.count(KHAYA_FR) == 1, "the same text is listed once"
    fr = next(m for m in body["matches"] if m["title"] == KHAYA_FR)
    assert fr["copies"] == 2 and fr["same_story"] is True
    # when and where it ran: the first of the two copies (the better-ranked one) is shown with its own facts
    assert fr["source"] in ("le360", "hespress-fr") and fr["published_at"].endswith("Z") and fr["received_at"]
    if fr["source"] == "le360":
        assert fr["url"] == "https://fr.le360.ma/khaya"
    es = next(m for m in body["matches"] if m["title"] == KHAYA_ES)
    assert es["url"] == "https://es.le360.ma/khaya" and es["source"] == "le360-es" and es["published_at"] is None
    assert es["received_at"] is not None  # when the feed gave no time, when it arrived

    # other stories' headlines are flagged and grouped apart, never as the same story
    related = [m for m in body["matches"] if not m["same_story"]]
    assert body["related"] == related
    assert all(m["story_id"] != body["story_id"] for m in related)
    assert all(m["story_id"] == body["story_id"] for m in body["matches"] if m["same_story"])
    assert OTHER_FR in [m["title"] for m in body["related"]]


def test_possible_and_new_verdicts_follow_the_threshold(make_client, tmp_path: Path) -> None:
    """The same stored headlines and check under a threshold moved above the check's score (as an editor's
    corrections or TICKER_MATCH_THRESHOLD move it): possible just under it, new far under it."""
    # without the Spanish version, which joins the story or not depending on the threshold: the same stories
    # under every threshold (the copy joins as an exact repeat), so the same score
    first = make_client(data_dir=tmp_path / "a")
    _seed(first, translation=False)
    base = first.post("/v1/dedup/check", json={"title": KHAYA_EN}).json()
    seen = [(base["score"] - base["threshold"], base["confidence"], base["verdict"])]
    for gap in (0.05, 0.4, 1.5):
        c = make_client(data_dir=tmp_path / f"t{gap}", match_threshold=base["score"] + gap)
        _seed(c, translation=False)
        body = c.post("/v1/dedup/check", json={"title": KHAYA_EN}).json()
        assert body["duplicate"] is False and body["story_id"] is None
        assert body["closest_story_id"] is not None and body["score"] == pytest.approx(base["score"], abs=1e-3)
        assert (body["verdict"] == "possible") == (body["confidence"] >= POSSIBLE_BAR)
        seen.append((body["score"] - body["threshold"], body["confidence"], body["verdict"]))
        # the story is still shown as the one the confidence is about
        assert any(m["same_story"] for m in body["matches"])
        # and, whole, as the answer's story: its one language, its earliest headline
        assert body["story"]["id"] == body["closest_story_id"] and body["story"]["size"] == 2
        assert [(v["title"], v["source"]) for v in body["story"]["versions"]] == [(KHAYA_FR, "le360")]
    assert [v for *_, v in seen] == ["duplicate", "possible", "new", "new"]
    confs = [c for _, c, _ in seen]
    assert confs == sorted(confs, reverse=True) and confs[0] > confs[-1]


def test_nothing_close_is_new_with_zero_confidence(client) -> None:
    body = client.post("/v1/dedup/check", json={"title": "Recette : un gâteau au chocolat sans farine"}).json()
    assert body["verdict"] == "new" and body["confidence"] == 0.0 and body["closest_story_id"] is None
    assert body["matches"] == [] and body["related"] == []


def test_confidence_is_monotone_and_the_verdict_consistent() -> None:
    for threshold in (0.5, 0.744, 1.0, 1.3):
        scores = [threshold + d / 100 for d in range(-150, 151)]
        rows = [(s, s >= threshold) for s in scores]  # decide: duplicate exactly at or over the threshold
        confs = [confidence(s, threshold, dup) for s, dup in rows]
        assert confs == sorted(confs) and all(0.0 <= c <= 1.0 for c in confs)
        for (_, dup), c in zip(rows, confs):
            v = verdict(dup, c)
            assert (v == "duplicate") == dup
            assert v != "possible" or c >= POSSIBLE_BAR
            assert v != "new" or c < POSSIBLE_BAR
    # an exact repeat (score 1.0) under a threshold set over 1.0 is still a duplicate, read at the threshold
    assert confidence(1.0, 1.2, True) == confidence(1.2, 1.2, True) > POSSIBLE_BAR
    # a duplicate is never less confident than the bar: its verdict and "possible" cannot cross
    for a, b in itertools.pairwise([confidence(t + 0.0, t, True) for t in (0.3, 0.744, 2.0)]):
        assert a == b


@pytest.mark.slow
def test_calibration_holds_on_the_held_out_half(encoder) -> None:
    """Recomputed: the small labelled sets replayed through the check (as bench/calibrate_check.py does),
    the held-out half (odd gold-story hash) scored with the constants in code. Measured 2026-12-07 on this
    half (docs/evidence.md): Brier 0.0422 (base rate 0.1806), ECE 0.0702 over 482 pairs; the tolerance
    covers a CPU whose int8 products differ in the last bits."""
    from conftest import DATASETS

    from bench.calibrate_check import NEWSROOM_SETS, SETS, evaluate, replay

    if not DATASETS.exists():
        pytest.skip(f"{DATASETS} is not there (../shared missing)")
    pairs = []
    for key in ("seed", "gnews", "sib"):
        pairs += replay(SETS[key], encoder)
    held = evaluate(pairs)
    pooled = held["pooled"]
    assert {q["set"] for q in pairs} == set(NEWSROOM_SETS)
    assert 450 <= pooled["n"] <= 520
    assert pooled["brier"] <= 0.0422 + 0.01
    assert pooled["ece"] <= 0.0702 + 0.03
    assert pooled["brier"] < 0.5 * pooled["brier_base_rate"]
    for name in NEWSROOM_SETS:
        assert held[name]["brier"] < held[name]["brier_base_rate"], (name, held[name])
    # the bins holding 50 pairs or more are within 0.15 of what they predict (measured: 0.126 at most, the
    # 0.1-0.2 bin, where these sets see fewer same-story pairs than predicted; the top bin within 0.02)
    for row in pooled["table"]:
        if row["count"] >= 50:
            assert abs(row["mean_predicted"] - row["observed"]) <= 0.15, row
    # and the constants are what the bench prints (one place, named)
    assert (CONFIDENCE_SLOPE, CONFIDENCE_INTERCEPT) == (4.592, 0.042)


# --- languages --------------------------------------------------------------------------------------


def test_unknown_lang_is_422_naming_the_item_and_the_accepted_codes(client) -> None:
    r = client.post(
        "/v1/headlines",
        json={
            "headlines": [
                {"title": KHAYA_FR, "lang": "fr"},
                {"title": "Le Maroc et la CAF signent un accord", "lang": "de"},
                {"title": "Le Maroc et la CAF signent un accord", "lang": "xx"},
            ]
        },
    )
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", "headlines", 1, "lang"], ["body", "headlines", 2, "lang"]]
    for d in detail:
        assert "fr, es, en, ar, ary" in d["msg"]
        assert {"fr", "es", "en", "ar", "ary", "fra", "ara"} <= set(d["ctx"]["accepted"])
    assert client.get("/v1/stories").json()["total"] == 0, "nothing stored"
    r = client.post("/v1/dedup/check", json={"title": KHAYA_FR, "lang": "de"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "lang"]
    for ok in ("fr", "FR", "fra", "en-US", "es", "ar", "ary", ""):
        assert client.post("/v1/dedup/check", json={"title": KHAYA_FR, "lang": ok}).status_code == 200, ok


def test_accepted_languages_follow_ticker_languages(make_client) -> None:
    c = make_client(languages=("fr", "de"))
    assert c.post("/v1/dedup/check", json={"title": KHAYA_FR, "lang": "de"}).status_code == 200
    r = c.post("/v1/dedup/check", json={"title": KHAYA_FR, "lang": "es"})
    assert r.status_code == 422 and r.json()["detail"][0]["ctx"]["accepted"][:2] == ["fr", "de"]
    r = c.post("/v1/dedup/check", json={"title": KHAYA_FR, "lang": "ary"})
    assert r.status_code == 422, "Moroccan Arabic is accepted only beside Arabic"


# --- a refused batch lists every bad item -----------------------------------------------------------


def test_refused_batch_lists_every_bad_item(client) -> None:
    r = client.post("/v1/headlines", json={"headlines": [{"title": ""}, {"title": "  "}, {"source": "x"}]})
    assert r.status_code == 422
    locs = [d["loc"] for d in r.json()["detail"]]
    assert locs == [["body", "headlines", i, "title"] for i in range(3)]

    r = client.post(
        "/v1/headlines",
        json={
            "headlines": [
                {"title": "Le Maroc et la CAF", "lang": "de"},
                {"title": "…"},
                {"title": 12},
                {"title": "Le Maroc et la CAF", "publishedAt": "2026-01-01"},
                {"title": "Le Maroc", "published_at": (datetime.now(timezone.utc) + timedelta(days=5)).isoformat()},
                "not an object",
                {"title": "Tout va bien au Maroc"},
            ]
        },
    )
    assert r.status_code == 422
    locs = [tuple(d["loc"]) for d in r.json()["detail"]]
    assert locs == [
        ("body", "headlines", 0, "lang"),
        ("body", "headlines", 1, "title"),
        ("body", "headlines", 2, "title"),
        ("body", "headlines", 3, "publishedAt"),
        ("body", "headlines", 4, "published_at"),
        ("body", "headlines", 5),
    ], locs
    assert client.get("/v1/stories").json()["total"] == 0

    r = client.post("/v1/dedup/check", json={"title": " ", "lang": "xx", "extra": 1})
    assert r.status_code == 422
    assert sorted(tuple(d["loc"]) for d in r.json()["detail"]) == [
        ("body", "extra"),
        ("body", "lang"),
        ("body", "title"),
    ]


# --- HEAD on the pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path, kind", [("/", "text/html"), ("/plugin.js", "application/javascript"), ("/plugin-demo", "text/html")]
)
def test_head_on_the_pages(client, path: str, kind: str) -> None:
    got = client.get(path)
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith(kind)
    assert head.headers["content-length"] == str(len(got.content))
    assert head.headers.get("etag") == got.headers.get("etag") and head.headers.get("last-modified")


# --- the whole story, by language -------------------------------------------------------------------

#: one story: six near-identical French headlines, looser translations (they join the story but score
#: under every French rewrite against a French check, so the top 5 matches are all French)
TANGER_FR = [
    "Tanger Med : saisie de 4 tonnes de cannabis dissimulées dans du faux poisson",
    "Tanger Med : saisie de 4 tonnes de cannabis cachées dans du faux poisson",
    "Tanger Med : saisie record de 4 tonnes de cannabis dissimulées dans du faux poisson",
    "Port Tanger Med : saisie de 4 tonnes de cannabis dissimulées dans du faux poisson",
    "Tanger Med : la douane saisit 4 tonnes de cannabis dissimulées dans du faux poisson",
    "Tanger Med : saisie de 4 tonnes de cannabis dissimulées dans du poisson",
]
TANGER_ES = "Tanger Med: la aduana descubre cannabis escondido en pescado falso"
TANGER_EN = "Tanger Med: customs find cannabis hidden in fake fish"
TANGER_AR = "طنجة المتوسط: الجمارك تحجز القنب الهندي مخبأ في سمك مزيف"


def _seed_tanger(client) -> tuple[list[dict], list[dict]]:
    """The headlines as posted (oldest first: French from 90 min ago, Spanish 40, English 30, Arabic with
    no time, i.e. now) and their results."""
    posted = [
        {"title": t, "source": f"fr-{i}", "lang": "fr", "published_at": _iso(90 - 5 * i)}
        for i, t in enumerate(TANGER_FR)
    ]
    posted += [
        {
            "title": TANGER_ES,
            "source": "es-1",
            "lang": "es",
            "url": "https://es.example.ma/t",
            "published_at": _iso(40),
        },
        {"title": TANGER_EN, "source": "en-1", "lang": "en", "published_at": _iso(30)},
        {"title": TANGER_AR, "source": "ar-1", "lang": "ar"},
    ]
    r = client.post("/v1/headlines", json={"headlines": posted})
    assert r.status_code == 200, r.text
    return posted, r.json()["results"]


def test_the_check_shows_the_whole_story_by_language_beyond_its_top_matches(client) -> None:
    posted, results = _seed_tanger(client)
    story_id = results[0]["story_id"]
    assert all(r["story_id"] == story_id for r in results[:8]), "French, Spanish and English are one story"
    body = client.post("/v1/dedup/check", json={"title": TANGER_FR[0]}).json()
    assert body["duplicate"] is True and body["closest_story_id"] == story_id
    # the top matches are all French: on their own they would show one language
    assert len(body["matches"]) == 5 and {m["lang"] for m in body["matches"]} == {"fr"}

    story = body["story"]
    # every language of the story, each its earliest headline, in the order they ran
    in_story = [(p, r) for p, r in zip(posted, results) if r["story_id"] == story_id]
    expected = []
    for p, r in in_story:  # posted oldest first
        if p["lang"] not in [v["lang"] for v in expected]:
            expected.append(
                {
                    "headline_id": r["headline_id"],
                    "title": p["title"],
                    "lang": p["lang"],
                    "source": p["source"],
                    "url": p.get("url"),
                }
            )
    assert [v["lang"] for v in expected][:3] == ["fr", "es", "en"]
    assert [{k: v[k] for k in ("headline_id", "title", "lang", "source", "url")} for v in story["versions"]] == expected
    fr, es, en = story["versions"][:3]
    assert fr["published_at"] == posted[0]["published_at"].replace("+00:00", "Z") and fr["received_at"].endswith("Z")
    assert es["published_at"].endswith("Z") and en["published_at"].endswith("Z")
    if len(story["versions"]) == 4:  # Arabic joined (no time given: received now, so it ran last)
        assert story["versions"][3]["published_at"] is None and story["versions"][3]["received_at"]

    # the story's figures are those of GET /v1/stories/{id}
    detail = client.get(f"/v1/stories/{story_id}").json()
    assert story["id"] == story_id
    for key in ("size", "n_sources", "languages", "first_seen", "last_seen"):
        assert story[key] == detail[key], key
    assert story["size"] == len(in_story) and story["n_sources"] == len(in_story)
    assert story["languages"] == [v["lang"] for v in story["versions"]]
    assert story["first_seen"] == fr["published_at"]

    # the existing fields keep their meaning
    assert body["related"] == [m for m in body["matches"] if not m["same_story"]]


def test_the_story_is_null_when_nothing_is_close(client) -> None:
    _seed_tanger(client)
    r = client.post("/v1/dedup/check", json={"title": "Recette : un gâteau au chocolat sans farine"})
    body = r.json()
    assert body["closest_story_id"] is None and "story" in body and body["story"] is None
    assert '"story":null' in r.text


def test_a_language_that_ran_late_in_a_large_story_is_listed_and_read_again_when_it_changes(
    client, monkeypatch
) -> None:
    """A story larger than the oldest headlines read first, whose later languages are not among them:
    its languages' first headlines are read with ``story_briefs``, once until the story changes; at most 12."""
    from app.matching import evidence

    monkeypatch.setattr(evidence, "STORY_PAGE", 2)
    posted, results = _seed_tanger(client)
    story_id = results[0]["story_id"]
    store = client.app.state.ticker.store
    briefs: list[int] = []
    read_briefs = store.story_briefs
    monkeypatch.setattr(store, "story_briefs", lambda stories: briefs.append(1) or read_briefs(stories))

    def versions() -> list[tuple[str, int]]:
        body = client.post("/v1/dedup/check", json={"title": TANGER_FR[0]}).json()
        assert body["story"]["languages"] == [v["lang"] for v in body["story"]["versions"]]
        return [(v["lang"], v["headline_id"]) for v in body["story"]["versions"]]

    first = versions()
    assert [lang for lang, _ in first][:3] == ["fr", "es", "en"] and first[0] == ("fr", results[0]["headline_id"])
    assert len(briefs) == 1
    assert versions() == first and len(briefs) == 1, "read once while the story is unchanged"
    # an English version that ran before the first one, posted now: the story changed, and the answer with it
    earlier = client.post(
        "/v1/headlines",
        json={
            "headlines": [
                {"title": TANGER_EN + " at the port", "source": "en-2", "lang": "en", "published_at": _iso(35)}
            ]
        },
    ).json()["results"][0]
    assert earlier["story_id"] == story_id
    now = versions()
    assert len(briefs) == 2 and now[2] == ("en", earlier["headline_id"]) and now[:2] == first[:2]

    got = evidence.story_versions(store, story_id, limit=2)
    assert got is not None and [h.lang for h in got[1]] == ["fr", "es"]
    assert evidence.story_versions(store, None) is None and evidence.story_versions(store, 10**9) is None
