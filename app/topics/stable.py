"""Stable topic ids across refits.

Each refit clusters the window from scratch, so its clusters come without identity. A new cluster
inherits the id of the old topic it overlaps best, provided most of that topic's stories (or most
of the cluster) are shared: greedy, best Jaccard first, one id per cluster and one cluster per id.
What did not carry over is reported as events: merges, splits, new topics and retired ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

Event = dict[str, Any]


@dataclass(frozen=True)
class MatchParams:
    #: a pair qualifies when the shared stories are at least this share of the old topic (as it is
    #: within this refit's window) or of the new cluster
    min_share: float = 0.5
    #: an old topic counts as split when at least two new clusters each hold this share of it
    split_share: float = 0.2


def _shares(overlap: int, old_size: int, new_size: int) -> tuple[float, float]:
    return overlap / max(old_size, 1), overlap / max(new_size, 1)


def match_ids(
    old: dict[int, set[int]],
    new_clusters: list[set[int]],
    next_id: int,
    *,
    universe: Iterable[int] | None = None,
    params: MatchParams = MatchParams(),
) -> tuple[list[int], list[Event]]:
    """Give every new cluster a topic id: an old one it continues, or a fresh one from ``next_id``.

    ``old`` maps topic id -> member story ids from the previous refit; ``new_clusters`` are sets of
    story ids. ``universe`` (optional) is every story this refit saw: old members outside it left
    the window, so they neither count for nor against a topic's survival.

    Returns ``(assignment, events)``: ``assignment[i]`` is the id of ``new_clusters[i]``; events are
    dicts with ``type`` in ``merge`` (``topic``, ``from``), ``split`` (``topic``, ``into``), ``new``
    (``topic``, ``size``) and ``retired`` (``topic``).
    """
    seen = set(universe) if universe is not None else None
    old_live = {tid: (members & seen if seen is not None else set(members)) for tid, members in old.items()}

    # Overlaps through an inverted index: story -> old topic (a story sits in one topic at a time;
    # if the caller's data says otherwise, each membership still counts).
    topics_of: dict[int, list[int]] = {}
    for tid, members in old_live.items():
        for sid in members:
            topics_of.setdefault(sid, []).append(tid)
    overlap: dict[tuple[int, int], int] = {}
    for ci, cluster in enumerate(new_clusters):
        for sid in cluster:
            for tid in topics_of.get(sid, ()):
                overlap[(tid, ci)] = overlap.get((tid, ci), 0) + 1

    candidates = []
    for (tid, ci), o in overlap.items():
        a, b = len(old_live[tid]), len(new_clusters[ci])
        share_old, share_new = _shares(o, a, b)
        if max(share_old, share_new) >= params.min_share:
            jaccard = o / (a + b - o)
            candidates.append((-jaccard, -o, tid, ci))
    candidates.sort()

    assignment: list[int | None] = [None] * len(new_clusters)
    used: set[int] = set()
    for _, _, tid, ci in candidates:
        if assignment[ci] is None and tid not in used:
            assignment[ci] = tid
            used.add(tid)

    events: list[Event] = []
    for ci, assigned in enumerate(assignment):
        if assigned is None:
            assignment[ci] = next_id
            events.append({"type": "new", "topic": next_id, "size": len(new_clusters[ci])})
            next_id += 1
    final: list[int] = [int(t) for t in assignment if t is not None]

    by_cluster: dict[int, list[tuple[int, int]]] = {}
    by_topic: dict[int, list[tuple[int, int]]] = {}
    for (tid, ci), o in overlap.items():
        by_cluster.setdefault(ci, []).append((tid, o))
        by_topic.setdefault(tid, []).append((ci, o))

    # Merges: one new cluster took most of two or more old topics.
    absorbed: set[int] = set()
    for ci, tid in enumerate(final):
        sources = sorted(t for t, o in by_cluster.get(ci, ()) if o / max(len(old_live[t]), 1) >= params.min_share)
        if tid in old and tid not in sources:
            sources = sorted([*sources, tid])
        if len(sources) >= 2:
            events.append({"type": "merge", "topic": tid, "from": sources})
            absorbed.update(t for t in sources if t != tid)

    # Splits: an old topic's stories now lie in two or more sizeable new clusters.
    for tid in sorted(old_live):
        size = len(old_live[tid])
        parts = sorted(final[c] for c, o in by_topic.get(tid, ()) if o / max(size, 1) >= params.split_share)
        if len(parts) >= 2:
            events.append({"type": "split", "topic": tid, "into": parts})

    for tid in sorted(old):
        if tid not in used and tid not in absorbed:
            events.append({"type": "retired", "topic": tid})
    return final, events
