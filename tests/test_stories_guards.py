"""Story matching precision guards (off by default): name groups, residual overlap, rare shared words."""

from __future__ import annotations

import dataclasses

from app.stories import Candidate, Features, MatchParams, extract
from app.stories._text import normalise
from app.stories.decide import story_frequency
from app.stories.score import score_terms, shared_names, specific_shared


def feats(title: str, lang: str | None = "en") -> Features:
    return extract(title, normalise(title), lang)


def test_adjacent_capitalised_words_form_one_name_group():
    f = feats("Rishi Sunak: No 91,000 target for civil service job cuts")
    assert ("rishi", "sunak") in f.groups
    g = feats("SM le Roi, Amir Al-Mouminine, accomplit la prière de l'Aïd Al Fitr à Rabat", "fr")
    assert ("amir", "moumi") in g.groups and ("aid", "fitr") in g.groups and ("rabat",) in g.groups


def test_groups_round_trip_and_old_features_without_groups_still_load():
    f = feats("Boris Johnson did the right thing, says Scottish Tory MP")
    assert Features.from_json(f.to_json()) == f
    old = {k: v for k, v in f.to_dict().items() if k != "groups"}
    assert Features.from_json(old).groups == ()


def test_one_person_is_one_shared_name_when_counted_by_group():
    a = feats("Rishi Sunak backtracks on £10 missed NHS appointment fines")
    b = feats("Rishi Sunak admits not enough asylum claims are being processed")
    assert shared_names(a, b, 0.5) == 1.5  # per word: sunak + half of the sentence-initial rishi
    assert shared_names(a, b, 0.5, by_group=True) == 1


def test_residual_overlap_ignores_the_shared_name():
    a = feats("Rishi Sunak backtracks on missed appointment fines")
    b = feats("Rishi Sunak admits asylum claims backlog")
    on = dataclasses.replace(MatchParams(), residual_lexical=True)
    off = MatchParams()
    assert score_terms(a, b, 0.4, None, off)["lexical"] > 0
    assert score_terms(a, b, 0.4, None, on)["lexical"] == 0
    assert score_terms(a, b, 0.4, None, on)["gram"] < score_terms(a, b, 0.4, None, off)["gram"]


def test_rare_shared_words_weigh_more_than_words_every_candidate_story_has():
    f = feats("Canicule : quatre départements en vigilance rouge", "fr")
    same = feats("Canicule : vigilance rouge dans quatre départements du sud", "fr")
    other = [feats(t, "fr") for t in ("Canicule : les conseils pour dormir", "Canicule : record de chaleur à Nîmes")]
    cands = [Candidate(1, 1, 0.8, same)] + [Candidate(2 + i, 2 + i, 0.6, o) for i, o in enumerate(other)]
    freq = story_frequency(f, cands, 0.3)
    assert freq["canic"] == 3 and freq["vigil"] == 1
    assert specific_shared(f, same, freq) > specific_shared(f, other[0], freq)
    params = dataclasses.replace(MatchParams(), w_specific=0.3)
    assert score_terms(f, same, 0.8, None, params, freq)["specific"] > 0
    assert score_terms(f, same, 0.8, None, MatchParams(), freq)["specific"] == 0.0
