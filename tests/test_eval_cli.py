"""``python -m app.eval``: the rows' languages reach the pipeline, or, with ``--detect-lang``, do not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.eval import __main__ as cli
from app.pipeline import Pipeline

SEED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "seed_ticker" / "gold.jsonl"


@pytest.fixture()
def given_langs(monkeypatch) -> list:
    seen: list = []
    ingest = Pipeline.ingest

    def recording(self, items, *args, **kwargs):
        seen.extend(item.lang for item in items)
        return ingest(self, items, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "ingest", recording)
    return seen


@pytest.mark.parametrize("detect", [False, True])
def test_detect_lang_ingests_rows_without_their_language(detect: bool, given_langs: list, capsys) -> None:
    if not SEED.exists():
        pytest.skip("shared datasets not available")
    rows = [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines()[:30]]
    argv = ["stories", str(SEED), "--gold", "story", "--limit", "30"] + (["--detect-lang"] if detect else [])
    assert cli.main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["n_items"] == 30 and 0.0 <= out["bcubed_f1"] <= 1.0
    if detect:
        assert given_langs == [None] * 30
    else:
        assert given_langs == [row["lang"] for row in rows]
    assert {"fr", "en"} <= {row["lang"] for row in rows}  # the rows do carry languages
