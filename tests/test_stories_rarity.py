"""Names and words weighted by how common they are in the window (app/stories/rarity.py), story ages
and same-language-first in ``decide``, and the counts surviving a restart."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from app.stories import Candidate, MatchParams, decide, extract
from app.stories._text import normalise
from app.stories.decide import age_decay
from app.stories.rarity import DocumentFrequency, rarity_terms, term_weight
from app.stories.score import pair_score, score_terms, shared_names

P = MatchParams()
HOUR = 3600.0


def feats(title: str, lang: str = "en"):
    return extract(title, normalise(title), lang)


def test_term_weight_is_full_for_rare_terms_and_nothing_for_ubiquitous_ones():
    assert term_weight(0, 10_000, 0.01, 50) == 1.0
    assert term_weight(10_000, 10_000, 0.01, 50) < 0.002  # the prior: 10,050 / 10,001
    # a term in 10 % of the window: halfway between 1 % (full) and 100 % (nothing) on a log scale
    assert term_weight(999, 10_000, 0.01, 50) == pytest.approx(math.log(10_050 / 1_000) / math.log(100))
    weights = [term_weight(df, 1_000, 0.01, 50) for df in range(0, 1_000, 10)]
    assert weights == sorted(weights, reverse=True)
    # a young stream: the prior keeps a term met twice in three headlines from counting nothing
    assert term_weight(2, 3, 0.01, 50) > 0.5


def test_counts_are_per_language_and_slide_out_of_the_window():
    df = DocumentFrequency(window_seconds=72 * HOUR)
    for i in range(100):
        df.add("en", {"kardashian", f"word{i}"}, ts=i * 60.0)
    df.add("fr", {"kardashian"}, ts=0.0)
    assert df.frequencies("en")["kardashian"] == 100 and df.frequencies("fr")["kardashian"] == 1
    w = df.weights("en", {"kardashian", "word7", "never"}, 0.01, 50)
    assert w["kardashian"] < 0.2 < w["word7"] < w["never"] <= 1.0
    assert df.weights("fr", {"kardashian"}, 0.01, 50)["kardashian"] > 3 * w["kardashian"]  # rare in French
    # four days on, the first hours have left the 72-hour window
    df.add("en", {"other"}, ts=4 * 24 * HOUR)
    assert "kardashian" not in df.frequencies("en") and len(df) == 1
    # and a headline older than the window is not counted
    assert df.add("en", {"late"}, ts=0.0) is False and "late" not in df.frequencies("en")


def test_remove_takes_back_an_add():
    df = DocumentFrequency(window_seconds=HOUR * 10)
    df.add("en", {"a", "b"}, ts=HOUR)
    df.add("en", {"a"}, ts=HOUR * 2)
    df.remove("en", {"a", "b"}, ts=HOUR)
    assert df.frequencies("en") == {"a": 1} and len(df) == 1


def test_rarity_terms_are_names_leads_and_content_words():
    f = feats("Kardashian wedding: Kanye West arrives in Paris")
    assert {"karda", "kanye", "west", "paris", "wedding", "arrives"} <= rarity_terms(f)
    assert "in" not in rarity_terms(f)


def test_a_common_name_counts_less_than_a_rare_one_and_the_terms_still_add_up():
    a = feats("Kim Kardashian flies to Paris for her wedding")
    b = feats("Kim Kardashian shows off her dress in Paris")
    common = {t: 0.05 for t in rarity_terms(a)}
    rare = {t: 1.0 for t in rarity_terms(a)}
    assert shared_names(a, b, P.lead_weight, common) < shared_names(a, b, P.lead_weight, rare)
    assert shared_names(a, b, P.lead_weight, rare) == shared_names(a, b, P.lead_weight)
    low, high = (pair_score(a, b, 0.5, None, P, w) for w in (common, rare))
    assert low < high
    for w in (common, rare, None):
        assert pair_score(a, b, 0.5, None, P, w) == sum(score_terms(a, b, 0.5, None, P, w).values())


def _cand(hid: int, sid: int, title: str, cos: float, published_at: float | None = None, lang: str = "en"):
    return Candidate(hid, sid, cos, feats(title, lang), published_at=published_at, story_cosine=cos)


def test_a_story_far_in_time_stops_attracting():
    f = feats("Kanye West and Kim Kardashian arrive in Paris for their wedding")
    now = 1_000 * 86400.0
    title = "Kim Kardashian and Kanye West land in Paris ahead of their wedding"
    fresh = decide(f, now, [_cand(1, 10, title, 0.8, now - 2 * HOUR)], P)
    stale = decide(f, now, [_cand(1, 10, title, 0.8, now - 4 * 86400.0)], P)
    assert fresh.story_id == 10
    assert stale.story_id is None and stale.score < fresh.score
    # without times there is no age
    assert decide(f, None, [_cand(1, 10, title, 0.8, None)], P).score == pytest.approx(
        decide(f, now, [_cand(1, 10, title, 0.8, now)], P).score
    )
    assert age_decay(0.0, 3.0) == 0.0 and age_decay(3 * 86400.0, 3.0) == pytest.approx(1 - math.exp(-1))
    # ``at`` is the headline's time when it has no publication time of its own
    assert decide(f, None, [_cand(1, 10, title, 0.8, now - 4 * 86400.0)], P, at=now).story_id is None


def test_same_language_first_when_a_translation_and_a_same_language_story_both_pass():
    f = feats("Sultana Khaya breaks her silence and denies any split from the Polisario", "en")
    fr = _cand(1, 10, "Sultana Khaya sort de son silence et dément toute rupture avec le Polisario", 0.9, lang="fr")
    en = _cand(2, 20, "Sultana Khaya breaks silence, denies split with Polisario", 0.7, lang="en")
    both = decide(f, None, [fr, en], P)
    alone = decide(f, None, [fr], P)
    assert alone.story_id == 10 and alone.match == "translation"
    assert both.story_id == 20 and both.match == "near"


def test_a_lone_story_pays_no_rivals_penalty():
    f = feats("Morocco opens a new port in Dakhla")
    c = _cand(1, 10, "Dakhla: Morocco inaugurates its new Atlantic port", 0.7)
    with_rivals = replace(P, w_rivals=5.0)
    assert decide(f, None, [c], with_rivals).score == pytest.approx(
        decide(f, None, [c], replace(P, w_rivals=0.0)).score
    )


def test_weights_are_term_weight_of_each_term():
    df = DocumentFrequency(window_seconds=HOUR * 100)
    for i in range(3000):
        df.add("en", {"everywhere", f"w{i % 1500}", *(["often"] if i % 3 == 0 else [])}, ts=i)
    terms = {"everywhere", "often", "w7", "never"}
    counts = df.frequencies("en")
    got = df.weights("en", terms, 0.01, 50)
    assert got == {t: pytest.approx(term_weight(counts.get(t, 0), 3000, 0.01, 50), abs=1e-12) for t in terms}
    assert counts["everywhere"] == 3000 > len(range(1024))  # past the table of logarithms too


def test_a_cross_language_link_needs_joint_evidence():
    f = feats("Heavy rain floods the northern valleys", "en")
    bare = _cand(1, 10, "أمطار غزيرة تغمر الوديان الشمالية", 0.45, lang="ar")
    pulled = Candidate(1, 10, 0.45, bare.features, story_cosine=0.9)  # the story's centroid argues for it
    alone = pair_score(f, bare.features, 0.45, None, P)
    assert alone < P.threshold  # no name, figure or trigram in common, a cosine that does not pass alone
    assert decide(f, None, [pulled], P).story_id is None
    assert decide(f, None, [pulled], P).score < P.threshold
    # the same story in the headline's own language, with the same pull, is taken
    same = Candidate(2, 20, 0.45, feats("Rains flood northern valleys", "en"), story_cosine=0.9)
    assert decide(f, None, [same], P).story_id == 20
    # and a translation sharing a name joins
    named = _cand(3, 30, "Inondations dans les vallées du Rif après de fortes pluies", 0.45, lang="fr")
    f_named = feats("Heavy rain floods the Rif valleys", "en")
    d = decide(f_named, None, [Candidate(3, 30, 0.45, named.features, story_cosine=0.9)], P)
    assert d.story_id == 30 and d.match == "translation"
