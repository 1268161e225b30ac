"""No request may freeze the server, and no blank title may be stored.

Splitting a capture is linear in its length (a property test against a reference splitter written
below, then 2 MB captures shaped to make a backtracking pattern explode), the real server keeps
answering /livez within a second while such bodies are posted, and titles that show nothing (only
invisible characters, or no letter or digit at all) are refused like empty ones.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from contextlib import contextmanager
from itertools import groupby
from typing import Callable, Iterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ingest.normalise import has_content
from app.ingest.split import split_capture, split_headlines

NBSP = "\u00a0"
BLANKS = " \t" + NBSP
BULLETS = frozenset("|•·")
TEXT = {"Content-Type": "text/plain"}
#: the default TICKER_MAX_BODY_BYTES: every capture below is as large as a request may be
BODY_LIMIT = 2_000_000
#: a bound on a hang, not a measurement: a backtracking pattern takes hours on these captures, linear code
#: about a second; that the work is linear is counted, not timed, in test_ingest_normalise.py
SPLIT_BOUND = 60.0


# --- a reference splitter ---------------------------------------------------------------------------


def reference_items(line: str) -> list[str]:
    """The spec, read literally: cut ``line`` into maximal runs of blanks and runs of the rest; a blank run
    holding two NBSPs or more is a separator, and so is blank run + one bullet + blank run."""
    runs = ["".join(group) for _, group in groupby(line, key=lambda ch: ch in BLANKS)]
    items, current, i = [], "", 0
    while i < len(runs):
        run = runs[i]
        blank = run[0] in BLANKS
        if blank and run.count(NBSP) >= 2:
            items.append(current)
            current, i = "", i + 1
        elif blank and i + 2 < len(runs) and runs[i + 1] in BULLETS:  # runs alternate: runs[i + 2] is blank
            items.append(current)
            current, i = "", i + 3
        else:
            current += run
            i += 1
    return [*items, current]


def reference_headlines(text: str) -> list[str]:
    return [item.strip() for line in text.split("\n") for item in reference_items(line) if item.strip()]


def test_the_reference_splitter_reads_the_spec():
    assert reference_items(f"a{NBSP}b") == [f"a{NBSP}b"]  # French typography stays
    assert reference_items(f"a {NBSP}\t{NBSP} b") == ["a", "b"]
    assert reference_items("a | b • c · d") == ["a", "b", "c", "d"]
    assert reference_items("a |b") == ["a |b"] and reference_items("a| b") == ["a| b"]
    assert reference_items(f"a {NBSP}{NBSP}| b") == ["a", "| b"]  # the NBSP run is the separator, whole


#: words, blanks, bullets, line breaks and the invisible characters that stand in for blanks
PIECES = [
    " ",
    " ",
    "\t",
    NBSP,
    NBSP,
    "|",
    "•",
    "·",
    "\n",
    "Maroc",
    "CAF",
    "Rabat",
    "été",
    "2025",
    ".",
    "\u200b",
    "\u3164",
    "\ufeff",
    "\u0301",
]
texts = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, database=None)
@given(texts)
def test_split_headlines_matches_the_reference(text):
    items = split_headlines(text)
    assert items == reference_headlines(text)
    at = 0
    for item in items:  # trimmed pieces of the input, in order, holding no separator
        assert item and item == item.strip()
        found = text.find(item, at)
        assert found >= 0, (item, text)
        at = found + len(item)
        assert reference_items(item) == [item]


def _is_ticker_item(item: str) -> bool:
    # what the vocabulary above can make of the splitter's furniture rule: a shown letter and two words
    return any(ch.isalpha() and ch != "\u3164" for ch in item) and len(item.split()) >= 2


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, database=None)
@given(texts.map(lambda t: t.replace("\n", " ")))
def test_a_ticker_line_yields_the_reference_items(line):
    parts = reference_items(line.strip())
    if len(parts) == 1:
        return  # no separator: the line is read as a list or an article, which is another test's business
    assert split_capture(line) == [p.strip() for p in parts if _is_ticker_item(p.strip())]


# --- 2 MB captures --------------------------------------------------------------------------------


def _fill(head: str, unit: str, tail: str = "") -> str:
    """``head``, then ``unit`` as often as fits in BODY_LIMIT bytes of UTF-8, then ``tail``."""
    n = (BODY_LIMIT - len((head + tail).encode())) // len(unit.encode())
    return head + unit * n + tail


def adversarial_captures() -> dict[str, str]:
    half = BODY_LIMIT // 2 - 8
    return {
        "spaces around one NBSP": "x " + " " * half + NBSP + " " * half + "y",  # cubic for the old pattern
        "space-NBSP pairs": _fill("Le Maroc", " " + NBSP, " et la CAF"),
        "spaces and tabs": _fill("Le Maroc", " \t", " et la CAF"),  # quadratic for the old pattern
        "spaces then a bar with no space": "Le Maroc " + " " * (BODY_LIMIT - 100) + "|et la CAF",
        "bars": _fill("Le Maroc", " | ", "et la CAF"),
        "items between bars": _fill("", "Le Maroc et la CAF | "),
        "bullets between NBSPs": _fill("", f"Le Maroc{NBSP}•{NBSP}"),
        "words with one NBSP": _fill("", "mot" + NBSP),
        "full stops on a line": _fill("", "a. B"),
        "full stops without spaces": _fill("", "a."),
        "sentences a line": _fill("", "Le Maroc. Et la CAF. A b c d e f g h i j k l.\n"),
        "headlines a line": _fill("", "Le Maroc et l'Espagne signent un accord sur l'eau\n"),
        "blank lines": _fill("Le Maroc et la CAF", "\n"),
        "line separators": _fill("Le Maroc et la CAF", "\r\u2028\u0085"),
        "dashes and handles": _fill("— ", "(@a) "),
        "agency datelines": _fill("Rabat ", "(MAP) "),
        "invisible characters": _fill("", "\u200b\u3164\u00ad "),
        # NFKC writes U+FDFA as 18 characters: looking at such a line five times cost seconds
        "one line NFKC grows": _fill("", "\ufdfa"),
        "lines NFKC grows": _fill("", "\ufdfa" * 3999 + "\n"),
        "ticker items NFKC grows": _fill("", "\ufdfa" * 3999 + " \u00a0\u00a0 "),
    }


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Fail at ``seconds`` instead of waiting: a backtracking pattern can take hours (re checks signals)."""

    def expire(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(adversarial_captures()))
@pytest.mark.parametrize("split", [split_capture, split_headlines], ids=["split_capture", "split_headlines"])
def test_a_2mb_capture_is_split_in_bounded_time(name: str, split: Callable[[str], list[str]]):
    text = adversarial_captures()[name]
    assert len(text.encode()) <= BODY_LIMIT
    with _deadline(SPLIT_BOUND):
        items = split(text)
    assert all(item == item.strip() and item in text for item in items[:100])


# --- through the real server ----------------------------------------------------------------------


def _json_bodies() -> dict[tuple[str, str], bytes]:
    """JSON bodies of the size limit whose every part is wrong: one schema error each, a million in all."""
    many_keys = {"title": "Le Maroc et la CAF", **{f"k{i}": 1 for i in range(140_000)}}
    return {
        ("/v1/headlines", "empty items"): _fill('{"headlines": [', "{},", "{}]}").encode(),
        ("/v1/headlines", "numbers for items"): _fill('{"headlines": [', "1,", "1]}").encode(),
        ("/v1/headlines", "unknown fields"): json.dumps({"headlines": [many_keys]}).encode(),
        ("/v1/dedup/check", "unknown fields"): json.dumps(many_keys).encode(),
        # a number pattern with two ways to split a run of digits took 5 s for 20 KB of them
        ("/v1/headlines", "digits for a date"): _fill(
            '{"headlines": [{"title": "Le Maroc", "published_at": "', "1", 'x"}]}'
        ).encode(),
    }


@pytest.mark.slow
def test_the_server_keeps_answering_while_it_reads_hostile_bodies(tmp_path):
    from server import Server

    stop = threading.Event()
    livez: list[tuple[float, int | str]] = []

    def poll(url: str) -> None:
        with httpx.Client(timeout=30) as client:
            while not stop.is_set():
                start = time.perf_counter()
                try:
                    status: int | str = client.get(url + "/livez").status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                livez.append((time.perf_counter() - start, status))
                time.sleep(0.02)

    requests = [(("/v1/ticker", name), text.encode(), TEXT) for name, text in adversarial_captures().items()]
    requests += [(key, body, {"Content-Type": "application/json"}) for key, body in _json_bodies().items()]
    answers: list[tuple[str, str, int, float]] = []
    env = {
        "TICKER_DATA_DIR": str(tmp_path / "data"),
        "TICKER_REFIT_EVERY_SECONDS": "3600",
        "TICKER_MAX_BODY_BYTES": str(BODY_LIMIT),
    }
    with Server(env) as server:
        poller = threading.Thread(target=poll, args=(server.url,), daemon=True)
        poller.start()
        try:
            with httpx.Client(timeout=60) as client:
                for (path, name), body, headers in requests:
                    assert len(body) <= BODY_LIMIT, name
                    start = time.perf_counter()
                    r = client.post(server.url + path, content=body, headers=headers)
                    answers.append((path, name, r.status_code, time.perf_counter() - start))
                    if r.status_code >= 400:
                        detail = r.json()["detail"]
                        assert detail and all(d["loc"] and d["msg"] for d in detail), (name, r.text[:300])
        finally:
            stop.set()
            poller.join(timeout=60)
    print(
        f"\n/livez: {len(livez)} answers, slowest {max(s for s, _ in livez):.3f} s; bodies (path, shape, status, s): "
        + "; ".join(f"{path} {name} {code} {s:.2f}" for path, name, code, s in answers)
    )
    bad = [
        (path, name, code, round(s, 2))
        for path, name, code, s in answers
        if not (code < 300 or 400 <= code < 500) or s > 15
    ]
    assert not bad, f"not a quick 2xx or a clear 4xx: {bad}"
    slow = [(round(s, 2), status) for s, status in livez if s > 1.0 or status != 200]
    assert livez and not slow, f"/livez late or failing while hostile bodies were read: {slow}; answers {answers}"


# --- titles that show nothing ---------------------------------------------------------------------

INVISIBLE = [
    "\u200b",
    "\u200c\u200d",
    "\ufeff",
    "\u00ad",
    "\u200e\u200f",
    "\u202a\u202b\u202c\u202d\u202e",
    "\u2066\u2067\u2068\u2069",
    "\u3164",
    "\u2800\u2800\u2800",
    "\u115f\u1160",
    "\uffa0",
    "\u0301\u0308",
    "\ufe0f\ufe0e",
    "\U000e0001\U000e0041\U000e007f",
    "\u034f\u2060\u2061\u2062",
    " \u200b \u3164\t\u2800 ",
]
#: text a reader sees, with nothing in it to match on
NO_LETTER_OR_DIGIT = ["...", "!!!", "🔥🔥🔥", "— · —", "%", "«  »", "?!"]
#: Default_Ignorable_Code_Point (Unicode DerivedCoreProperties.txt)
DEFAULT_IGNORABLE = [
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
]


def test_what_counts_as_content():
    assert not any(has_content(chr(cp)) for lo, hi in DEFAULT_IGNORABLE for cp in range(lo, hi + 1))
    assert not any(has_content(t) for t in INVISIBLE + NO_LETTER_OR_DIGIT)
    assert all(has_content(t) for t in ["a", "É", "ب", "ⵜ", "中", "7", "١", "\u200bLe\u00a0Maroc\u200b", "2-1"])
    assert not has_content("2-1", digits=False) and has_content("2-1 au Maroc", digits=False)


def post(c, *titles: str):
    return c.post("/v1/headlines", json={"headlines": [{"title": t} for t in titles]})


@pytest.mark.parametrize("title", INVISIBLE + NO_LETTER_OR_DIGIT, ids=lambda t: "+".join(f"{ord(c):04X}" for c in t))
def test_a_title_that_shows_nothing_is_refused_by_name(client, title):
    fine = ["Le Maroc et l'Espagne signent un accord sur l'eau", "La CAF fixe la date de la finale", "Rabat : 2-1"]
    r = post(client, *fine, title)
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "headlines", 3, "title"] and err["type"] == "value_error.no_content", err
    assert "no letter or digit" in err["msg"]
    r = client.post("/v1/dedup/check", json={"title": title})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "title"]
    assert client.get("/v1/stories").json()["total"] == 0


def test_punctuation_alone_is_not_a_duplicate_of_other_punctuation(client):
    # "!!!" and "..." have the same (empty) matching key: stored, the one was an exact duplicate of the other
    assert post(client, "...").status_code == 422
    assert client.post("/v1/dedup/check", json={"title": "!!!"}).status_code == 422
    assert client.get("/v1/stories").json()["total"] == 0


def test_blank_ticker_items_are_furniture(client):
    real = ["Le Maroc et l'Espagne signent un accord sur l'eau", "La CAF fixe la date de la finale à Rabat"]
    capture = f"{real[0]} | \u3164\u3164 \u3164 | \u200b \u200b{NBSP}{NBSP}\u2800 \u2800 | {real[1]}\n\u115f\u1160 \ufeff\u3164 \uffa0"
    r = client.post("/v1/ticker", content=capture.encode(), headers=TEXT)
    assert r.status_code == 200, r.text
    stored = [client.get(f"/v1/headlines/{x['headline_id']}").json()["title"] for x in r.json()["results"]]
    assert stored == real
    r = client.post(
        "/v1/ticker", content=f"\u3164\u3164 \u3164 | \u200b\u200b \u2800 | {NBSP}\u00ad".encode(), headers=TEXT
    )
    assert r.status_code == 422 and r.json()["detail"][0]["msg"] == "no headline found in the capture", r.text


def test_a_batch_over_the_limit_is_refused_before_its_items_are_read(make_client):
    client = make_client(max_batch_size=5)
    r = client.post("/v1/headlines", json={"headlines": [{}] * 6})
    assert r.status_code == 422
    assert r.json()["detail"] == [
        {
            "loc": ["body", "headlines"],
            "msg": "the batch holds 6 headlines; the limit is 5",
            "type": "value_error.too_long",
        }
    ]
    r = client.post("/v1/headlines", json={"headlines": [{"title": "Le Maroc", **{f"k{i}": 1 for i in range(1500)}}]})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert len(detail) == 1001 and detail[-1]["msg"] == "500 more errors, not listed", detail[-1]


def test_a_ticker_item_too_long_for_a_headline_is_refused_by_name_not_dropped(client):
    """An item longer than any headline is not looked at (normalising it could cost seconds), but it is
    not lost either: the capture is refused with the item's place, as a title too long would be."""
    from app.ingest.split import DEFAULT_PARAMS

    long_item = "mot " * (DEFAULT_PARAMS.max_line_chars // 4 + 10)
    capture = f"Le Maroc signe un accord avec l'Espagne à Rabat {NBSP}{NBSP} {long_item.strip()}"
    assert split_capture(capture)[1] == long_item.strip()
    r = client.post("/v1/ticker", content=capture.encode(), headers=TEXT)
    assert r.status_code == 422, r.text
    assert any(e["loc"] == ["body", 1] for e in r.json()["detail"]), r.json()
