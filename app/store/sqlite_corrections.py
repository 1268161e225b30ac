"""The SQLite backend's editors' corrections: moving headlines, merged and apart stories, the log of them."""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Iterable, Sequence

from .base import CORRECTION_COLS, CorrectionRow, MemberRow, dumps, story_aggregates
from .sqlite_core import SQLiteBase
from .sqlite_rows import _INSERT_STORY, _correction, _unique_ints, _vec


class SQLiteCorrections(SQLiteBase):
    # --- editors' corrections --------------------------------------------------------------
    def reassign(self, headline_ids: Sequence[int], story_id: int | None) -> tuple[int, dict[int, int]]:
        ids = _unique_ints(headline_ids)
        if not ids:
            raise ValueError("no headline to move")
        with self._write() as c:
            left = {
                int(r[0]): int(r[1])
                for r in c.execute(f"SELECT id, story_id FROM headlines WHERE id IN ({','.join('?' * len(ids))})", ids)
            }
            missing = [h for h in ids if h not in left]
            if missing:
                raise KeyError(f"headlines {missing} do not exist")
            if story_id is None:
                p = self._pend()
                story_id, p.next_story = p.next_story, p.next_story + 1
                now = time.time()
                c.execute(_INSERT_STORY, (None, None, now, now, 0, "[]", "[]", None, now, story_id))
            elif not c.execute("SELECT 1 FROM stories WHERE id = ?", (story_id,)).fetchone():
                raise KeyError(f"story {story_id} does not exist")
            c.execute(f"UPDATE headlines SET story_id = ? WHERE id IN ({','.join('?' * len(ids))})", [story_id, *ids])
            touched = {story_id, *left.values()}
            for sid in touched:
                self._work_out_story(c, sid)
            # the aggregates kept in memory (committed, or sent by this transaction) are stale now
            for sid in touched:
                self._stories.pop(sid, None)
                if self._pending is not None:
                    self._pending.sent.pop(sid, None)
        return story_id, left

    def _work_out_story(self, c: sqlite3.Connection, story_id: int) -> None:
        members = [
            MemberRow(int(r[0]), float(r[1]), r[2], r[3], _vec(r[4], self.dim))
            for r in c.execute("SELECT id, ts, lang, source, embedding FROM headlines WHERE story_id = ?", (story_id,))
        ]
        agg = story_aggregates(members)
        csum = agg["centroid_sum"]
        # an emptied story keeps its times and canonical: retention still finds it by last_seen
        c.execute(
            "UPDATE stories SET canonical_headline_id = COALESCE(?, canonical_headline_id), "
            "canonical_ts = COALESCE(?, canonical_ts), first_seen = COALESCE(?, first_seen), "
            "last_seen = COALESCE(?, last_seen), size = ?, languages = ?, sources = ?, centroid_sum = ?, "
            "updated_at = ? WHERE id = ?",
            (
                agg["canonical_headline_id"],
                agg["canonical_ts"],
                agg["first_seen"],
                agg["last_seen"],
                agg["size"],
                dumps(agg["languages"]),
                dumps(agg["sources"]),
                None if csum is None else csum.tobytes(),
                time.time(),
                story_id,
            ),
        )

    def merged_into(self, story_ids: Iterable[int]) -> dict[int, int]:
        sql = "SELECT id, merged_into FROM stories WHERE id IN ({marks}) AND merged_into IS NOT NULL"
        return {int(r[0]): int(r[1]) for r in self._q_in(sql, _unique_ints(story_ids))}

    def add_correction(
        self, kind: str, payload: dict[str, Any], undo: dict[str, Any], actor: str | None, at: float
    ) -> int:
        with self._write() as c:
            cur = c.execute(
                "INSERT INTO corrections (kind, payload, undo, actor, at) VALUES (?, ?, ?, ?, ?)",
                (kind, dumps(payload), dumps(undo), actor, at),
            )
            return int(cur.lastrowid or 0)

    def corrections(self, limit: int, offset: int) -> tuple[list[CorrectionRow], int]:
        rows = self._q(
            f"SELECT {CORRECTION_COLS} FROM corrections ORDER BY id DESC LIMIT ? OFFSET ?", (int(limit), int(offset))
        )
        return [_correction(r) for r in rows], int(self._q("SELECT COUNT(*) FROM corrections")[0][0])

    def correction(self, correction_id: int) -> CorrectionRow | None:
        rows = self._q(f"SELECT {CORRECTION_COLS} FROM corrections WHERE id = ?", (int(correction_id),))
        return _correction(rows[0]) if rows else None

    def mark_undone(self, correction_id: int, actor: str | None, at: float) -> bool:
        with self._write() as c:
            cur = c.execute(
                "UPDATE corrections SET undone_at = ?, undone_by = ? WHERE id = ? AND undone_at IS NULL",
                (at, actor, int(correction_id)),
            )
            return cur.rowcount == 1

    def set_apart(self, a: int, b: int, apart: bool) -> None:
        lo, hi = sorted((int(a), int(b)))
        with self._write() as c:
            if apart:
                c.execute("INSERT OR IGNORE INTO story_apart (a, b) VALUES (?, ?)", (lo, hi))
            else:
                c.execute("DELETE FROM story_apart WHERE a = ? AND b = ?", (lo, hi))

    def apart_pairs(self, story_ids: Iterable[int]) -> set[tuple[int, int]]:
        ids = _unique_ints(story_ids)
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        rows = self._q(f"SELECT a, b FROM story_apart WHERE a IN ({marks}) AND b IN ({marks})", [*ids, *ids])
        return {(int(a), int(b)) for a, b in rows}
