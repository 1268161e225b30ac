"""Topic keywords: class-based TF-IDF, stop words out, names kept whole."""

from __future__ import annotations

from app.ingest.langcodes import canonical_lang, word_lists_lang
from app.topics.names import Vocabulary, extract_terms, keyword_terms, keywords

SAHARA = [
    ("Sahara : la MINURSO salue le calme le long du mur de défense", "fr"),
    ("Le Polisario isolé après le soutien de la France au plan d'autonomie du Sahara", "fr"),
    ("Sahara marocain : la Mauritanie défend la fermeture de ses frontières face au Polisario", "fr"),
    ("UN envoy meets MINURSO officials as the Polisario rejects the talks", "en"),
]
FETE = [
    ("Aïd Al Fitr : le ministère des Habous annonce la date de la fête", "fr"),
    ("Les Marocains célèbrent Aïd Al Fitr dans la joie", "fr"),
    ("Aïd Al Fitr : Amir Al-Mouminine accomplit la prière de l'Aïd à Rabat", "fr"),
]
SPORT = [
    ("Le Wydad bat le Raja dans le derby de Casablanca", "fr"),
    ("Botola : le Wydad enchaîne une troisième victoire", "fr"),
    ("El Wydad gana el derbi de Casablanca", "es"),
    ("Wydad win the Casablanca derby", "en"),
]


def test_stop_words_never_become_keywords() -> None:
    kw = keywords({1: SAHARA, 2: FETE, 3: SPORT}, top_n=8)
    stop = {"le", "la", "de", "du", "des", "les", "the", "el", "a", "à", "au", "dans"}
    for words in kw.values():
        assert not {w.casefold() for w in words} & stop


def test_names_are_kept_whole_and_as_written() -> None:
    kw = keywords({1: SAHARA, 2: FETE, 3: SPORT}, top_n=8)
    assert "MINURSO" in kw[1] and "Polisario" in kw[1] and "Sahara" in kw[1]
    assert "Aïd Al Fitr" in kw[2]
    # A name's parts are not repeated as separate keywords.
    assert "Fitr" not in kw[2] and "fitr" not in kw[2]
    assert "Wydad" in kw[3]


def test_keywords_are_distinctive_not_just_frequent() -> None:
    # "Maroc" is everywhere, "Wydad" only in sport: sport's first keyword is the club.
    shared = [(t + " (Maroc)", lang) for t, lang in SPORT]
    other = [(t + " (Maroc)", lang) for t, lang in SAHARA]
    kw = keywords({1: shared, 2: other}, top_n=3)
    assert kw[1][0] == "Wydad"
    assert "Maroc" not in kw[1][:2]


def test_sentence_initial_capital_is_not_a_name_unless_the_corpus_says_so() -> None:
    vocab = Vocabulary.of(["Rising prices hit shops", "Prices are rising again", "Talks with Rabat resume"])
    terms = dict(extract_terms("Rising prices in Rabat", "en", vocab))
    assert "rising" in terms and terms["rising"] == "rising"  # seen in lower case: a common word
    assert terms.get("rabat") == "Rabat"


def test_arabic_words_and_language_codes() -> None:
    docs = {
        1: [
            ("المنتخب الوطني يفوز على الجزائر في المباراة", "ar"),
            ("المنتخب الوطني يتأهل إلى نهائي كأس إفريقيا", "ar"),
        ],
        2: [("الحكومة تصادق على مشروع قانون المالية", "ar"), ("الحكومة تعلن عن إصلاح جديد", "ar")],
    }
    kw = keywords(docs, top_n=4)
    # "the national team" in both headlines: the phrase, not its first word alone
    assert kw[1][0] == "المنتخب الوطني" and "المنتخب" not in kw[1] and "الحكومة" in kw[2]
    assert not {"في", "على", "إلى", "عن"} & set(kw[1] + kw[2])
    assert word_lists_lang("fra") == "fr" and word_lists_lang("eng") == "en" and word_lists_lang(None) is None
    # Moroccan Arabic is stored apart from Standard Arabic, and read with its word lists
    assert canonical_lang("ary") == "ary" and word_lists_lang("ary") == "ar" and canonical_lang("en-US") == "en"


def test_empty_and_tiny_topics() -> None:
    kw = keywords({1: [], 2: [("Wydad", "fr")]}, top_n=5)
    assert kw[1] == []
    # A lone headline-initial word: nothing says it is a name, so it is shown in lower case.
    assert kw[2] == ["wydad"]


def test_filler_and_one_headline_words_are_not_chips() -> None:
    # Each story's other words are its own; only what stories share, or a story's names, make chips.
    docs = {
        1: [
            ("Ligue des champions : le Wydad attendu au tournant cette année", "fr", 1),
            ("Le Raja se qualifie en Ligue des champions après cinq ans d'attente", "fr", 2),
            ("Ligue des champions : accrue, l'attention se porte sur le tirage", "fr", 3),
        ],
        2: [
            ("Prix du carburant : nouvelle hausse annoncée à la pompe", "fr", 4),
            ("Le prix du carburant recule pour la première fois en un an", "fr", 5),
        ],
    }
    kw = keywords(docs, top_n=6)
    assert kw[1][0] == "Ligue des champions"
    assert not {"ans", "année", "attention", "accrue", "tournant", "cinq"} & {w.casefold() for w in kw[1]}
    assert kw[2][0].casefold() == "prix du carburant"
    assert not {"nouvelle", "première", "pompe"} & {w.casefold() for w in kw[2]}


def test_versions_of_one_story_do_not_make_a_shared_term() -> None:
    # "grève" is in two headlines of one story, "Khaya" in two stories: only the latter is the topic's.
    docs = {
        1: [
            ("Sultana Khaya libérée, selon ses proches", "fr", 1),
            ("Sultana Khaya reçue à Madrid", "fr", 2),
            ("grève des enseignants à Laâyoune", "fr", 3),
            ("grève à Laâyoune : les enseignants", "fr", 3),
        ]
    }
    kw = keyword_terms(docs, top_n=1)
    assert [k.text for k in kw[1]] == ["Khaya"] or [k.text for k in kw[1]] == ["Sultana Khaya"]


def test_keywords_carry_their_language() -> None:
    docs = {
        1: [
            ("Le gouvernement adopte la réforme des retraites", "fr", 1),
            ("Retraites : le gouvernement recule", "fr", 2),
            ("El gobierno aprueba la reforma", "es", 3),
            ("El gobierno cede", "es", 4),
            ("La réforme selon Macron", "fr", 5),
            ("Macron en Madrid", "es", 6),
        ]
    }
    by_text = {k.text: k.lang for k in keyword_terms(docs, top_n=8)[1]}
    assert by_text["gouvernement"] == "fr" and by_text["gobierno"] == "es"
    assert by_text["Macron"] is None  # a name reads the same in every language
