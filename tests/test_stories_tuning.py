"""The story tuning harness (bench/tune_stories.py): its splits keep tuning and checking apart."""

from __future__ import annotations

import pytest

from bench.tune_stories import split_index


ROWS = [{"g": g} for g in ["a", "a", "b", "c", "b", "d", "d", "a"]]


def test_story_splits_never_share_a_multi_headline_story_and_keep_singletons_in_both():
    tune, check = split_index(ROWS, "g", "tune"), split_index(ROWS, "g", "check")
    assert {ROWS[i]["g"] for i in tune} & {ROWS[i]["g"] for i in check} == {"c"}  # the singleton only
    assert sorted(set(tune) | set(check)) == list(range(len(ROWS)))


def test_row_parity_splits_cut_every_story_in_two():
    even, odd = split_index(ROWS, "g", "even"), split_index(ROWS, "g", "odd")
    assert even == [0, 2, 4, 6] and odd == [1, 3, 5, 7]
    assert {ROWS[i]["g"] for i in even} & {ROWS[i]["g"] for i in odd} == {"a", "d"}


def test_unknown_split_is_refused():
    with pytest.raises(ValueError):
        split_index(ROWS, "g", "evens")
