"""Teaching the matcher: the threshold refitted from editors' corrections, with its guard rails, shared
through the store, shown at /v1/matcher; and ``python -m app.eval --feedback``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.stories.teach import Sample, fit_threshold
from app.teach import due

KEY = {"X-API-Key": "k", "X-Editor": "Amina"}


def test_the_threshold_moves_toward_what_the_corrections_say_within_a_bounded_step():
    # editors said "same story" of pairs scoring 0.55-0.65 and "not the same" of pairs at 0.40-0.50
    samples = [
        Sample(0.55 + 0.01 * (i % 10), True) if (i // 2) % 2 else Sample(0.40 + 0.01 * (i % 10), False)
        for i in range(40)
    ]
    fit = fit_threshold(samples, current=0.744, max_step=0.2)
    assert fit.changed and 0.544 <= fit.threshold < 0.744  # down, but no more than the step
    assert fit.validation_accuracy > fit.previous_validation_accuracy
    free = fit_threshold(samples, current=0.744, max_step=1.0)
    assert 0.49 < free.threshold <= 0.55 and free.validation_accuracy == 1.0


def test_the_previous_threshold_stays_when_the_new_one_validates_worse_or_pairs_are_few():
    few = [Sample(0.1, True), Sample(0.9, False)]
    assert fit_threshold(few, current=0.7).changed is False
    # labels that contradict each other from one half to the other: nothing learnt carries over
    noisy = [Sample(0.5 + 0.001 * i, i % 4 in (0, 1)) for i in range(40)]
    fit = fit_threshold(noisy, current=0.7, max_step=0.5)
    assert fit.threshold == 0.7 or fit.validation_accuracy >= fit.previous_validation_accuracy


def test_refits_fall_due_at_the_minimum_then_every_few_corrections():
    assert [t for t in range(1, 40) if due(t, 20, 5)] == [20, 25, 30, 35]
    assert not any(due(t, 0, 5) for t in range(100))


A = "Le Maroc signe un accord gazier historique avec le Nigeria à Rabat"


def test_matcher_shows_the_rule_and_a_refit_from_corrections_is_shared_and_kept(make_client, tmp_path):
    c = make_client(api_key="k", teach_min_corrections=2, teach_every=1, data_dir=tmp_path / "d")
    rule = c.get("/v1/matcher").json()
    assert rule["origin"] == "default" and rule["threshold"] == rule["params"]["threshold"] > 0
    assert rule["corrections"] == 0 and rule["fitted_at"] is None
    titles = [
        A,
        A.replace("historique ", ""),
        "Le Nigeria et le Maroc signent un accord sur le gaz",
        "Accord gazier Maroc-Nigeria signé à Rabat",
        "Inondations à Tétouan : routes coupées",
        "Tétouan : des routes coupées par les inondations",
        "La Bourse de Casablanca finit en hausse",
        "Casablanca : la Bourse termine la semaine dans le vert",
    ]
    res = c.post(
        "/v1/headlines",
        json={"headlines": [{"title": t, "lang": "fr", "source": f"s{i}"} for i, t in enumerate(titles)]},
        headers=KEY,
    ).json()["results"]
    joined = [r["headline_id"] for r in res if r["duplicate"]]
    assert len(joined) >= 2
    # a strict desk splits every joined headline out: from the second correction on, the rule is refitted
    for hid in joined:
        assert (
            c.post("/v1/corrections/move", json={"headline_ids": [hid], "to_story_id": None}, headers=KEY).status_code
            == 201
        )
    body = c.get("/v1/matcher").json()
    assert body["corrections"] == len(joined) and body["fitted_at"] is not None
    assert body["pairs"] == body["figures"]["pairs"] and body["figures"]["seconds"] >= 0
    assert body["threshold"] >= rule["threshold"]  # "not the same story" pairs never lower it
    assert c.post("/v1/matcher/refit", headers=KEY).json()["threshold"] == body["threshold"]
    # a restart (another app on the same store) applies the same rule
    again = make_client(api_key="k", data_dir=tmp_path / "d")
    assert again.get("/v1/matcher").json()["threshold"] == body["threshold"]


def test_refit_needs_the_key(make_client):
    c = make_client(api_key="k")
    assert c.post("/v1/matcher/refit").status_code == 401


def test_feedback_reports_the_second_half_with_and_without_the_editor(tmp_path: Path, encoder, monkeypatch, capsys):
    import embeddings
    from app.eval import __main__ as cli

    monkeypatch.setattr(embeddings, "load_encoder", lambda *a, **k: encoder)
    path = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "gnews_fr" / "dev.jsonl"
    if not path.exists():
        pytest.skip("shared datasets not available")
    assert cli.main(["stories", str(path), "--gold", "label", "--limit", "160", "--feedback", "10"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["n_items"] == 160 and 0 < out["bcubed_f1"] <= 1
    for key in ("after_feedback", "without_feedback"):
        assert out[key]["n_items"] == 80 and 0 < out[key]["bcubed_f1"] <= 1
    assert 0 < out["feedback"]["corrections"] <= 10 and out["feedback"]["budget"] == 10
    with pytest.raises(SystemExit):
        cli.main(["topics", str(path), "--gold", "topic", "--feedback", "3"])
