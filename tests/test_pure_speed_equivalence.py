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
K = importlib.import_module("app.ingest.kicker")
P = importlib.import_module("app.ingest.punctuation")
FOLD = importlib.import_module("app.ingest.fold")

EDGE_TITLES = [
    "Officiel : Rayane Bounida dit oui",
    "URGENT - Rabat. SM le Roi reçoit",
    "[Vidéo] Le match en direct",
    "(Officiel) Transfert acté - Foot",
    "Rabat (MAP) - Le Chef du gouvernement",
    "Madrid, 3 mars (AFP) - Hola amigos",
    "New York. Les marchés chutent",
    "CDM. Clubs 25 : le Wydad",
    "M. Bourita reçoit son homologue",
    "Saisie de plus de 3,9 tonnes de chira",
    "Marrakech-Safi : 12.341 entreprises créées en 2025",
    "Grâce Royale au profit de ١٢٠١ personnes",
    "Le 55e anniversaire",
    "11:20 le 26 30 juin 1 000 000 et 0,50",
    "12 341 habitants ; 1\u00a0234 ; 1\u202f234,56 ; 007 ; 3,90 ; 3.0 ; 10,000 ; 1,2,3 ; 0.05 ; 3.000,5",
    "٢٠٢٥ ۱۲۳ ٣٫٥ إلى أين؟ ٣ أسئلة",
    "عاجل | الملك محمد السادس يستقبل",
    "Les prévisions du samedi 21 juin",
    "Previsión del sábado 21 de junio",
    "Forecast for Saturday 21 June",
    "iPhone eBay OneDrive McDonald CAF OMDH",
    "« Le Maroc » — l’Équipe – d’Al-Mouminine … “test” ‹x› `y`",
    "Mort de Chuck Norris, légende (vidéo)",
    "L'iran et l'Irak jusqu'à aujourd'hui qu'il",
    "LORSQU'IL L'İRAN ſ'il Qu'on",
    "Trump's plan: the U.S.'S tariffs !",
    "   lots    of \t spaces \n  ",
    "a",
    "",
    "-",
    " - ",
    "Œuvre cœur Ærø łódź Đakovo",
    "x" * 300,
    "Été ÉTÉ été",
    "Sahara : La Mauritanie défend - Le Polisario; «ruptura» / fin",
    "A-B -C- D - E",
    "Alerte météo : Ça va",
    "ﬁnance ＡＢＣ ①②③ ½ ² ㎏",
    "L'«Équipe» n'a pas d'«idée»",
    "“Breaking”: X wins",
    "BREAKING NEWS: Big. Thing",
    "2024 2025 1899 2101 0001 9999",
    "1.5 1,5 1.50 01.5",
    "Le 1er mai, 2ème fois, 4G et 24H",
    "Fin (photos) ",
    "Le prix ? 5 % ! Oui ; non :",
    "Titre\u00a0: espace insécable\u2009!",
    "x\u200by soft\u00adhyphen",
]


def _titles() -> list[tuple[str, str | None]]:
    out = [(t, lang) for t in EDGE_TITLES for lang in ("fr", "en", "es", "ar", None)]
    for name, limit in (
        ("gnews_fr/dev.jsonl", None),
        ("seed_ticker/gold.jsonl", None),
        ("sib200/dev.jsonl", 300),
        ("masakhanews/dev.jsonl", 200),
    ):
        path = DATASETS / name
        if path.exists():
            out += [(row["title"], row.get("lang")) for row in read_jsonl(path)[:limit]]
    return out


TITLES = _titles()


# --- the code the fast paths replaced --------------------------------------------------------


class Reference:
    """app/ingest/ key code as it was before the fast paths (same compiled patterns where kept)."""

    FRENCH_ELISION = re.compile(
        r"\b(?:l|d|j|m|n|s|t|c|qu|jusqu|lorsqu|puisqu|quoiqu|presqu)'(?=[^\W\d_])", re.IGNORECASE
    )
    ENGLISH_POSSESSIVE = re.compile(r"'s\b", re.IGNORECASE)

    @staticmethod
    def unify_punctuation(text: str) -> str:
        text = " ".join(unicodedata.normalize("NFKC", text).split())
        if "«" in text or "»" in text or "‹" in text or "›" in text:
            text = P._SPACE_INSIDE_GUILLEMETS.sub(lambda m: m.group(1) or m.group(2), text)
        return text.translate(P._PUNCT_TABLE) if P._PUNCT_CHARS.search(text) else text

    @staticmethod
    def fold_key(text: str) -> str:
        return " ".join(FOLD.fold_accents(Reference.unify_punctuation(text)).casefold().split())

    @staticmethod
    def one_kicker(text: str, rules: K.KickerRules) -> tuple[str, str] | None:
        is_label = lambda t: Reference.fold_key(t) in {Reference.fold_key(w) for w in rules.labels}  # noqa: E731
        is_place = lambda t: Reference.fold_key(t) in {Reference.fold_key(w) for w in rules.datelines}  # noqa: E731
        match = K._BRACKETED.match(text)
        if match and is_label(match.group(1)):
            return match.group(1), match.group(2)
        match = K._AGENCY_DATELINE.match(text)
        if match and all(word[0].isupper() for word in match.group(1).split()):
            return (match.group(1) + (match.group(2) or "")).strip(), match.group(3)
        match = K._LABELLED.match(text)
        if match:
            head = match.group(1).strip()
            if is_label(head):
                return head, match.group(2)
            separator = text[len(match.group(1)) :].lstrip()[:1]
            if separator == "-" and is_place(head):
                return head, match.group(2)
        match = K._DOT_DATELINE.match(text)
        if match and K._looks_like_dateline(match.group(1), match.group(2), rules):
            return match.group(1), match.group(2)
        return None

    @staticmethod
    def strip_kicker(title: str, rules: K.KickerRules = K.DEFAULT_KICKER_RULES) -> tuple[str | None, str]:
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
        text = FOLD._ARABIC_DIACRITICS.sub("", text).translate(FOLD._DIGITS)
        if lang in (None, "fr"):
            text = Reference.FRENCH_ELISION.sub(" ", text)
        if lang in (None, "en"):
            text = Reference.ENGLISH_POSSESSIVE.sub(" ", text)
        return N._TOKEN.findall(text)


# --- premises --------------------------------------------------------------------------------


def test_every_whitespace_but_the_space_is_unprintable():
    # is_collapsed: a printable text without double, leading or trailing spaces is already collapsed
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
        assert P.unify_punctuation(text) == Reference.unify_punctuation(text), text
        assert K._fold_key(text) == Reference.fold_key(text), text
        assert N.key_of_rest(text) == Reference.key_of_rest(text), text
        kicker, rest = K.strip_kicker(text)
        assert (kicker, rest) == Reference.strip_kicker(text), text
        key = N.key_of_rest(rest)
        assert N.normalise(text) == key == Reference.key_of_rest(Reference.strip_kicker(text)[1])
        assert N.text_hash(key) == hashlib.sha256(key.encode("utf-8")).hexdigest()
        for lang in (None, "fr", "en", "es", "ar"):
            assert N.tokens(key, lang) == Reference.tokens(key, lang), (text, lang)
            assert N.tokens(text, lang) == Reference.tokens(text, lang), (text, lang)


def test_punctuation_replacements_do_not_chain():
    # _PUNCT_MAP replaced one character after the other equals one translate: no target is a source
    assert all(len(k) == 1 and len(v) == 1 for k, v in P._PUNCT_MAP.items())
    assert not set(P._PUNCT_MAP.values()) & set(P._PUNCT_MAP)
    assert {ord(k): v for k, v in P._PUNCT_MAP.items()} == P._PUNCT_TABLE
    every = "".join(P._PUNCT_MAP) * 2 + " « a » ‹b› c"
    assert P.unify_punctuation(every) == Reference.unify_punctuation(every)


@pytest.mark.parametrize("text", [" a", "a ", "a  b", "a\tb", "a\u00a0b", "", "ab", "a b"])
def test_is_collapsed(text):
    assert P.is_collapsed(text) == (" ".join(text.split()) == text)


# --- story features --------------------------------------------------------------------------

from app.stories import _text as text_module  # noqa: E402
from app.stories import features as F  # noqa: E402
from app.stories import score as S  # noqa: E402
from app.stories.features import Features  # noqa: E402
from app.stories.score import MatchParams  # noqa: E402


class ReferenceFeatures:
    """app/stories/features.py and _text.py as they were before the fast paths."""

    @staticmethod
    def fold(text: str) -> str:
        return FOLD.fold_accents(text).casefold()

    @staticmethod
    def words(key: str, lang: str | None) -> list[str]:
        return [ReferenceFeatures.fold(t) for t in Reference.tokens(key, lang)]

    @staticmethod
    def canonical_number(raw: str) -> list[str]:
        parts = re.split(r"[.,\u00a0\u202f ]", raw)
        seps = re.findall(r"[.,\u00a0\u202f ]", raw)
        out: list[str] = []
        if len(parts) > 1 and len(parts[0]) <= 3 and all(len(p) == 3 for p in parts[1:]):
            return [str(int("".join(parts)))]
        if len(parts) == 2 and seps[0] in ".,":
            whole, frac = str(int(parts[0])), "".join(str(int(ch)) for ch in parts[1]).rstrip("0")
            return [f"{whole}.{frac}" if frac else whole]
        for p in parts:
            out.append(str(int(p)))
        return out

    @staticmethod
    def is_name_like(word: str, sentence_start: bool) -> bool:
        if not word[0].isupper():
            return len(word) > 2 and any(ch.isupper() for ch in word[1:])
        if len(word) >= 2 and word.isupper():
            return True
        if any(ch.isupper() for ch in word[1:]):
            return True
        return not sentence_start

    @staticmethod
    def entities(text: str) -> tuple[set[str], set[str]]:
        name_like = ReferenceFeatures.is_name_like
        found: set[str] = set()
        leads: set[str] = set()
        prev_end = 0
        at_start = True
        for m in text_module.WORD_RE.finditer(text):
            gap = text[prev_end : m.start()]
            if any(ch in F._SENTENCE_START for ch in gap) or gap.strip() == "-" and gap != "-":
                at_start = True
            word = m.group()
            prev_end = m.end()
            if word.isdigit() or not word[0].isalpha():
                at_start = False
                continue
            if word[0].isupper() or name_like(word, at_start):
                folded = ReferenceFeatures.fold(word)
                if len(folded) >= 2 and not text_module.is_stopword(folded) and folded not in F.COMMON_NAMES:
                    (found if name_like(word, at_start) else leads).add(folded[: F.ENTITY_STEM])
            at_start = False
        return found, leads

    @staticmethod
    def grams(words: list[str]) -> set[str]:
        out: set[str] = set()
        for w in words:
            padded = f" {w} "
            if len(padded) <= F.GRAM_N:
                out.add(padded)
                continue
            out.update(padded[i : i + F.GRAM_N] for i in range(len(padded) - F.GRAM_N + 1))
        return out

    @staticmethod
    def extract(title: str, key: str, lang: str | None) -> Features:
        text = unicodedata.normalize("NFKC", title)
        words = ReferenceFeatures.words(key, lang)
        content = [
            w
            for w in words
            if w[0].isalpha()
            and len(w) > 1
            and not text_module.is_stopword(w)
            and w not in F._DAY_CODE
            and w not in F._MONTH_CODE
        ]
        numbers: set[str] = set()
        for raw in F._NUMBER_RE.findall(text):
            numbers.update(ReferenceFeatures.canonical_number(raw))
        names, leads = ReferenceFeatures.entities(text)
        return Features(
            key=key,
            lang=lang,
            tokens=frozenset(content),
            entities=frozenset(names),
            leads=frozenset(leads - names),
            numbers=frozenset(numbers),
            days=frozenset(F._DAY_CODE[w] for w in words if w in F._DAY_CODE),
            months=frozenset(F._MONTH_CODE[w] for w in words if w in F._MONTH_CODE),
            grams=frozenset(ReferenceFeatures.grams(content)),
        )

    @staticmethod
    def to_json(f: Features) -> str:
        import json

        return json.dumps(f.to_dict(), ensure_ascii=False, separators=(",", ":"))


def _same_features(a: Features, b: Features) -> bool:
    return type(a) is type(b) and a == b and vars(a) == vars(b) and list(vars(a)) == list(vars(b))


def test_word_level_helpers_are_unchanged():
    rng = random.Random(3)
    words = set()
    for title, _ in TITLES:
        words.update(text_module.WORD_RE.findall(unicodedata.normalize("NFKC", title)))
    words.update(["iPhone", "eBay", "OneDrive", "McDonald", "CAF", "ǅemal", "ϒpsilon", "𝐀bc", "aϒ", "Ⓐb", "ab", "a"])
    for word in sorted(words):
        for start in (True, False):
            assert F._is_name_like(word, start) == ReferenceFeatures.is_name_like(word, start), word
        assert text_module.fold(word) == ReferenceFeatures.fold(word) == text_module.fold(word), word
    numbers = [raw for title, _ in TITLES for raw in F._NUMBER_RE.findall(unicodedata.normalize("NFKC", title))]
    numbers += ["".join(rng.choice("0123456789.,\u00a0 ٣") for _ in range(rng.randint(1, 9))) for _ in range(3000)]
    for raw in numbers:
        raw = F._NUMBER_RE.search(raw).group() if F._NUMBER_RE.search(raw) else "0"
        assert F._canonical_number(raw) == ReferenceFeatures.canonical_number(raw), raw
    word_lists = [text_module.words(N.normalise(t), lang) for t, lang in TITLES[:400]] + [["a", "ab", "", "été"]]
    for ws in word_lists:
        assert F._grams(ws) == ReferenceFeatures.grams(ws)


def test_extract_and_the_stored_json_are_unchanged():
    for _ in range(2):  # the second pass reads the word caches the first one filled
        for title, lang in TITLES:
            key = N.normalise(title)
            assert text_module.words(key, lang) == ReferenceFeatures.words(key, lang)
            assert F._entities(title) == ReferenceFeatures.entities(title), title
            got, expected = F.extract(title, key, lang), ReferenceFeatures.extract(title, key, lang)
            assert _same_features(got, expected), title
            text = got.to_json()
            assert text == ReferenceFeatures.to_json(expected)
            for stored in (text, text.encode("utf-8"), got.to_dict()):
                assert _same_features(Features.from_json(stored), expected)


def test_trigrams_are_shared_objects_whether_extracted_or_read_back():
    # a speed property, not an output: set intersections of pair_score compare by identity first
    f = F.extract("Sahara : La Mauritanie défend ses frontières", "sahara : la mauritanie défend ses frontières", "fr")
    for features in (f, Features.from_json(f.to_json()), Features.from_json(f.to_dict())):
        assert features.grams == f.grams and all(sys.intern(g) is g for g in features.grams)


def test_word_caches_stay_bounded_and_correct_when_full(monkeypatch):
    monkeypatch.setattr(F, "_WORD_CACHE_MAX", 8)
    monkeypatch.setattr(text_module, "_FOLDED_MAX", 8)
    for module, name in ((F, "_NAME_INFO"), (F, "_GRAMS_OF"), (text_module, "_FOLDED")):
        monkeypatch.setattr(module, name, {})
    for title, lang in TITLES[:300]:
        key = N.normalise(title)
        assert _same_features(F.extract(title, key, lang), ReferenceFeatures.extract(title, key, lang))
        assert len(F._NAME_INFO) <= 8 and len(F._GRAMS_OF) <= 8 and len(text_module._FOLDED) <= 8


def test_the_fast_constructor_builds_what_the_dataclass_does():
    import dataclasses

    assert not hasattr(Features, "__post_init__") and not hasattr(Features, "__slots__")
    fields = {
        f.name: f.name.encode().hex() if f.name in ("key", "lang") else frozenset({f.name})
        for f in dataclasses.fields(Features)
    }
    assert _same_features(F._new_features(**fields), Features(**fields))
    # a subclass (if ever) is built through its own __init__
    sub = type("Sub", (Features,), {})
    assert type(sub.from_json(Features(key="k", lang=None).to_json())) is sub


# --- the pair score --------------------------------------------------------------------------


class ReferenceScore:
    """app/stories/score.py's score_terms as it was before the fast path."""

    @staticmethod
    def shared_names(a: Features, b: Features, lead_weight: float) -> float:
        full = (a.entities & b.entities) | (a.leads & b.entities) | (a.entities & b.leads)
        return len(full) + lead_weight * len((a.leads & b.leads) - full)

    @staticmethod
    def shares_number(a, b, tolerance=0.05) -> bool:
        if not a or not b:
            return False
        if any(not S._is_year(x) for x in a & b):
            return True
        return any(S._close(x, y, tolerance) for x in a - b for y in b - a)

    @staticmethod
    def numbers_conflict(a, b, tolerance=0.05) -> bool:
        if not a or not b or a & b:
            return False
        return not any(S._close(x, y, tolerance) for x in a for y in b)

    @staticmethod
    def conflict(a: Features, b: Features, tolerance: float) -> bool:
        if a.days and b.days and not a.days & b.days:
            return True
        if a.months and b.months and not a.months & b.months:
            return True
        return ReferenceScore.numbers_conflict(a.numbers, b.numbers, tolerance)

    @staticmethod
    def score_terms(a, b, cosine, dt_hours, params) -> dict[str, float]:
        if a.key == b.key:
            return {"exact": max(1.0, params.threshold)}
        cross = a.lang is not None and b.lang is not None and a.lang != b.lang
        terms = {
            "cosine": cosine,
            "cross_lang": params.cross_lang_offset + (params.cross_lang_scale - 1.0) * cosine if cross else 0.0,
            "entity": params.w_entity
            * min(1.0, ReferenceScore.shared_names(a, b, params.lead_weight) / params.entity_cap),
            "number": 0.0,
            "lexical": 0.0 if cross else params.w_lexical * min(1.0, len(a.tokens & b.tokens) / params.lexical_cap),
            "gram": params.w_gram * S._jaccard(a.grams, b.grams),
            "conflict": 0.0,
            "time": 0.0,
        }
        if ReferenceScore.conflict(a, b, params.number_tolerance):
            terms["conflict"] = -params.w_conflict
        elif ReferenceScore.shares_number(a.numbers, b.numbers, params.number_tolerance):
            terms["number"] = params.w_number
        if params.w_time and dt_hours is not None:
            late_days = max(0.0, abs(dt_hours) - params.time_grace_hours) / 24.0
            terms["time"] = -min(params.max_time_penalty, params.w_time * late_days)
        return terms


def _bits(x: float) -> str:
    return x.hex() if isinstance(x, float) else repr(x)


def _sample_features(n: int) -> list[Features]:
    rng = random.Random(4)
    picked = rng.sample(TITLES, min(n, len(TITLES)))
    return [F.extract(t, N.normalise(t), lang) for t, lang in picked]


@pytest.mark.slow
def test_pair_score_is_the_sum_of_score_terms_to_the_last_bit_on_every_pair():
    feats = _sample_features(300)
    rng = random.Random(5)
    params = [
        MatchParams(),
        MatchParams(w_time=0.0),
        MatchParams(lead_weight=0.3, entity_cap=3, number_tolerance=0.2, lexical_cap=1, w_gram=-0.5),
    ]
    n = 0
    for i, a in enumerate(feats):
        for j, b in enumerate(feats):
            cosine = rng.uniform(-0.1, 1.1)
            dt = (None, 0.0, 30.0, -100.0, 500.0)[(i + j) % 5]
            for p in params if (i + j) % 11 == 0 else params[:1]:
                terms = S.score_terms(a, b, cosine, dt, p)
                expected = ReferenceScore.score_terms(a, b, cosine, dt, p)
                assert list(terms) == list(expected) and list(map(_bits, terms.values())) == list(
                    map(_bits, expected.values())
                ), (a.key, b.key)
                score = S.pair_score(a, b, cosine, dt, p)
                assert _bits(score) == _bits(sum(terms.values())) == _bits(sum(expected.values())), (a.key, b.key)
                assert S.shared_names(a, b, p.lead_weight) == ReferenceScore.shared_names(a, b, p.lead_weight)
                n += 1
    assert n >= len(feats) ** 2


NUMBER_SETS = [
    frozenset(x)
    for x in [
        (),
        ("2024",),
        ("2025",),
        ("3.9",),
        ("4",),
        ("21",),
        ("22",),
        ("21", "2026"),
        ("1201",),
        ("0.05",),
        ("0",),
        ("1900",),
        ("2100",),
        ("1899",),
        ("2101",),
        ("3.9", "2024"),
        ("4", "2024"),
        ("12.5", "100"),
        ("12", "99.9"),
        ("2024", "2025"),
        ("1.5", "2.5"),
        ("٢٠٢٥",),
        ("0.5", "21"),
    ]
]


@pytest.mark.parametrize("tolerance", [0.0, 0.05, 0.2])
def test_number_agreement_is_unchanged(tolerance):
    for a in NUMBER_SETS:
        for b in NUMBER_SETS:
            assert S.shares_number(a, b, tolerance) == ReferenceScore.shares_number(a, b, tolerance), (a, b)
            assert S.numbers_conflict(a, b, tolerance) == ReferenceScore.numbers_conflict(a, b, tolerance), (a, b)
            fa, fb = Features(key="a", lang="fr", numbers=a), Features(key="b", lang="fr", numbers=b)
            for p in (MatchParams(number_tolerance=tolerance),):
                assert S.score_terms(fa, fb, 0.5, None, p) == ReferenceScore.score_terms(fa, fb, 0.5, None, p)


def test_pair_score_with_rarity_weights_is_the_sum_of_score_terms_to_the_last_bit():
    from app.stories.rarity import rarity_terms

    feats = _sample_features(120)
    rng = random.Random(6)
    p = MatchParams()
    for a in feats:
        weights = {t: rng.random() for t in rarity_terms(a)}
        for b in feats:
            for other in (b, b.compact()):
                cosine = rng.uniform(0.0, 1.0)
                terms = S.score_terms(a, other, cosine, None, p, weights)
                assert _bits(S.pair_score(a, other, cosine, None, p, weights)) == _bits(sum(terms.values()))
