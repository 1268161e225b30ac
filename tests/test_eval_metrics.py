"""Clustering metrics on tiny cases whose values are worked out by hand in the comments."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from app.eval.metrics import PairCounts, ari, bcubed, cluster_metrics, largest_cluster, nmi, pairs_by_lang, pairwise


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, abs_tol=1e-9)


def test_perfect_agreement_scores_one_whatever_the_label_names():
    gold = ["a", "a", "b", "c", "c", "c"]
    pred = [7, 7, 3, 9, 9, 9]
    pw, b3 = pairwise(gold, pred), bcubed(gold, pred)
    assert (pw.precision, pw.recall, pw.f1) == (1.0, 1.0, 1.0)
    assert close(b3.precision, 1.0) and close(b3.recall, 1.0) and close(b3.f1, 1.0)
    assert close(nmi(gold, pred), 1.0)
    assert close(ari(gold, pred), 1.0)


def test_one_item_moved_between_two_clusters():
    # gold {1,2,3} {4,5}; predicted {1,2} {3,4,5}
    gold = ["a", "a", "a", "b", "b"]
    pred = ["x", "x", "y", "y", "y"]
    # gold pairs: 12 13 23 45 = 4; predicted pairs: 12 34 35 45 = 4; both: 12 45 = 2
    pw = pairwise(gold, pred)
    assert close(pw.precision, 0.5) and close(pw.recall, 0.5) and close(pw.f1, 0.5)
    # BCubed precision per item: 1, 1, 1/3, 2/3, 2/3  -> 11/15
    # BCubed recall per item:    2/3, 2/3, 1/3, 1, 1  -> 11/15
    b3 = bcubed(gold, pred)
    assert close(b3.precision, 11 / 15) and close(b3.recall, 11 / 15) and close(b3.f1, 11 / 15)
    # ARI: index 2, expected 4*4/10 = 1.6, max (4+4)/2 = 4 -> (2-1.6)/(4-1.6) = 1/6
    assert close(ari(gold, pred), 1 / 6)


def test_everything_split_apart():
    # gold: one cluster of 4; predicted: 4 singletons. No predicted pair: precision 1 by convention.
    gold = [1, 1, 1, 1]
    pred = [1, 2, 3, 4]
    pw = pairwise(gold, pred)
    assert (pw.precision, pw.recall, pw.f1) == (1.0, 0.0, 0.0)
    # BCubed: every item is alone (P = 1) and finds 1 of its 4 (R = 1/4) -> F1 = 2*(1/4)/(5/4) = 0.4
    b3 = bcubed(gold, pred)
    assert close(b3.precision, 1.0) and close(b3.recall, 0.25) and close(b3.f1, 0.4)


def test_everything_lumped_together():
    # gold {1,2} {3,4}; predicted one cluster: 6 predicted pairs, 2 of them right.
    gold = ["a", "a", "b", "b"]
    pred = [0, 0, 0, 0]
    pw = pairwise(gold, pred)
    assert close(pw.precision, 1 / 3) and close(pw.recall, 1.0) and close(pw.f1, 0.5)
    # BCubed precision: each item's cluster of 4 holds 2 of its own -> 1/2; recall 1 -> F1 2/3
    b3 = bcubed(gold, pred)
    assert close(b3.precision, 0.5) and close(b3.recall, 1.0) and close(b3.f1, 2 / 3)


def test_independent_partitions_share_no_information():
    # Each predicted cluster holds one item of each gold cluster: mutual information 0.
    gold = ["a", "a", "b", "b"]
    pred = ["x", "y", "x", "y"]
    assert close(nmi(gold, pred), 0.0)
    pw = pairwise(gold, pred)
    assert close(pw.precision, 0.0) and close(pw.recall, 0.0) and pw.f1 == 0.0


def test_cluster_metrics_flat_dict_and_length_check():
    out = cluster_metrics(["a", "a", "b"], ["x", "x", "y"])
    assert out["n"] == 3 and out["gold_clusters"] == 2 and out["pred_clusters"] == 2
    for key in ("pairwise_p", "pairwise_r", "pairwise_f1", "bcubed_p", "bcubed_r", "bcubed_f1", "nmi", "ari"):
        assert close(out[key], 1.0), key
    with pytest.raises(ValueError):
        pairwise([1, 2], [1])


def test_largest_cluster_counts_items():
    assert largest_cluster(["a", "b", "a", "c", "a", "b"]) == 3
    assert largest_cluster([1, 2, 3]) == 1
    assert largest_cluster([]) == 0


def test_pairs_by_lang_by_hand():
    # items:  1   2   3   4   5   6   7
    gold = ["A", "A", "B", "B", "A", "C", "D"]
    pred = [10, 10, 20, 20, 30, 40, 40]
    langs = ["en", "en", "en", "fr", "fr", "es", "es"]
    # gold pairs: 12 (en-en); 15, 25 (en-fr); 34 (en-fr). Predicted: 12 (en-en), 34 (en-fr), 67 (es-es).
    out = pairs_by_lang(gold, pred, langs)
    assert out == {
        "en-en": PairCounts(gold_pairs=1, pred_pairs=1, correct_pairs=1),
        "en-fr": PairCounts(gold_pairs=3, pred_pairs=1, correct_pairs=1),
        "es-es": PairCounts(gold_pairs=0, pred_pairs=1, correct_pairs=0),
    }
    assert (out["en-fr"].recall, out["en-fr"].precision) == (1 / 3, 1.0)
    # no gold es-es pair: recall 1 by convention (nothing to find), precision 0 (its one pair is wrong)
    assert (out["es-es"].recall, out["es-es"].precision) == (1.0, 0.0)


def test_pairs_by_lang_key_is_the_sorted_pair():
    out = pairs_by_lang(["a", "a"], [1, 1], ["fr", "en"])
    assert list(out) == ["en-fr"] and out["en-fr"] == PairCounts(1, 1, 1)


def test_pairs_by_lang_matches_brute_force_and_adds_up_to_pairwise():
    rng = random.Random(7)
    n = 60
    gold = [rng.randrange(8) for _ in range(n)]
    pred = [rng.randrange(6) for _ in range(n)]
    langs = [rng.choice(["en", "fr", "ar"]) for _ in range(n)]
    want: dict[str, list[int]] = {}
    for i, j in itertools.combinations(range(n), 2):
        key = "-".join(sorted((langs[i], langs[j])))
        counts = want.setdefault(key, [0, 0, 0])
        counts[0] += gold[i] == gold[j]
        counts[1] += pred[i] == pred[j]
        counts[2] += gold[i] == gold[j] and pred[i] == pred[j]
    out = pairs_by_lang(gold, pred, langs)
    assert {k: [c.gold_pairs, c.pred_pairs, c.correct_pairs] for k, c in out.items()} == {
        k: v for k, v in want.items() if v[0] or v[1]
    }
    fields = ("gold_pairs", "pred_pairs", "correct_pairs")
    total = PairCounts(*(sum(getattr(c, f) for c in out.values()) for f in fields))
    pw = pairwise(gold, pred)
    assert close(total.precision, pw.precision) and close(total.recall, pw.recall)


def test_pairs_by_lang_length_check():
    with pytest.raises(ValueError):
        pairs_by_lang([1, 1], [1, 1], ["en"])
