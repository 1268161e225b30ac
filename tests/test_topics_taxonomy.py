"""Taxonomy labels: the default file, matching by encoder similarity, "other", vector caching."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from app.topics.taxonomy import DEFAULT_PATH, OTHER, Taxonomy


class BagOfWordsEncoder:
    """A deterministic stand-in encoder: hashed word counts, L2-normalised. Counts its calls."""

    name = "bow-test"
    dim = 256

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().replace(",", " ").replace(":", " ").split():
                out[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def test_default_file_has_every_label_in_four_languages() -> None:
    data = json.loads(Path(DEFAULT_PATH).read_text(encoding="utf-8"))
    ids = [e["id"] for e in data["labels"]]
    assert ids == [
        "sport",
        "politics",
        "sahara",
        "weather",
        "economy",
        "security",
        "culture",
        "society",
        "health",
        "technology",
        "monarchy",
        "international",
    ]
    for entry in data["labels"]:
        assert set(entry["descriptions"]) == {"fr", "en", "es", "ar"}
        assert all(len(p) >= 3 for p in entry["descriptions"].values())
        assert set(entry["names"]) >= {"fr", "en", "es", "ar"}
    tax = Taxonomy.load(None)
    assert len(tax.entries) == 12 and 0 < tax.threshold < 1


SMALL = {
    "threshold": 0.3,
    "labels": [
        {
            "id": "sport",
            "names": {"en": "Sport", "fr": "Sport"},
            "descriptions": {"en": ["football match goal", "league cup team"], "fr": ["match de football but"]},
        },
        {
            "id": "weather",
            "names": {"en": "Weather", "fr": "Météo"},
            "descriptions": {"en": ["rain storm forecast", "heat wave temperatures"], "fr": ["pluie orage prévisions"]},
        },
        {
            "id": "economy",
            "names": {"en": "Economy"},
            "descriptions": {"en": ["inflation growth bank", "exports trade deficit"]},
        },
    ],
}


def test_topics_get_the_nearest_label_or_other() -> None:
    enc = BagOfWordsEncoder()
    tax = Taxonomy.from_dict(SMALL, enc)
    topics = enc.encode(
        [
            "football match goal team",  # sport
            "rain storm forecast heat",  # weather
            "inflation bank exports growth",  # economy
            "poetry festival novel",  # nothing in the taxonomy
        ]
    )
    labels = tax.label(topics)
    assert [name for name, _ in labels] == ["Sport", "Weather", "Economy", OTHER]
    assert [eid for eid, _ in tax.classify(topics)][:3] == ["sport", "weather", "economy"]
    assert labels[0][1] > labels[3][1]
    assert tax.label(topics, lang="fr")[1][0] == "Météo"
    # A very high threshold leaves everything "other".
    strict = Taxonomy.from_dict(SMALL, enc, threshold=0.99)
    assert {name for name, _ in strict.label(topics)} == {OTHER}


def test_phrase_vectors_are_encoded_once() -> None:
    enc = BagOfWordsEncoder()
    tax = Taxonomy.from_dict(SMALL, enc)
    topics = enc.encode(["football match", "rain storm", "inflation bank"])
    calls = enc.calls
    tax.label(topics)
    tax.label(topics)
    Taxonomy.from_dict(SMALL, enc).label(topics)  # same encoder, same phrases: shared cache
    assert enc.calls == calls + 1


def test_invalid_taxonomies_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Taxonomy.from_dict({"labels": []})
    with pytest.raises(ValueError):
        Taxonomy.from_dict({"labels": [SMALL["labels"][0], SMALL["labels"][0]]})
    with pytest.raises(ValueError):
        Taxonomy.from_dict({"labels": [{"id": "x", "descriptions": {}}]})
    path = tmp_path / "tax.json"
    path.write_text(json.dumps(SMALL), encoding="utf-8")
    assert [e.id for e in Taxonomy.load(path).entries] == ["sport", "weather", "economy"]
    with pytest.raises(RuntimeError):
        Taxonomy.load(path).label(np.ones((1, 4)))  # no encoder


def test_a_topic_whose_best_name_is_taken_takes_a_close_free_one() -> None:
    from app.topics.taxonomy import assign_entries

    S = np.array(
        [
            [0.25, 0.24, 0.10],  # best is entry 0, but row 1 holds it more confidently; entry 1 is close
            [0.36, 0.20, 0.05],
            [0.40, 0.05, 0.30],  # entry 0 taken, entry 2 is 0.10 behind: keeps the shared name
            [0.12, 0.11, 0.10],  # under the threshold: other
        ],
        dtype=np.float32,
    )
    got = assign_entries(S, threshold=0.15, margin=0.05)
    assert [j for j, _ in got] == [1, 0, 0, -1]
    assert got[0][1] == pytest.approx(0.24) and got[2][1] == pytest.approx(0.40)
    # margin 0: names may repeat, each row keeps its best
    assert [j for j, _ in assign_entries(S, threshold=0.15, margin=0.0)] == [0, 0, 0, -1]
    # the free alternative must reach the threshold too
    assert [j for j, _ in assign_entries(np.array([[0.5, 0.1], [0.18, 0.14]]), 0.15, 0.05)] == [0, 0]


def test_classify_gives_near_tied_topics_distinct_names(monkeypatch: pytest.MonkeyPatch) -> None:
    S = np.array([[0.34, 0.32, 0.0], [0.45, 0.10, 0.0]], dtype=np.float32)  # SMALL threshold: 0.3
    monkeypatch.setattr(Taxonomy, "scores", lambda self, centroids, mean=None: S)
    tax = Taxonomy.from_dict(SMALL, BagOfWordsEncoder())
    assert [eid for eid, _ in tax.classify(np.zeros((2, 4)))] == ["weather", "sport"]
    assert [name for name, _ in tax.label(np.zeros((2, 4)))] == ["Weather", "Sport"]
    shared = Taxonomy.from_dict({**SMALL, "distinct_margin": 0}, BagOfWordsEncoder())
    assert [eid for eid, _ in shared.classify(np.zeros((2, 4)))] == ["sport", "sport"]


def test_display_names_never_repeat() -> None:
    from app.topics.taxonomy import distinct_names

    names = distinct_names(
        ["sport", "sport", "other", "other", "culture", "sport", "sport"],
        [0.5, 0.4, 0.1, 0.05, 0.3, 0.2, 0.15],
        [
            ["Wydad", "derby"],
            ["Wydad", "Raja", "Botola"],
            ["Gnaoua", "Mawazine"],
            [],
            ["cinéma"],
            ["Wydad", "Raja", "derby"],
            ["wydad", "raja"],
        ],
        lambda eid: {"sport": "Sport", "culture": "Culture"}[eid],
        other="Other",
    )
    # the most confident sport topic is "Sport"; the others are told apart by keywords, then by number
    assert names == [
        "Sport",
        "Wydad · Raja",
        "Gnaoua · Mawazine",
        "Other",
        "Culture",
        "Wydad · Raja · derby",
        "wydad · raja (2)",
    ]
