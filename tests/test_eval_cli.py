"""``python -m app.eval``: the rows' languages reach the pipeline, or, with ``--detect-lang``, do not;
``--out`` writes each row's prediction, ``--pairs-by-lang`` adds pair recall and precision per language pair."""

from __future__ import annotations

import json
from collections import Counter
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


#: exact repeats are matched whatever the model ("exact", score 1.0, same text hash) and the other titles
#: share nothing, so the predicted stories are {r1, r2} {r3, r4} {r5} {r6, r7}; gold: A {r1, r2, r5}, B {r3, r4},
#: C {r6}, D {r7}. r4 repeats r3's English title under "fr": an en-fr pair.
TINY = [
    {"id": "r1", "lang": "en", "title": "Morocco wins the African Cup final", "story": "A"},
    {"id": "r2", "lang": "en", "title": "Morocco wins the African Cup final", "story": "A"},
    {"id": "r3", "lang": "en", "title": "Central bank raises interest rates again", "story": "B"},
    {"id": "r4", "lang": "fr", "title": "Central bank raises interest rates again", "story": "B"},
    {"id": "r5", "lang": "fr", "title": "Heavy snow closes mountain roads in Norway", "story": "A"},
    {"id": "r6", "lang": "es", "title": "Tech giant unveils a smartphone with a folding screen", "story": "C"},
    {"id": "r7", "lang": "es", "title": "Tech giant unveils a smartphone with a folding screen", "story": "D"},
]


@pytest.fixture()
def shared_encoder(encoder, monkeypatch) -> None:
    """The CLI loads its encoder; hand it the session's one (same default spec)."""
    import embeddings

    monkeypatch.setattr(embeddings, "load_encoder", lambda *a, **k: encoder)


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_stories_out_pairs_by_lang_and_largest_clusters(tmp_path: Path, shared_encoder, capsys) -> None:
    data, out_file = _write(tmp_path / "tiny.jsonl", TINY), tmp_path / "pred.jsonl"
    assert cli.main(["stories", str(data), "--gold", "story", "--out", str(out_file), "--pairs-by-lang"]) == 0
    out = _last_json(capsys)
    assert (out["largest_pred_cluster"], out["largest_gold_cluster"]) == (2, 3)
    # gold pairs 12 15 25 34; predicted 12 34 67; both 12 34
    assert (out["pairwise_precision"], out["pairwise_recall"]) == (round(2 / 3, 4), 0.5)
    assert out["pairs_by_lang"] == {
        "en-en": {"recall": 1.0, "precision": 1.0, "gold_pairs": 1, "pred_pairs": 1, "correct_pairs": 1},
        "en-fr": {"recall": 0.3333, "precision": 1.0, "gold_pairs": 3, "pred_pairs": 1, "correct_pairs": 1},
        "es-es": {"recall": 1.0, "precision": 0.0, "gold_pairs": 0, "pred_pairs": 1, "correct_pairs": 0},
    }
    lines = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert [set(r) for r in lines] == [{"id", "story_id", "match", "score", "gold"}] * 7
    assert [(r["id"], r["gold"], r["match"], r["score"]) for r in lines] == [
        ("r1", "A", None, None),
        ("r2", "A", "exact", 1.0),
        ("r3", "B", None, None),
        ("r4", "B", "exact", 1.0),
        ("r5", "A", None, None),
        ("r6", "C", None, None),
        ("r7", "D", "exact", 1.0),
    ]
    s = [r["story_id"] for r in lines]
    assert s[0] == s[1] and s[2] == s[3] and s[5] == s[6] and len({s[0], s[2], s[4], s[5]}) == 4


def test_stories_without_the_flags(tmp_path: Path, shared_encoder, capsys) -> None:
    data = _write(tmp_path / "tiny.jsonl", TINY)
    assert cli.main(["stories", str(data), "--gold", "story", "--limit", "4"]) == 0
    out = _last_json(capsys)
    assert "pairs_by_lang" not in out
    assert (out["n_items"], out["largest_pred_cluster"], out["largest_gold_cluster"]) == (4, 2, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.jsonl"]


def test_contains_keeps_the_rows_naming_one_thing(tmp_path: Path, shared_encoder, capsys) -> None:
    """A one-topic stress stream from any file: the rows whose title holds a word, in any case."""
    data, out_file = _write(tmp_path / "tiny.jsonl", TINY), tmp_path / "pred.jsonl"
    assert (
        cli.main(["stories", str(data), "--gold", "story", "--contains", "CENTRAL BANK", "--out", str(out_file)]) == 0
    )
    assert _last_json(capsys)["n_items"] == 2
    assert [json.loads(line)["id"] for line in out_file.read_text(encoding="utf-8").splitlines()] == ["r3", "r4"]
    assert cli.main(["stories", str(data), "--gold", "story", "--contains", "tech giant", "--limit", "1"]) == 0
    assert _last_json(capsys)["n_items"] == 1
    with pytest.raises(SystemExit):
        cli.main(["stories", str(data), "--gold", "story", "--contains", "no such words"])


def test_out_into_a_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    data = _write(tmp_path / "tiny.jsonl", TINY)
    with pytest.raises(SystemExit) as exc:
        cli.main(["stories", str(data), "--gold", "story", "--out", str(tmp_path / "no" / "pred.jsonl")])
    assert exc.value.code == 2


def test_pairs_by_lang_groups_by_the_rows_own_language() -> None:
    assert cli.row_langs([{"lang": "fra"}, {"lang": "en-US"}, {"lang": "ary"}, {}, {"lang": ""}]) == [
        "fr",
        "en",
        "ary",
        "und",
        "und",
    ]


def test_topics_out_one_line_per_row_with_taxonomy_ids(tmp_path: Path, shared_encoder, capsys) -> None:
    if not SEED.exists():
        pytest.skip("shared datasets not available")
    from app.topics.taxonomy import OTHER, Taxonomy

    rows = [json.loads(line) for line in SEED.read_text(encoding="utf-8").splitlines() if line.strip()]
    out_file = tmp_path / "topics.jsonl"
    assert (
        cli.main(
            ["topics", str(SEED), "--gold", "topic", "--out", str(out_file), "--pairs-by-lang", "--label-map", "same"]
        )
        == 0
    )
    out = _last_json(capsys)
    lines = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in lines] == [r["id"] for r in rows]
    assert [r["gold"] for r in lines] == [r["topic"] for r in rows]
    ids = {e.id for e in Taxonomy.load().entries} | {OTHER}
    by_story: dict[int, set] = {}
    for r in lines:
        assert set(r) == {"id", "story_id", "topic_id", "label", "label_name", "gold"}
        assert (r["topic_id"] is None) == (r["label"] is None) == (r["label_name"] is None)
        assert r["label"] is None or r["label"] in ids
        by_story.setdefault(r["story_id"], set()).add(r["topic_id"])
    assert all(len(t) == 1 for t in by_story.values())  # a story's headlines share its topic
    topic_sizes = Counter(r["topic_id"] for r in lines if r["topic_id"] is not None)
    assert out["n_topics"] == len(topic_sizes)
    noise = any(r["topic_id"] is None for r in lines)
    assert out["largest_pred_cluster"] == max([*topic_sizes.values(), 1 if noise else 0])
    assert out["largest_gold_cluster"] == max(Counter(r["topic"] for r in rows).values())
    assert {"en-fr", "fr-fr"} <= set(out["pairs_by_lang"])
    # seed_ticker's gold topics are taxonomy ids: label accuracy is the share of rows whose topic has theirs
    assert out["label_rows"] == len(rows)
    assert out["label_accuracy"] == round(sum(r["label"] == r["gold"] for r in lines) / len(lines), 4)
    names = {r["topic_id"]: r["label_name"] for r in lines if r["topic_id"] is not None}
    assert len(set(names.values())) == len(names)  # a display name never repeats


UCI = SEED.parents[1] / "uci_news" / "dev.jsonl"


@pytest.mark.parametrize("word", ["kardashian", "china", "ukraine"])
def test_one_topic_streams_form_no_giant_story(word: str, shared_encoder, capsys) -> None:
    """Every headline of these streams names one person or place: shared names stop telling stories
    apart, and a story that grew one link at a time held 79 headlines of Kardashian's 219 (gold: 19)."""
    if not UCI.exists():
        pytest.skip("shared datasets not available")
    assert cli.main(["stories", str(UCI), "--gold", "story", "--contains", word]) == 0
    out = _last_json(capsys)
    assert out["n_items"] > 100
    assert out["largest_pred_cluster"] <= 2 * out["largest_gold_cluster"], out
    assert out["bcubed_f1"] >= 0.75, out
