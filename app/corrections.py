"""Editors' corrections: merge a story into another, move headlines, declare two stories different, undo.

Each correction is checked and applied in one write transaction (on PostgreSQL, the replicas' shared
write lock), stored with what undoing it needs, and announced to every replica's matching cache through
the store's ``corrections_version`` (a headline's story may have changed under it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .store import Store
from .store.base import CorrectionRow

__all__ = ["Corrections", "CorrectionError", "MERGE", "MOVE", "APART", "VERSION_KEY", "bump_version"]

MERGE, MOVE, APART = "merge", "move", "apart"
#: the store's meta key that changes with every correction (and undo)
VERSION_KEY = "corrections_version"


@dataclass
class CorrectionError(Exception):
    """A correction refused: ``status`` is the HTTP status, ``field`` where the problem is."""

    status: int
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


class Corrections:
    def __init__(
        self, store: Store, on_change: Callable[[], None] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        """``on_change``: called after each committed correction (the pipeline forgets its cache)."""
        self.store = store
        self.on_change = on_change or (lambda: None)
        self.clock = clock

    # --- the corrections -------------------------------------------------------------------
    def merge(self, story_id: int, into: int, actor: str | None) -> CorrectionRow:
        if story_id == into:
            raise CorrectionError(422, "into", f"story {story_id} cannot be merged into itself")
        with self.store.transaction():
            self._live_story(story_id, "story_id")
            self._live_story(into, "into")
            if self.store.apart_pairs([story_id, into]):
                raise CorrectionError(409, "into", f"stories {story_id} and {into} were declared not the same story")
            members = [h.id for h in self.store.story_headlines([story_id]).get(story_id, [])]
            _, left = self.store.reassign(members, into)
            self.store.set_merged_into(story_id, into)
            out = self._record(MERGE, {"story_id": story_id, "into": into}, {"moved": _keys(left)}, actor)
        self.on_change()
        return out

    def move(self, headline_ids: Sequence[int], to_story: int | None, actor: str | None) -> CorrectionRow:
        ids = list(dict.fromkeys(int(h) for h in headline_ids))
        if not ids:
            raise CorrectionError(422, "headline_ids", "name at least one headline to move")
        with self.store.transaction():
            rows = self.store.headlines(ids)
            missing = [h for h in ids if h not in rows]
            if missing:
                raise CorrectionError(404, "headline_ids", f"no headline {missing[0]}")
            if to_story is not None:
                self._live_story(to_story, "to_story_id")
                if all(rows[h].story_id == to_story for h in ids):
                    raise CorrectionError(422, "to_story_id", f"the headlines are already in story {to_story}")
            target, left = self.store.reassign(ids, to_story)
            out = self._record(
                MOVE,
                {"headline_ids": ids, "to_story_id": to_story},
                {"moved": _keys(left), "opened": target if to_story is None else None},
                actor,
            )
        self.on_change()
        return out

    def apart(self, a: int, b: int, actor: str | None) -> CorrectionRow:
        if a == b:
            raise CorrectionError(422, "story_ids", f"story {a} cannot be apart from itself")
        with self.store.transaction():
            self._live_story(a, "story_ids")
            self._live_story(b, "story_ids")
            if self.store.apart_pairs([a, b]):
                raise CorrectionError(409, "story_ids", f"stories {a} and {b} are already declared different")
            self.store.set_apart(a, b, True)
            out = self._record(APART, {"story_ids": sorted((a, b))}, {}, actor)
        self.on_change()
        return out

    def undo(self, correction_id: int, actor: str | None) -> CorrectionRow:
        with self.store.transaction():
            c = self.store.correction(correction_id)
            if c is None:
                raise CorrectionError(404, "correction_id", f"no correction {correction_id}")
            if c.undone_at is not None:
                raise CorrectionError(409, "correction_id", f"correction {correction_id} was already undone")
            if c.kind in (MERGE, MOVE):
                self._move_back(c)
            if c.kind == MERGE:
                self.store.set_merged_into(int(c.payload["story_id"]), None)
            elif c.kind == APART:
                a, b = c.payload["story_ids"]
                self.store.set_apart(a, b, False)
            if not self.store.mark_undone(correction_id, actor, self.clock()):
                raise CorrectionError(409, "correction_id", f"correction {correction_id} was already undone")
            self._changed()
            out = self.store.correction(correction_id)
        self.on_change()
        assert out is not None
        return out

    # --- helpers ---------------------------------------------------------------------------
    def _live_story(self, story_id: int, field: str) -> None:
        """A story an editor may act on: it exists, has headlines and was not merged away."""
        merged = self.store.merged_into([story_id])
        if story_id in merged:
            raise CorrectionError(409, field, f"story {story_id} was merged into story {merged[story_id]}")
        st = self.store.story(story_id)
        if st is None or st.size == 0:
            raise CorrectionError(404, field, f"no story {story_id}")

    def _move_back(self, c: CorrectionRow) -> None:
        """Put every headline a merge or move took back where it was, if no later correction moved it."""
        moved = {int(h): int(s) for h, s in c.undo["moved"].items()}
        target = int(c.payload["into"] if c.kind == MERGE else (c.payload["to_story_id"] or c.undo["opened"]))
        now = self.store.headlines(list(moved))
        if any(h not in now for h in moved):
            raise CorrectionError(
                409, "correction_id", f"headlines of correction {c.id} are no longer stored (retention deleted them)"
            )
        if any(now[h].story_id != target for h in moved):
            raise CorrectionError(
                409, "correction_id", f"a later correction moved headlines of correction {c.id}: undo it first"
            )
        by_story: dict[int, list[int]] = {}
        for h, s in moved.items():
            by_story.setdefault(s, []).append(h)
        for s, hs in sorted(by_story.items()):
            self.store.reassign(hs, s)

    def _record(self, kind: str, payload: dict[str, Any], undo: dict[str, Any], actor: str | None) -> CorrectionRow:
        cid = self.store.add_correction(kind, payload, undo, actor, self.clock())
        self._changed()
        out = self.store.correction(cid)
        assert out is not None
        return out

    def _changed(self) -> None:
        bump_version(self.store)


def bump_version(store: Store) -> None:
    """Tell every replica to read stories and the rule again: their matching cache holds headlines' stories."""
    store.set_meta(VERSION_KEY, str(int(store.get_meta(VERSION_KEY) or 0) + 1))


def _keys(left: dict[int, int]) -> dict[str, int]:
    """JSON object keys are strings."""
    return {str(h): s for h, s in left.items()}
