"""Loads ``sample_data/batch.json`` into a fresh store, so a newcomer sees stories at once."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from .pipeline import Pipeline
from .records import HeadlineInput
from .times import parse_epoch

# An installed package (the Docker image) has no checkout around it: TICKER_SAMPLE_DIR says where.
SAMPLE_DIR = Path(os.environ.get("TICKER_SAMPLE_DIR") or Path(__file__).resolve().parent.parent / "sample_data")


def shifted_batch(path: Path | None = None, now: float | None = None) -> dict:
    """The sample batch with its times moved so that the newest headline is ``now``, spacing kept:
    the sample stories then sit inside the matching window, as a live feed's would."""
    path = path or SAMPLE_DIR / "batch.json"
    batch = json.loads(path.read_text(encoding="utf-8"))
    times = [parse_epoch(h.get("published_at")) for h in batch["headlines"]]
    known = [t for t in times if t is not None]
    if known:
        shift = (time.time() if now is None else now) - max(known)
        for h, t in zip(batch["headlines"], times):
            if t is not None:
                h["published_at"] = (
                    datetime.fromtimestamp(t + shift, tz=timezone.utc).isoformat().replace("+00:00", "Z")
                )
    return batch


def load_sample_data(pipeline: Pipeline, path: Path | None = None) -> int:
    path = path or SAMPLE_DIR / "batch.json"
    if not path.exists():
        return 0
    items = [
        HeadlineInput(
            title=h["title"],
            ext_id=str(h["id"]) if h.get("id") is not None else None,
            source=h.get("source"),
            url=h.get("url"),
            published_at=parse_epoch(h.get("published_at")),
            lang=h.get("lang"),
        )
        for h in shifted_batch(path)["headlines"]
    ]
    pipeline.ingest(items)
    return len(items)
