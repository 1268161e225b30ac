"""Topic ids across refits: kept when most stories remain; merges, splits, new and retired topics."""

from __future__ import annotations

from app.topics.stable import MatchParams, match_ids


def _types(events: list[dict]) -> list[str]:
    return sorted(e["type"] for e in events)


def test_topic_keeps_its_id_when_most_of_its_stories_remain() -> None:
    old = {7: set(range(10)), 9: set(range(100, 110))}
    # Refit: topic 7 lost 3 stories and gained 5 new ones; cluster order is arbitrary.
    new = [set(range(100, 110)), set(range(3, 10)) | set(range(50, 55))]
    assignment, events = match_ids(old, new, next_id=11)
    assert assignment == [9, 7]
    assert events == []


def test_topic_loses_its_id_when_few_of_its_stories_remain() -> None:
    old = {1: set(range(10))}
    new = [{0, 1, 50, 51, 52, 53, 54, 55}]  # 2 of 10 old stories, 2 of 8 in the cluster
    assignment, events = match_ids(old, new, next_id=2)
    assert assignment == [2]
    assert _types(events) == ["new", "retired"]
    assert {"type": "new", "topic": 2, "size": 8} in events and {"type": "retired", "topic": 1} in events


def test_new_ids_are_consecutive_from_next_id() -> None:
    assignment, events = match_ids({}, [{1, 2}, {3, 4}, {5}], next_id=40)
    assert assignment == [40, 41, 42]
    assert _types(events) == ["new", "new", "new"]


def test_merge_keeps_the_best_matching_id_and_records_the_other() -> None:
    old = {1: set(range(20)), 2: set(range(20, 30))}
    assignment, events = match_ids(old, [set(range(30))], next_id=3)
    assert assignment == [1]
    assert events == [{"type": "merge", "topic": 1, "from": [1, 2]}]  # 2 merged, not "retired"


def test_split_keeps_the_id_on_the_larger_part() -> None:
    old = {5: set(range(30))}
    assignment, events = match_ids(old, [set(range(10)), set(range(10, 30))], next_id=6)
    assert assignment == [6, 5]
    assert {"type": "split", "topic": 5, "into": [5, 6]} in events
    assert {"type": "new", "topic": 6, "size": 10} in events


def test_greedy_best_first_gives_each_id_once() -> None:
    old = {1: set(range(10)), 2: set(range(10, 20))}
    # Two clusters both mostly made of topic 1: only the better one inherits it.
    new = [set(range(6)), set(range(4, 10)) | {10}]
    assignment, _ = match_ids(old, new, next_id=3)
    assert sorted(assignment) == [1, 3] and assignment[0] == 1 or assignment[1] == 1
    assert len(set(assignment)) == 2


def test_stories_that_left_the_window_do_not_count_against_a_topic() -> None:
    old = {4: set(range(40))}
    new = [set(range(30, 40)) | {100, 101, 102}]  # 30 stories expired, the 10 left are all here
    without, _ = match_ids(old, new, next_id=5, params=MatchParams(min_share=0.8))
    within, events = match_ids(
        old, new, next_id=5, universe=set(range(30, 40)) | {100, 101, 102}, params=MatchParams(min_share=0.8)
    )
    assert without == [5]
    assert within == [4] and events == []
