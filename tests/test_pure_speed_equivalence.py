"""The per-headline pure functions were made faster without changing a single output.

Each fast path is compared here with the plain code it replaced (kept below as the reference) on
every title of the shared datasets plus hand-made edge cases, and the premises the fast paths rest
on (which characters IGNORECASE matches, which whitespace is printable) are checked on every code
point, so that a new Python or Unicode version that breaks one fails here rather than drifting.
"""

from __future__ import annotations

import hashlib
import importlib
import random
import re
import sys
import unicodedata

import pytest

from conftest import DATASETS, read_jsonl

N = importlib.import_module("app.ingest.normalise")  # the package re-exports a function of that name

EDGE_TITLES = [
    "Officiel : Rayane Bounida dit oui", "URGENT - Rabat. SM le Roi reçoit", "[Vidéo] Le match en direct",
    "(Officiel) Transfert acté - Foot", "Rabat (MAP) - Le Chef du gouvernement", "Madrid, 3 mars (AFP) - Hola amigos",
    "New York. Les marchés chutent", "CDM. Clubs 25 : le Wydad", "M. Bourita reçoit son homologue",
    "Saisie de plus de 3,9 tonnes de chira", "Marrakech-Safi : 12.341 entreprises créées en 2025",
    "Grâce Royale au profit de ١٢٠١ personnes", "Le 55e anniversaire", "11:20 le 26 30 juin 1 000 000 et 0,50",
    "12 341 habitants ; 1\u00a0234 ; 1\u202f234,56 ; 007 ; 3,90 ; 3.0 ; 10,000 ; 1,2,3 ; 0.05 ; 3.000,5",
    "٢٠٢٥ ۱۲۳ ٣٫٥ إلى أين؟ ٣ أسئلة", "عاجل | الملك محمد السادس يستقبل", "Les prévisions du samedi 21 juin",
    "Previsión del sábado 21 de junio", "Forecast for Saturday 21 June", "iPhone eBay OneDrive McDonald CAF OMDH",
    "« Le Maroc » — l’Équipe – d’Al-Mouminine … “test” ‹x› `y`", "Mort de Chuck Norris, légende (vidéo)",
    "L'iran et l'Irak jusqu'à aujourd'hui qu'il", "LORSQU'IL L'İRAN ſ'il Qu'on", "Trump's plan: the U.S.'S tariffs !",
    "   lots    of \t spaces \n  ", "a", "", "-", " - ", "Œuvre cœur Ærø łódź Đakovo", "x" * 300, "Été ÉTÉ été",
    "Sahara : La Mauritanie défend - Le Polisario; «ruptura» / fin", "A-B -C- D - E", "Alerte météo : Ça va",
    "ﬁnance ＡＢＣ ①②③ ½ ² ㎏", "L'«Équipe» n'a pas d'«idée»", "“Breaking”: X wins", "BREAKING NEWS: Big. Thing",
    "2024 2025 1899 2101 0001 9999", "1.5 1,5 1.50 01.5", "Le 1er mai, 2ème fois, 4G et 24H", "Fin (photos) ",
    "Le prix ? 5 % ! Oui ; non :", "Titre\u00a0: espace insécable\u2009!", "x\u200by soft\u00adhyphen",
]


def _titles() -> list[tuple[str, str | None]]:
    out = [(t, lang) for t in EDGE_TITLES for lang in ("fr", "en", "es", "ar", None)]
    for name, limit in (("gnews_fr/dev.jsonl", None), ("seed_ticker/gold.jsonl", None),
                        ("sib200/dev.jsonl", 300), ("masakhanews/dev.jsonl", 200)):
        path = DATASETS / name
        if path.exists():
            out += [(row["title"], row.get("lang")) for row in read_jsonl(path)[:limit]]
    return out


TITLES = _titles()


# --- the code the fast paths replaced --------------------------------------------------------


class Reference:
    """app/ingest/normalise.py as it was before the fast paths (same compiled patterns where kept)."""

    FRENCH_ELISION = re.compile(
        r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)'(?=[^\W\d_])", re.IGNORECASE
    )
    ENGLISH_POSSESSIVE = re.compile(r"'s\b", re.IGNORECASE)

    @staticmethod
    def unify_punctuation(text: str) -> str:
        text = " ".join(unicodedata.normalize("NFKC", text).split())
        if "«" in text or "»" in text or "‹" in text or "›" in text:
            text = N._SPACE_INSIDE_GUILLEMETS.sub(lambda m: m.group(1) or m.group(2), text)
        return text.translate(N._PUNCT_TABLE) if N._PUNCT_CHARS.search(text) else text

    @staticmethod
    def fold_key(text: str) -> str:
        return " ".join(N.fold_accents(Reference.unify_punctuation(text)).casefold().split())

    @staticmethod
    def one_kicker(text: str, rules: N.KickerRules) -> tuple[str, str] | None:
        is_label = lambda t: Reference.fold_key(t) in {Reference.fold_key(w) for w in rules.labels}  # noqa: E731
        is_place = lambda t: Reference.fold_key(t) in {Reference.fold_key(w) for w in rules.datelines}  # noqa: E731
        match = N._BRACKETED.match(text)
        if match and is_label(match.group(1)):
            return match.group(1), match.group(2)
        match = N._AGENCY_DATELINE.match(text)
        if match and all(word[0].isupper() for word in match.group(1).split()):
            return (match.group(1) + (match.group(2) or "")).strip(), match.group(3)
        match = N._LABELLED.match(text)
        if match:
            head = match.group(1).strip()
            if is_label(head):
                return head, match.group(2)
            separator = text[len(match.group(1)) :].lstrip()[:1]
            if separator == "-" and is_place(head):
                return head, match.group(2)
        match = N._DOT_DATELINE.match(text)
        if match and N._looks_like_dateline(match.group(1), match.group(2), rules):
            return match.group(1), match.group(2)
        return None

    @staticmethod
    def strip_kicker(title: str, rules: N.KickerRules = N.DEFAULT_KICKER_RULES) -> tuple[str | None, str]:
        rest = Reference.unify_punctuation(title)
        found: list[str] = []
        for _ in range(rules.max_kickers):
            split = Reference.one_kicker(rest, rules)
            if split is None:
                break
            kicker, remainder = split
            if len(remainder.split()) < rules.min_rest_words:
                break
            found.append(kicker)
            rest = remainder
        return (" / ".join(found) if found else None), rest

    @staticmethod
    def key_of_rest(rest: str) -> str:
        rest = N._MEDIA_SUFFIX.sub("", rest)
        rest = N._SPACE_BEFORE_PUNCT.sub(r"\1", rest)
        rest = rest.rstrip(N._TRAILING_PUNCT)
        return " ".join(rest.casefold().split())

    @staticmethod
    def tokens(key: str, lang: str | None = None) -> list[str]:
        text = Reference.unify_punctuation(key).casefold()
        text = N._ARABIC_DIACRITICS.sub("", text).translate(N._DIGITS)
        if lang in (None, "fr"):
            text = Reference.FRENCH_ELISION.sub(" ", text)
        if lang in (None, "en"):
            text = Reference.ENGLISH_POSSESSIVE.sub(" ", text)
        return N._TOKEN.findall(text)


# --- premises --------------------------------------------------------------------------------


def test_every_whitespace_but_the_space_is_unprintable():
    # _is_collapsed: a printable text without double, leading or trailing spaces is already collapsed
    bad = [hex(c) for c in range(sys.maxunicode + 1) if chr(c).isspace() and chr(c) != " " and chr(c).isprintable()]
    assert bad == []


def test_spelled_out_case_classes_match_what_ignorecase_matches_on_every_code_point():
    letters = sorted(set("".join(N._ELISIONS)))
    candidates = re.compile("[" + "".join(letters) + "]", re.IGNORECASE)
    found = [chr(c) for c in range(sys.maxunicode + 1) if candidates.fullmatch(chr(c))]
    for letter in letters:
        expected = {c for c in found if re.fullmatch(letter, c, re.IGNORECASE)}
        assert set(N._CASE_VARIANTS.get(letter, letter + letter.upper())) == expected, letter


def test_elision_and_possessive_patterns_match_their_ignorecase_originals():
    rng = random.Random(1)
    alphabet = list("ldjmnstcqueoirpyLDJMNSTCQUEOIRPY ''-_1éİıſK\u0301") + ["qu'", "l'", "jusqu'", "'s", "LORSQU'"]
    texts = [t for t, _ in TITLES] + [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16))) for _ in range(20000)
    ]
    for text in texts:
        assert N._FRENCH_ELISION.sub(" ", text) == Reference.FRENCH_ELISION.sub(" ", text), text
        assert N._ENGLISH_POSSESSIVE.sub(" ", text) == Reference.ENGLISH_POSSESSIVE.sub(" ", text), text


# --- normalisation ---------------------------------------------------------------------------


def _spacey(rng: random.Random) -> str:
    alphabet = list("ab :;!?%.-()[]«»‹›`’—\t\n\u00a0\u2009\u3000") + [" (vidéo)", " [Photos] ", "Rabat. ", "URGENT : "]
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))


def test_normalisation_is_unchanged():
    rng = random.Random(2)
    texts = [t for t, _ in TITLES] + [_spacey(rng) for _ in range(5000)]
    for text in texts:
        assert N.unify_punctuation(text) == Reference.unify_punctuation(text), text
        assert N._fold_key(text) == Reference.fold_key(text), text
        assert N.key_of_rest(text) == Reference.key_of_rest(text), text
        kicker, rest = N.strip_kicker(text)
        assert (kicker, rest) == Reference.strip_kicker(text), text
        key = N.key_of_rest(rest)
        assert N.normalise(text) == key == Reference.key_of_rest(Reference.strip_kicker(text)[1])
        assert N.text_hash(key) == hashlib.sha256(key.encode("utf-8")).hexdigest()
        for lang in (None, "fr", "en", "es", "ar"):
            assert N.tokens(key, lang) == Reference.tokens(key, lang), (text, lang)
            assert N.tokens(text, lang) == Reference.tokens(text, lang), (text, lang)


@pytest.mark.parametrize("text", [" a", "a ", "a  b", "a\tb", "a\u00a0b", "", "ab", "a b"])
def test_is_collapsed(text):
    assert N._is_collapsed(text) == (" ".join(text.split()) == text)
