"""Story matching: signals, the pair score, online decisions, and the tuned defaults on real headlines."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from app.stories import (
    EXACT,
    NEAR,
    TRANSLATION,
    Candidate,
    Features,
    MatchParams,
    decide,
    embedding_text,
    extract,
    pair_score,
)
from app.stories._text import normalise
from app.stories.score import numbers_conflict, score_terms, shares_number


def feats(title: str, lang: str | None = "fr") -> Features:
    return extract(title, normalise(title), lang)


# --- features --------------------------------------------------------------------------------


def test_names_are_folded_and_stemmed_so_they_meet_across_languages():
    fr = feats("Sahara : La Mauritanie défend la fermeture de ses frontières face au Polisario")
    en = feats("Sahara: Nouakchott says Mauritania defends its border closure against the Polisario", "en")
    assert "polis" in fr.entities and "polis" in en.entities
    assert "mauri" in fr.entities and "mauri" in en.entities  # Mauritanie / Mauritania
    es = feats("Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario", "es")
    assert {"khaya", "polis"} <= es.entities
    assert "sulta" in es.leads  # sentence-initial: a name or just a capital, kept apart


def test_sentence_initial_and_function_words_are_not_names():
    f = feats("Le FC Séville s'intéresse à Azzedine Ounahi pour renforcer son milieu")
    assert {"fc", "sevil", "azzed", "ounah"} <= f.entities
    assert "le" not in f.entities | f.leads
    g = feats("Mort de Chuck Norris, légende du cinéma d'action")
    assert "mort" in g.leads and "mort" not in g.entities
    assert {"chuck", "norri"} <= g.entities


def test_numbers_are_canonical():
    assert feats("Saisie de plus de 3,9 tonnes de chira").numbers == {"3.9"}
    assert feats("Marrakech-Safi : 12.341 entreprises créées en 2025").numbers == {"12341", "2025"}
    assert feats("Grâce Royale au profit de ١٢٠١ personnes", "ar").numbers == {"1201"}
    assert feats("Le 55e anniversaire").numbers == {"55"}


def test_weekdays_and_months_become_language_free_codes():
    fr, es, en = (
        feats("Les prévisions du samedi 21 juin"),
        feats("Previsión del sábado 21 de junio", "es"),
        feats("Forecast for Saturday 21 June", "en"),
    )
    assert fr.days == es.days == en.days == {"d6"}
    assert fr.months == es.months == en.months == {"m6"}
    assert feats("Les prévisions du dimanche").days == {"d7"}
    # and they are not counted as shared content words
    assert "samedi" not in fr.tokens


def test_features_round_trip_through_json():
    f = feats("Aïd Al Fitr : Grâce Royale au profit de 1201 personnes le vendredi 21 mars")
    text = f.to_json()
    assert isinstance(text, str) and "1201" in text
    assert Features.from_json(text) == f
    assert Features.from_json(f.to_dict()) == f


def _dataset_features(limit: int = 400) -> list[Features]:
    from conftest import DATASETS, read_jsonl

    rows = []
    for name in ("seed_ticker/gold.jsonl", "gnews_fr/dev.jsonl", "sib200/dev.jsonl"):
        path = DATASETS / name
        if not path.exists():
            pytest.skip(f"{path} is not there (../shared missing)")
        rows += read_jsonl(path)[: limit // 3]
    return [feats(r["title"], r["lang"] if len(r["lang"]) == 2 else None) for r in rows]


def test_compact_features_score_like_the_full_ones_to_the_last_bit():
    """The pipeline keeps its candidates compact: as the second headline of a pair they must give the
    very same score and terms as the sets they came from, whichever way they were made."""
    fs = _dataset_features()
    assert any(isinstance(f.grams, frozenset) and f.grams for f in fs)
    params = MatchParams()
    pairs = 0
    for i, a in enumerate(fs):
        for b in fs[i + 1 : i + 12]:
            for compact in (b.compact(), Features.from_json(b.to_json(), compact=True)):
                assert isinstance(compact.tokens, tuple)
                assert compact.to_dict() == b.to_dict()
                assert pair_score(a, compact, 0.61, 30.0, params) == pair_score(a, b, 0.61, 30.0, params)
                assert score_terms(a, compact, 0.61, None, params) == score_terms(a, b, 0.61, None, params)
            pairs += 1
    assert pairs > 3000


@pytest.mark.slow
def test_compact_features_take_less_memory():
    from bench.pure import bytes_per_entry  # the figure bench/pure.py reports

    texts = [f.to_json() for f in _dataset_features(900)]
    full, compact = bytes_per_entry(texts, False), bytes_per_entry(texts, True)
    # measured: ~6.3 KB against ~4.3 KB
    assert compact < 0.75 * full, (full, compact)


# --- numbers ---------------------------------------------------------------------------------


def test_number_agreement_and_conflict():
    assert numbers_conflict(frozenset({"21"}), frozenset({"22"}))
    assert not numbers_conflict(frozenset({"21", "2026"}), frozenset({"21"}))
    assert not numbers_conflict(frozenset(), frozenset({"5"}))
    # a rounded decimal is the same figure: "3,9 tonnes" ~ "4 tonnes"
    assert not numbers_conflict(frozenset({"3.9"}), frozenset({"4"}))
    assert shares_number(frozenset({"3.9"}), frozenset({"4"}))
    # years are shared by everything published in them: no evidence
    assert not shares_number(frozenset({"2024"}), frozenset({"2024"}))
    assert shares_number(frozenset({"1201", "2024"}), frozenset({"1201"}))


# --- pair score ------------------------------------------------------------------------------

P = MatchParams()


def test_identical_key_scores_at_least_the_threshold():
    a = feats("Aïd Al Fitr : Grâce Royale au profit de 1201 personnes")
    b = feats("Aïd Al Fitr : Grâce Royale au profit de 1201 personnes")
    assert pair_score(a, b, 0.2, None, P) >= P.threshold


def test_conflicting_days_lower_the_score():
    a = feats("Les prévisions météo du samedi pour le nord")
    same = feats("Les prévisions météo de samedi pour le nord du pays")
    other = feats("Les prévisions météo du dimanche pour le nord du pays")
    params = dataclasses.replace(P, w_conflict=0.2)
    assert pair_score(a, same, 0.8, None, params) - pair_score(a, other, 0.8, None, params) >= 0.2 - 1e-9


def test_shared_names_raise_the_score_and_terms_add_up():
    a = feats("Sultana Khaya sort du silence et dément toute «scission» avec le Polisario")
    b = feats("Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario", "es")
    c = feats("Le ministre sort du silence et dément toute scission avec le parti", "es")
    params = dataclasses.replace(P, w_entity=0.2)
    assert pair_score(a, b, 0.6, None, params) > pair_score(a, c, 0.6, None, params)
    terms = score_terms(a, b, 0.6, None, params)
    assert terms["entity"] > 0 and terms["lexical"] == 0  # lexical overlap is same-language only
    assert pair_score(a, b, 0.6, None, params) == pytest.approx(sum(terms.values()))


def test_cross_language_offset_applies_only_across_languages():
    params = dataclasses.replace(P, cross_lang_offset=0.1, cross_lang_scale=1.0)
    fr, en = feats("La Mauritanie ferme sa frontière"), feats("Mauritania closes its border", "en")
    fr2 = feats("La Mauritanie ferme sa frontière nord")
    assert score_terms(fr, en, 0.6, None, params)["cross_lang"] == pytest.approx(0.1)
    # calibration: a cross-language cosine of 0.6 counts 2 * 0.6 - 0.3
    scaled = dataclasses.replace(P, cross_lang_offset=-0.3, cross_lang_scale=2.0)
    terms = score_terms(fr, en, 0.6, None, scaled)
    assert terms["cosine"] + terms["cross_lang"] == pytest.approx(0.9)
    assert score_terms(fr, fr2, 0.6, None, params)["cross_lang"] == 0.0
    # unknown language: no offset (treated as same language)
    assert score_terms(feats("x y z", None), en, 0.6, None, params)["cross_lang"] == 0.0


def test_time_distance_is_a_capped_penalty():
    a, b = feats("Le Maroc signe un accord gazier"), feats("Le Maroc signe un accord sur le gaz")
    params = dataclasses.replace(P, w_time=0.05, time_grace_hours=24, max_time_penalty=0.2)
    base = pair_score(a, b, 0.7, None, params)
    assert pair_score(a, b, 0.7, 12.0, params) == pytest.approx(base)
    assert pair_score(a, b, 0.7, 24.0 + 48.0, params) == pytest.approx(base - 0.1)
    assert pair_score(a, b, 0.7, 24.0 * 30, params) == pytest.approx(base - 0.2)


# --- decide ----------------------------------------------------------------------------------


def test_no_candidates_opens_a_new_story():
    d = decide(feats("Un titre sans précédent"), None, [])
    assert d.story_id is None and d.match is None and d.headline_id is None and not d.duplicate


def test_identical_key_is_exact_even_with_a_low_cosine():
    f = feats("Aïd Al Fitr : Grâce Royale au profit de 1201 personnes")
    cands = [Candidate(7, 3, 0.1, feats("Aïd Al Fitr : Grâce Royale au profit de 1201 personnes"))]
    d = decide(f, None, cands)
    assert (d.story_id, d.match, d.headline_id) == (3, EXACT, 7)


def test_match_types_near_and_translation():
    fr = feats("Sénégal : Contrainte par la CAF, la FSF tente d'éteindre la polémique autour du maillot Puma")
    es = feats("Sénégal: Obligada por la CAF, la FSF intenta apagar la polémica en torno a la camiseta Puma", "es")
    fr2 = feats("Sénégal : la FSF, contrainte par la CAF, tente d'éteindre la polémique du maillot Puma")
    assert decide(fr, None, [Candidate(1, 1, 0.9, es)]).match == TRANSLATION
    assert decide(fr, None, [Candidate(1, 1, 0.9, fr2)]).match == NEAR


def test_candidates_under_min_cosine_are_skipped_and_misses_report_the_best():
    f = feats("Le FC Séville s'intéresse à Azzedine Ounahi")
    low = Candidate(1, 1, 0.05, feats("Le FC Séville s'intéresse à Azzedine Ounahi pour son milieu"))
    d = decide(f, None, [low], dataclasses.replace(P, min_cosine=0.3))
    assert d.story_id is None and d.score == 0.0
    weak = Candidate(2, 2, 0.35, feats("Mondial des clubs: Flamengo terrasse Chelsea"))
    d = decide(f, None, [weak])
    assert d.story_id is None and d.headline_id == 2 and d.score < P.threshold


def test_story_is_chosen_by_its_best_member_and_one_threshold():
    f = feats("SM le Roi accomplit la prière de l'Aïd Al Fitr à la mosquée Ahl Fès à Rabat")
    strong = feats("Rabat. SM le Roi accomplit la prière de l'Aïd Al-Fitr à la mosquée Ahl Fès")
    other = feats("Aïd Al Fitr : Grâce Royale au profit de 1201 personnes")
    cands = [Candidate(1, 10, 0.50, other), Candidate(2, 20, 0.40, other), Candidate(3, 20, 0.90, strong)]
    d = decide(f, None, cands)
    assert d.story_id == 20 and d.headline_id == 3 and d.match == NEAR
    strict = dataclasses.replace(P, threshold=d.score + 0.01)
    assert decide(f, None, cands, strict).story_id is None


def test_publication_gap_can_turn_a_match_into_a_new_story():
    f = feats("Le Maroc signe un accord gazier avec le Nigeria")
    c = feats("Le Maroc et le Nigeria signent un accord sur le gaz")
    params = dataclasses.replace(P, w_time=0.1, max_time_penalty=0.5)
    close_in_time = decide(f, 1_000_000.0, [Candidate(1, 1, 0.80, c, published_at=1_000_000.0 - 3600)], params)
    weeks_apart = decide(f, 1_000_000.0, [Candidate(1, 1, 0.80, c, published_at=1_000_000.0 - 86400 * 20)], params)
    assert close_in_time.score > weeks_apart.score


def test_decide_scores_each_of_twenty_candidates_once(monkeypatch):
    """The dedup check has a budget of 10 ms p50 (measured by the benchmarks: bench/latency.py); the
    scoring's share stays small because its work is one pair score per candidate close enough to be
    scored, and none at all when the caller already has the scores: nothing scored twice, nothing
    compared pairwise among the candidates."""
    decide_mod = importlib.import_module("app.stories.decide")  # the package's ``decide`` is the function
    score_mod = importlib.import_module("app.stories.score")

    f = feats("Tanger Med: Mise en échec d'une tentative de trafic de plus de 3,9 tonnes de chira")
    others = [
        feats(t)
        for t in (
            "Tanger-Med : Saisie de 4 tonnes de cannabis dissimulées dans du faux poisson",
            "Port d'Essaouira : Baisse de 45% des débarquements de pêche à fin février",
            "Marrakech-Safi : 12.341 entreprises créées en 2025",
            "Ligue des champions CAF : L'AS FAR élimine Pyramids et se qualifie en demi-finale",
        )
    ]
    cands = [Candidate(i, i % 7, 0.3 + 0.02 * i, others[i % 4]) for i in range(20)]
    scored = sum(c.cosine >= P.min_cosine for c in cands)
    assert scored >= 15
    want = decide(f, None, cands)

    calls = {"pair_score": 0, "terms": 0}
    pair_score_, terms_ = decide_mod.pair_score, score_mod._terms

    def counted_pair_score(*args, **kwargs):
        calls["pair_score"] += 1
        return pair_score_(*args, **kwargs)

    def counted_terms(*args, **kwargs):
        calls["terms"] += 1
        return terms_(*args, **kwargs)

    monkeypatch.setattr(decide_mod, "pair_score", counted_pair_score)
    monkeypatch.setattr(score_mod, "_terms", counted_terms)
    assert decide(f, None, cands) == want
    assert calls["pair_score"] == scored, calls
    # every look at a pair's terms: its score, and at most one more per story for a translation's evidence
    assert calls["terms"] <= scored + len({c.story_id for c in cands}), calls

    scores = decide_mod.candidate_scores(f, None, cands)
    calls.update(pair_score=0, terms=0)
    assert decide(f, None, cands, scores=scores) == want
    assert calls["pair_score"] == 0, calls


# --- tuned defaults on real headlines (needs the default encoder) -----------------------------


@pytest.fixture(scope="module")
def embed(encoder):
    def run(titles: list[str]):
        return encoder.encode([embedding_text(t) for t in titles])

    return run


def _pair(embed, a: tuple[str, str], b: tuple[str, str]):
    va, vb = embed([a[0], b[0]])
    return feats(*a), feats(*b), float(va @ vb)


@pytest.mark.parametrize(
    "a, b",
    [
        (
            ("Mauritania defends Lebriga closure amid Polisario pressure", "en"),
            ("Sahara : La Mauritanie défend la fermeture de ses frontières face au Polisario", "fr"),
        ),
        (
            ("Sultana Khaya sort du silence et dément toute «scission» avec le Polisario", "fr"),
            ("Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario", "es"),
        ),
    ],
)
def test_default_params_match_real_translations(embed, a, b):
    fa, fb, cos = _pair(embed, a, b)
    d = decide(fa, None, [Candidate(1, 1, cos, fb)])
    assert d.story_id == 1 and d.match == TRANSLATION, (cos, d)


@pytest.mark.parametrize(
    "a, b",
    [
        (("Les prévisions du samedi 21 juin", "fr"), ("Le temps qu'il fera ce samedi 21 mars 2026", "fr")),
    ],
)
def test_default_params_keep_same_topic_stories_apart(embed, a, b):
    fa, fb, cos = _pair(embed, a, b)
    assert decide(fa, None, [Candidate(1, 1, cos, fb)]).story_id is None, cos


def test_two_weather_alerts_of_one_friday_merge_by_default_and_stay_apart_for_a_strict_desk(embed):
    # One of the default's known wrong merges on sparse streams (docs/stories.md).
    fa, fb, cos = _pair(
        embed,
        ("Alerte météo: Averses orageuses et fortes rafales de vent ce vendredi", "fr"),
        ("Alerte météo. Nouvelle vague de chaleur dès ce vendredi", "fr"),
    )
    assert decide(fa, None, [Candidate(1, 1, cos, fb)]).story_id == 1
    assert decide(fa, None, [Candidate(1, 1, cos, fb)], dataclasses.replace(P, threshold=1.0)).story_id is None


def test_crowded_neighbourhood_asks_for_more():
    f = feats("Le Maroc signe un accord gazier avec le Nigeria")
    c = feats("Le Maroc et le Nigeria signent un accord sur le gaz")
    rival = feats("Le Maroc signe un accord agricole avec l'Union européenne")
    params = dataclasses.replace(P, w_rivals=1.0, rivals=2)
    alone = decide(f, None, [Candidate(1, 1, 0.7, c)], params)
    crowded = decide(
        f, None, [Candidate(1, 1, 0.7, c), Candidate(2, 2, 0.65, rival), Candidate(3, 3, 0.6, rival)], params
    )
    # alone: rivals are padded with min_cosine (0.3); crowded: their mean cosine is 0.625
    assert alone.score - crowded.score == pytest.approx(0.625 - params.min_cosine)


def test_story_centroid_pulls_the_story_score():
    f = feats("Le Maroc signe un accord gazier avec le Nigeria")
    c = feats("Le Maroc et le Nigeria signent un accord sur le gaz")
    params = dataclasses.replace(P, w_centroid=0.5, w_rivals=0.0)
    plain = decide(f, None, [Candidate(1, 1, 0.7, c)], params)
    near_centroid = decide(f, None, [Candidate(1, 1, 0.7, c, story_cosine=0.9)], params)
    assert near_centroid.score - plain.score == pytest.approx(0.5 * (0.9 - 0.7))


def _served_stories(encoder, rows: list[dict], **env: str) -> list[int]:
    """Each row's story as the service assigns it (the pipeline on an in-memory store, file order)."""
    from app.config import load_settings
    from app.pipeline import HeadlineInput, Pipeline
    from app.store import open_store

    settings = load_settings(env=env)
    pipeline = Pipeline(settings, open_store(settings, encoder.dim, memory=True), encoder)
    out: list[int] = []
    for i in range(0, len(rows), 100):
        out += [
            r.story_id
            for r in pipeline.ingest([HeadlineInput(title=r["title"], lang=r["lang"]) for r in rows[i : i + 100]])
        ]
    return out


#: a desk that wants tight duplicates only (docs/stories.md: the default's trade-off)
STRICT = {"TICKER_MATCH_THRESHOLD": "1.0"}


def test_seed_ticker_stories_default_and_strict(encoder, seed_gold):
    from app.eval.metrics import bcubed, pairwise

    gold = [r["story"] for r in seed_gold]
    default = _served_stories(encoder, seed_gold)
    # The default is fitted for dense streams: on this sparse file it merges three pairs of same-topic
    # stories (docs/stories.md lists them) and finds 9 of 11 gold pairs.
    assert bcubed(gold, default).f1 >= 0.97 and pairwise(gold, default).f1 >= 0.7
    strict = pairwise(gold, _served_stories(encoder, seed_gold, **STRICT))
    assert strict.precision == 1.0 and strict.f1 >= 0.85


def test_sib200_translations_default_and_strict(encoder):
    import json
    from pathlib import Path

    from app.eval.metrics import pairwise

    path = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "sib200" / "dev.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r["lang"] in ("en", "fr", "es", "ar")]
    gold = [r["parallel_id"] for r in rows]
    assert pairwise(gold, _served_stories(encoder, rows)).f1 >= 0.95
    assert pairwise(gold, _served_stories(encoder, rows, **STRICT)).f1 >= 0.98


def test_precomputed_candidate_scores_and_sorted_rivals_give_the_same_decisions():
    import random

    from app.stories.decide import _rivals_mean, candidate_scores, rival_reference

    titles = [
        "Alerte météo: Averses orageuses dans plusieurs provinces",
        "Alerte météo. Nouvelle vague de chaleur",
        "Sahara : La Mauritanie défend la fermeture de ses frontières",
        "Mauritania defends Lebriga closure",
        "Le FC Séville s'intéresse à Azzedine Ounahi",
        "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes",
        "Tanger Med: Mise en échec d'un trafic de 3,9 tonnes de chira",
        "CAF : la FSF tente d'éteindre la polémique",
    ]
    rng = random.Random(3)
    for _ in range(200):
        f = feats(rng.choice(titles))
        cands = [
            Candidate(
                i,
                rng.randrange(6),
                rng.uniform(0.1, 0.95),
                feats(rng.choice(titles)),
                story_cosine=rng.uniform(0.2, 0.9),
            )
            for i in range(rng.randrange(1, 12))
        ]
        cands = [c for c in cands if c.features.key != f.key]
        scores = candidate_scores(f, None, cands)
        assert [s is None for s in scores] == [c.cosine < P.min_cosine for c in cands]
        assert decide(f, None, cands, P, scores) == decide(f, None, cands, P)
        top = {c.story_id: c.cosine for c in cands}
        ranked = sorted(top.items(), key=lambda sc: -sc[1])
        for sid in top:
            assert _rivals_mean(ranked, sid, P.rivals, P.min_cosine) == rival_reference(
                top, sid, P.rivals, P.min_cosine
            )


def test_the_arabic_version_of_a_sample_story_is_found_as_a_translation(encoder):
    """Its best pair scored 0.82 while story-level terms left the story at 0.39, under the threshold."""
    from app.config import load_settings
    from app.pipeline import Pipeline
    from app.sample import load_sample_data
    from app.store import open_store

    settings = load_settings(env={})
    pipeline = Pipeline(settings, open_store(settings, encoder.dim, memory=True), encoder)
    load_sample_data(pipeline)
    r = pipeline.check("سلطانة خيا تخرج عن صمتها وتنفي أي انشقاق عن البوليساريو")
    assert r.duplicate and r.match == TRANSLATION and r.score >= r.threshold
    assert {m.lang for m in r.matches if m.story_id == r.story_id} >= {"fr", "es"}
