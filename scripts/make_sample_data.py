"""Write sample_data/ from the seed captures and their gold labels (deterministic: run it twice,
get the same bytes).

    python scripts/make_sample_data.py [--seeds DIR] [--gold FILE] [--out DIR]

- sample_data/captures/<seed file>: the five raw captures, byte for byte.
- sample_data/batch.json: {"headlines": [...]} in the shape POST /v1/headlines takes, one entry per
  gold row: title, id, source ("ticker-000", "article-001"), lang, published_at. The gold has no
  dates, so each seed gets a fixed plausible start time and items are one minute apart by position.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# Start time of each seed capture (UTC). 000's ticker speaks of "samedi 21 juin" 2025, 003's of
# "samedi 21 mars 2026"; the articles carry their own publication dates ("Publié dans ... le").
# One demo timeline of two days, so that every sample headline sits inside the matching window (72 h)
# and the topic window (7 days) once app/sample.py shifts the newest to "now". The captures' own dates
# (2018-2026) would scatter them over years and leave most of the sample outside both windows.
SEED_START = {
    "000": datetime(2026, 3, 19, 8, 0, tzinfo=timezone.utc),
    "001": datetime(2026, 3, 19, 12, 0, tzinfo=timezone.utc),
    "002": datetime(2026, 3, 19, 13, 0, tzinfo=timezone.utc),
    "003": datetime(2026, 3, 20, 8, 0, tzinfo=timezone.utc),
    "004": datetime(2026, 3, 19, 14, 0, tzinfo=timezone.utc),
}
ARTICLE_PUBLISHED = {
    "000": datetime(2026, 3, 19, 9, 0, tzinfo=timezone.utc),
    "003": datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc),
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def headline_entry(row: dict) -> dict:
    prefix = row["seed"][:3]
    position = int(row["position"])
    if position >= 0:
        source = f"ticker-{prefix}"
        published = SEED_START[prefix] + timedelta(minutes=position)
    else:
        source = f"article-{prefix}"
        published = ARTICLE_PUBLISHED.get(prefix, SEED_START[prefix])
    return {
        "title": row["title"],
        "id": row["id"],
        "source": source,
        "lang": row["lang"],
        "published_at": _iso(published),
    }


def build(seeds: Path, gold: Path, out: Path) -> dict:
    rows = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    captures = out / "captures"
    captures.mkdir(parents=True, exist_ok=True)
    for capture in sorted(seeds.glob("[0-9][0-9][0-9]_*.txt")):
        shutil.copyfile(capture, captures / capture.name)
    batch = {"headlines": [headline_entry(row) for row in rows]}
    (out / "batch.json").write_text(json.dumps(batch, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return batch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=Path, default=SHARED / "seeds")
    parser.add_argument("--gold", type=Path, default=SHARED / "datasets" / "seed_ticker" / "gold.jsonl")
    parser.add_argument("--out", type=Path, default=ROOT / "sample_data")
    args = parser.parse_args(argv)
    batch = build(args.seeds, args.gold, args.out)
    print(f"wrote {len(batch['headlines'])} headlines and the captures to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
