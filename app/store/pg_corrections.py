"""The PostgreSQL backend's editors' corrections: moving headlines, merged and apart stories, the log of them."""

from __future__ import annotations

import time
from typing import Any, Iterable, Sequence

import psycopg

from .base import CORRECTION_COLS, CorrectionRow, MemberRow, dumps, story_aggregates
from .pg_core import PostgresBase, Vec
from .pg_rows import _correction, _ids


class PostgresCorrections(PostgresBase):
    # --- editors' corrections --------------------------------------------------------------
    def reassign(self, headline_ids: Sequence[int], story_id: int | None) -> tuple[int, dict[int, int]]:
        ids = _ids(headline_ids)
        if not ids:
            raise ValueError("no headline to move")
        with self._write() as c:
            rows = c.execute("SELECT id, story_id, ts FROM headlines WHERE id = ANY(%s::bigint[])", (ids,)).fetchall()
            missing = set(ids) - {r[0] for r in rows}
            if missing:
                raise KeyError(f"headlines {sorted(missing)} do not exist")
            left = {int(r[0]): int(r[1]) for r in rows}
            if story_id is None:
                # Opened as create_story opens one; the aggregates below fill it in.
                first = min(float(r[2]) for r in rows)
                r = c.execute(
                    "INSERT INTO stories (first_seen, last_seen, size, updated_at) VALUES (%s, %s, 0, %s) RETURNING id",
                    (first, first, time.time()),
                ).fetchone()
                target = int(r[0])  # type: ignore[index]
            else:
                target = int(story_id)
                if c.execute("SELECT 1 FROM stories WHERE id = %s", (target,)).fetchone() is None:
                    raise KeyError(f"story {target} does not exist")
            c.execute("UPDATE headlines SET story_id = %s WHERE id = ANY(%s::bigint[])", (target, ids))
            self._recompute_stories(c, {target, *left.values()})
        return target, left

    def _recompute_stories(self, c: psycopg.Connection, story_ids: set[int]) -> None:
        """Work each story's columns out again from its members; an emptied one keeps its times and
        canonical (retention still finds it by last_seen) with size 0 and no centroid."""
        sids = sorted(story_ids)
        members: dict[int, list[MemberRow]] = {sid: [] for sid in sids}
        for hid, sid, ts, lang, source, emb in c.execute(
            "SELECT id, story_id, ts, lang, source, embedding FROM headlines WHERE story_id = ANY(%s::bigint[])",
            (sids,),
            binary=True,
        ):
            members[sid].append(MemberRow(id=hid, ts=ts, lang=lang, source=source, embedding=emb))
        now = time.time()
        filled, emptied = [], []
        for sid in sids:
            agg = story_aggregates(members[sid])
            if agg["size"] == 0:
                emptied.append(sid)
                continue
            filled.append(
                (
                    agg["canonical_headline_id"],
                    agg["canonical_ts"],
                    agg["first_seen"],
                    agg["last_seen"],
                    agg["size"],
                    agg["languages"],
                    agg["sources"],
                    Vec(agg["centroid_sum"]),
                    now,
                    sid,
                )
            )
        with c.cursor() as cur:
            if filled:
                cur.executemany(
                    "UPDATE stories SET canonical_headline_id = %s, canonical_ts = %s, first_seen = %s,"
                    " last_seen = %s, size = %s, languages = %s::text[], sources = %s::text[], centroid_sum = %s,"
                    " updated_at = %s WHERE id = %s",
                    filled,
                )
            if emptied:
                cur.execute(
                    "UPDATE stories SET size = 0, languages = '{}', sources = '{}', centroid_sum = NULL,"
                    " updated_at = %s WHERE id = ANY(%s::bigint[])",
                    (now, emptied),
                )

    def merged_into(self, story_ids: Iterable[int]) -> dict[int, int]:
        ids = _ids(story_ids)
        if not ids:
            return {}
        rows = self._q(
            "SELECT id, merged_into FROM stories WHERE id = ANY(%s::bigint[]) AND merged_into IS NOT NULL", (ids,)
        )
        return {int(r[0]): int(r[1]) for r in rows}

    def add_correction(
        self, kind: str, payload: dict[str, Any], undo: dict[str, Any], actor: str | None, at: float
    ) -> int:
        with self._write() as c:
            r = c.execute(
                "INSERT INTO corrections (kind, payload, undo, actor, at) VALUES (%s, %s::jsonb, %s::jsonb, %s, %s)"
                " RETURNING id",
                (kind, dumps(payload), dumps(undo), actor, at),
            ).fetchone()
            return int(r[0])  # type: ignore[index]

    def corrections(self, limit: int, offset: int) -> tuple[list[CorrectionRow], int]:
        with self._conn() as conn:
            total = conn.execute("SELECT COUNT(*) FROM corrections").fetchone()[0]  # type: ignore[index]
            rows = conn.execute(
                f"SELECT {CORRECTION_COLS} FROM corrections ORDER BY id DESC LIMIT %s OFFSET %s",
                (limit, offset),
                binary=True,
            ).fetchall()
        return [_correction(r) for r in rows], int(total)

    def correction(self, correction_id: int) -> CorrectionRow | None:
        rows = self._q(f"SELECT {CORRECTION_COLS} FROM corrections WHERE id = %s", (correction_id,))
        return _correction(rows[0]) if rows else None

    def mark_undone(self, correction_id: int, actor: str | None, at: float) -> bool:
        # The condition is checked again on the locked row, so of two replicas undoing at once one wins;
        # the data version moves only when something changed.
        with self.transaction(), self._conn() as c:
            changed = (
                c.execute(
                    "UPDATE corrections SET undone_at = %s, undone_by = %s WHERE id = %s AND undone_at IS NULL",
                    (at, actor, correction_id),
                ).rowcount
                == 1
            )
            if changed:
                self._local.dirty = True
        return changed

    def set_apart(self, a: int, b: int, apart: bool) -> None:
        lo, hi = sorted((int(a), int(b)))
        with self._write() as c:
            if apart:
                c.execute("INSERT INTO story_apart (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING", (lo, hi))
            else:
                c.execute("DELETE FROM story_apart WHERE a = %s AND b = %s", (lo, hi))

    def apart_pairs(self, story_ids: Iterable[int]) -> set[tuple[int, int]]:
        ids = _ids(story_ids)
        if not ids:
            return set()
        rows = self._q("SELECT a, b FROM story_apart WHERE a = ANY(%s::bigint[]) AND b = ANY(%s::bigint[])", (ids, ids))
        return {(int(r[0]), int(r[1])) for r in rows}
