"""normalise / strip_kicker / text_hash / fold_accents / tokens / stop words."""

from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
import re
import sys
from collections import defaultdict
from pathlib import Path
from re import _constants, _parser  # a pattern's parsed form, to find its repeats (private, 3.11+)
from types import FrameType
from typing import Any, Callable, Iterable, Iterator

import pytest

import app.ingest
from app.ingest.fold import fold_accents
from app.ingest.kicker import KickerRules, strip_kicker
from app.ingest.normalise import normalise, text_hash, tokens
from app.ingest.punctuation import unify_punctuation
from app.ingest.split import SplitParams, split_capture
from app.ingest.stopwords import STOPWORDS, is_stopword

GOLD = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "seed_ticker" / "gold.jsonl"


# --- kickers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "kicker", "rest"),
    [
        (
            "Officiel : Rayane Bounida dit NON à la Belgique et choisit le Maroc !",
            "Officiel",
            "Rayane Bounida dit NON à la Belgique et choisit le Maroc !",
        ),
        ("Rabat. SM le Roi accomplit la prière de l'Aïd", "Rabat", "SM le Roi accomplit la prière de l'Aïd"),
        (
            "Exclusif. Réformes sociales. Younès Sekkouri : « Chaque dirham compte »",
            "Exclusif",
            'Réformes sociales. Younès Sekkouri : "Chaque dirham compte"',
        ),
        (
            "Célébration. Le peuple marocain célèbre le 55e anniversaire",
            "Célébration",
            "Le peuple marocain célèbre le 55e anniversaire",
        ),
        ("Désintox : De l'agence de presse aux sites à buzz", "Désintox", "De l'agence de presse aux sites à buzz"),
        ("URGENT - Séisme de magnitude 5 au large d'Agadir", "URGENT", "Séisme de magnitude 5 au large d'Agadir"),
        ("URGENT – Séisme de magnitude 5 au large d'Agadir", "URGENT", "Séisme de magnitude 5 au large d'Agadir"),
        ("Breaking: Morocco reaches the World Cup semi-final", "Breaking", "Morocco reaches the World Cup semi-final"),
        ("Vidéo. Le roi inaugure un hôpital à Rabat", "Vidéo", "Le roi inaugure un hôpital à Rabat"),
        ("[VIDEO] Morocco fans celebrate in Paris", "VIDEO", "Morocco fans celebrate in Paris"),
        ("Rabat - Le Maroc et la France signent un accord", "Rabat", "Le Maroc et la France signent un accord"),
        ("Rabat (MAP) - Le Maroc et la France signent un accord", "Rabat", "Le Maroc et la France signent un accord"),
        ("New York. António Guterres reçoit Amina Bouayach", "New York", "António Guterres reçoit Amina Bouayach"),
        ("Última hora: Marruecos gana a Portugal", "Última hora", "Marruecos gana a Portugal"),
        ("عاجل: المغرب يتأهل إلى نصف النهائي", "عاجل", "المغرب يتأهل إلى نصف النهائي"),
        ("URGENT - Rabat. Le roi reçoit le président", "URGENT / Rabat", "Le roi reçoit le président"),
    ],
)
def test_kickers_are_stripped(title: str, kicker: str, rest: str) -> None:
    assert strip_kicker(title) == (kicker, rest)


@pytest.mark.parametrize(
    "title",
    [
        "Sahara : La Mauritanie défend la fermeture de ses frontières face au Polisario",
        "Tanger-Med : Saisie de 4 tonnes de cannabis dissimulées dans du faux poisson",
        "CAN 1976 : comment L'Equipe, BeIN Sports, Goal et Koora ont relayé une fake news",
        "Alerte météo. Nouvelle vague de chaleur dès ce vendredi",
        "CDM. Clubs 25 : Mbappé de retour, mais incertain pour le choc face à Pachuca",
        "M. Bourita reçoit son homologue espagnol",
        "Maroc - Espagne : match nul à Tanger",
        "Le Maroc condamne (AFP) - une déclaration",
        "Officiel : Oui",  # stripping would leave a single word
        "Rabat: Un parking souterrain en deux sous-sols ouvre ses portes",
    ],
)
def test_topic_prefixes_and_lookalikes_stay(title: str) -> None:
    kicker, rest = strip_kicker(title)
    assert kicker is None
    assert rest == unify_punctuation(title)


def test_kicker_list_is_configurable() -> None:
    rules = KickerRules(labels=frozenset({"sahara"}))
    title = "Sahara : La Mauritanie défend la fermeture de ses frontières"
    assert strip_kicker(title, rules)[0] == "Sahara"
    assert strip_kicker("Officiel : Rayane Bounida choisit le Maroc", rules)[0] is None


# --- the key ------------------------------------------------------------------------------------


def test_key_unifies_quotes_dashes_spaces_and_case() -> None:
    variants = [
        "Sultana Khaya dément toute «scission» avec le Polisario",
        "Sultana Khaya dément toute « scission » avec le Polisario",
        "SULTANA KHAYA DÉMENT TOUTE “SCISSION” AVEC LE POLISARIO",
        "Sultana  Khaya\u00a0dément toute \"scission\" avec le Polisario !",
        "  Sultana Khaya dément toute ‹scission› avec le Polisario.",
    ]
    keys = {normalise(v) for v in variants}
    assert keys == {'sultana khaya dément toute "scission" avec le polisario'}
    assert normalise("Marrakech–Safi : l’ONDH — 12.341 entreprises") == "marrakech-safi: l'ondh - 12.341 entreprises"
    assert normalise("Rabat : X et Y") == normalise("Rabat: X et Y")


def test_key_drops_kicker_and_media_suffix_but_keeps_accents() -> None:
    assert normalise("Officiel : Rayane Bounida dit NON à la Belgique !") == "rayane bounida dit non à la belgique"
    assert normalise("Le monde affûte ses armes au Maroc (vidéos)") == "le monde affûte ses armes au maroc"
    assert normalise("Pêche") != normalise("Péché")
    assert normalise("ﬁnale de la Coupe") == "finale de la coupe"  # NFKC


def test_gold_keys_equal_only_for_exact_repeats() -> None:
    if not GOLD.exists():
        pytest.skip("shared datasets not available")
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_key: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_key[normalise(row["title"])].append(row)
    shared = [group for group in by_key.values() if len(group) > 1]
    # One exact repeat in the gold ("Aïd Al Fitr : Grâce Royale ..."), and it is one story.
    assert len(shared) == 1
    assert len({row["title"] for row in shared[0]}) == 1
    assert len({row["story"] for row in shared[0]}) == 1
    assert all(key == key.strip() and "  " not in key and key == key.casefold() for key in by_key)


def test_text_hash_is_sha256_of_the_key() -> None:
    key = normalise("Le Maroc bat le Portugal")
    assert text_hash(key) == hashlib.sha256(key.encode("utf-8")).hexdigest()
    assert text_hash(key) == text_hash(normalise("LE MAROC BAT LE PORTUGAL !"))
    assert text_hash(key) != text_hash(normalise("Le Portugal bat le Maroc"))
    assert len(text_hash("")) == 64


# --- folding and tokens -------------------------------------------------------------------------


def test_fold_accents() -> None:
    assert fold_accents("Sénégal, Medellín, Aïd, cœur, Lomé") == "Senegal, Medellin, Aid, coeur, Lome"
    assert fold_accents("الأميركية إفريقيا مكتبةٌ") == "الاميركيه افريقيا مكتبه"
    assert fold_accents("٢٠٢٦") == "2026"
    assert fold_accents("SÉVILLE") == "SEVILLE"  # case kept


def test_tokens_french_elisions_and_numbers() -> None:
    got = tokens(normalise("L'ONDH engage 15,8 MDH ; 12.341 entreprises créées d'ici 2028, jusqu'au 31 décembre"), "fr")
    assert got == [
        "ondh",
        "engage",
        "15,8",
        "mdh",
        "12.341",
        "entreprises",
        "créées",
        "ici",
        "2028",
        "au",
        "31",
        "décembre",
    ]
    assert tokens("qu'il fera aujourd'hui", "fr") == ["il", "fera", "aujourd'hui"]
    assert tokens("Aïd Al-Fitr : Grâce Royale au profit de 1201 personnes", "fr")[:3] == ["aïd", "al", "fitr"]
    assert tokens("De la 2G à la 6G, U23, 45%", "fr") == ["de", "la", "2g", "à", "la", "6g", "u23", "45"]


def test_tokens_english_spanish_arabic() -> None:
    assert tokens("Morocco's €370 million IFC loan", "en") == ["morocco", "370", "million", "ifc", "loan"]
    assert tokens("Sultana Khaya rompe el silencio y desmiente cualquier «ruptura»", "es")[-1] == "ruptura"
    assert tokens("نقدر جهودَ المغرب في مكافحة الإرهاب ٢٠٢٢", "ar") == [
        "نقدر",
        "جهود",
        "المغرب",
        "في",
        "مكافحة",
        "الإرهاب",
        "2022",
    ]


# --- stop words ---------------------------------------------------------------------------------


def test_stopword_lists() -> None:
    assert set(STOPWORDS) == {"fr", "es", "en", "ar"}
    for lang, words in STOPWORDS.items():
        assert 100 <= len(words) <= 300, lang
        assert all(word == word.casefold() for word in words)
    assert is_stopword("Été", "fr") and is_stopword("ete", "fr")
    assert is_stopword("the", "en") and not is_stopword("the", "fr")
    assert is_stopword("según", "es") and is_stopword("segun")
    assert is_stopword("الذي", "ar")
    for word in ("maroc", "morocco", "marruecos", "المغرب", "sahara", "polisario"):
        assert not is_stopword(word)


# --- hostile input ------------------------------------------------------------------------------

#: long runs (unit, tail) that a backtracking pattern or a loop rescanning the text turns quadratic
HOSTILE = [(" ", "x"), ("\u00a0 ", "x"), (". ", "x"), (" »", ""), ("l'", "")]
#: work per input character past which the meter stops the run: linear code does at most 13 here, and a
#: quadratic path stops in a second instead of running for minutes under the tracer
WORK_PER_CHAR = 100
#: every module of app/ingest: their compiled patterns are what the meter below charges for
INGEST_MODULES = [
    importlib.import_module(f"app.ingest.{info.name}") for info in pkgutil.iter_modules(app.ingest.__path__)
]


class _MeteredPattern:
    """A compiled pattern that adds to ``work`` the characters each call reads: up to the end of the match
    ``match`` or ``search`` finds, else the whole range it was given (``sub``, ``findall``... read it all)."""

    def __init__(self, pattern: re.Pattern[str], work: list[int]) -> None:
        self._pattern = pattern
        self._work = work

    def __getattr__(self, name: str) -> Any:  # .pattern, .flags, .groups: the pattern's own
        return getattr(self._pattern, name)

    def _read(self, found: re.Match[str] | None, string: str, pos: int, endpos: int) -> re.Match[str] | None:
        self._work[0] += (found.end() if found is not None else min(endpos, len(string))) - pos
        return found

    def match(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self._read(self._pattern.match(string, pos, endpos), string, pos, endpos)

    def fullmatch(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self._read(self._pattern.fullmatch(string, pos, endpos), string, pos, endpos)

    def search(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        return self._read(self._pattern.search(string, pos, endpos), string, pos, endpos)

    def findall(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
        self._read(None, string, pos, endpos)
        return self._pattern.findall(string, pos, endpos)

    def finditer(self, string: str, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[re.Match[str]]:
        self._read(None, string, pos, endpos)
        return self._pattern.finditer(string, pos, endpos)

    def split(self, string: str, maxsplit: int = 0) -> list[str | Any]:
        self._read(None, string, 0, len(string))
        return self._pattern.split(string, maxsplit)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:
        self._read(None, string, 0, len(string))
        return self._pattern.sub(repl, string, count)

    def subn(self, repl: Any, string: str, count: int = 0) -> tuple[str, int]:
        self._read(None, string, 0, len(string))
        return self._pattern.subn(repl, string, count)


def _work(fn: Callable[[str], object], text: str, monkeypatch: pytest.MonkeyPatch) -> int:
    """Python lines run by ``fn(text)``, plus the characters its patterns read and the strings it builds:
    a count, not a time, so the same code on the same input gives the same figure on any machine."""
    fn(text)  # warm the word caches first: a cold and a warm run do different work
    work = [0]
    budget = WORK_PER_CHAR * len(text)
    with monkeypatch.context() as patch:
        for module in INGEST_MODULES:
            for name, value in vars(module).items():
                if isinstance(value, re.Pattern):
                    patch.setattr(module, name, _MeteredPattern(value, work))

        bound: dict[FrameType, dict[str, object]] = {}

        def count_lines(frame: FrameType, event: str, arg: object) -> Callable[..., object]:
            if event == "line":
                work[0] += 1
                # a new string in a local was built a character at a time: rebuilding the text once per
                # character (text = text.replace(ch, x, 1) in a loop) is quadratic in one line
                seen = bound.setdefault(frame, {})
                for name, value in frame.f_locals.items():
                    if isinstance(value, str) and seen.get(name) is not value:
                        work[0] += len(value)
                        seen[name] = value
                if work[0] > budget:  # raised into the code under test, which lets it through
                    raise AssertionError(f"{fn.__name__}: work past {budget} for {len(text)} characters")
            return count_lines

        def trace(frame: FrameType, event: str, arg: object) -> Callable[..., object] | None:
            # the meter's own lines (this file) are not the work of the code under test
            return None if frame.f_code.co_filename == __file__ else count_lines

        previous = sys.gettrace()
        sys.settrace(trace)
        try:
            fn(text)
        finally:
            sys.settrace(previous)
    return work[0]


@pytest.mark.parametrize(
    ("unit", "tail"), HOSTILE, ids=["spaces", "nbsp-space", "full-stops", "guillemets", "elisions"]
)
@pytest.mark.parametrize("fn", [normalise, tokens, split_capture], ids=["normalise", "tokens", "split_capture"])
def test_work_is_linear_on_long_runs(
    fn: Callable[[str], object], unit: str, tail: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twice the input, at most twice the work (plus a margin): quadratic code does four times as much.
    # Both sizes are past the longest line split_capture reads as a headline, so both take one path.
    n = SplitParams().max_line_chars
    small, large = (_work(fn, unit * k + tail, monkeypatch) for k in (n, 2 * n))
    assert large <= 2.5 * small, f"{fn.__name__}: work {small} for {n} units, {large} for {2 * n}"


def _unbounded_repeats_nested(items: Iterable[tuple[Any, Any]], inside: bool = False) -> bool:
    """True when an unbounded repeat (``*``, ``+``, ``{n,}``) sits inside another one."""
    for op, arg in items:
        if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT):
            unbounded = arg[1] == _constants.MAXREPEAT
            if (unbounded and inside) or _unbounded_repeats_nested(arg[2], inside or unbounded):
                return True
        elif op in (_constants.SUBPATTERN, _constants.ATOMIC_GROUP, _constants.ASSERT, _constants.ASSERT_NOT):
            if _unbounded_repeats_nested(arg[-1], inside):
                return True
        elif op == _constants.BRANCH and any(_unbounded_repeats_nested(branch, inside) for branch in arg[1]):
            return True
    return False


#: nested runs that cannot backtrack: each inner run follows a separator it cannot match ("," or "." before
#: digits, an apostrophe before letters). A changed pattern leaves this list and is looked at again.
SEPARATED_RUNS = {r"\d+(?:[.,]\d+)*[^\W_]*|[^\W\d_][^\W_]*(?:'[^\W\d_]+)*"}


def test_no_ingest_pattern_nests_unbounded_repeats() -> None:
    # (a+)+ or (\w+\s?)* tries every way to cut a run between the two repeats: exponential on a long run
    nested = [
        f"{module.__name__}.{name}"
        for module in INGEST_MODULES
        for name, value in vars(module).items()
        if isinstance(value, re.Pattern)
        and value.pattern not in SEPARATED_RUNS
        and _unbounded_repeats_nested(_parser.parse(value.pattern, value.flags))
    ]
    assert nested == []


def test_unify_punctuation_skips_no_character_it_should_change():
    """The fast paths (no guillemet, nothing to translate) give what the full treatment gives."""
    import unicodedata

    from app.ingest.punctuation import _PUNCT_TABLE, _SPACE_INSIDE_GUILLEMETS, unify_punctuation

    def full(text: str) -> str:
        text = " ".join(unicodedata.normalize("NFKC", text).split())
        return _SPACE_INSIDE_GUILLEMETS.sub(lambda m: m.group(1) or m.group(2), text).translate(_PUNCT_TABLE)

    cases = [
        "plain ascii - title",
        "« Il » a dit",
        "‹ a › b",
        "it`s ´x´",
        "‘y’ – z — w − v",
        "a\u00a0b\u2009c",
        "ﬁn de « match »",
        "عاجل | خبر",
        "",
        "   ",
        "x«y»z",
        "l’État “fort”",
        "1 ‐ 2 ‑ 3 ﹣ 4 － 5",
    ]
    for text in cases:
        assert unify_punctuation(text) == full(text), text
