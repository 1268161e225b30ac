"""split_capture: raw ticker / article captures -> headlines, furniture dropped, order kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.ingest.split import (
    SplitParams,
    is_body_text,
    line_shape,
    split_capture,
    split_capture_pieces,
    split_headlines,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SEEDS = SHARED / "seeds"
GOLD = SHARED / "datasets" / "seed_ticker" / "gold.jsonl"
NBSP4 = "\u00a0" * 4


def _gold_rows() -> list[dict]:
    if not GOLD.exists() or not SEEDS.exists():
        pytest.skip("shared seed data not available")
    return [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]


def _seed_names() -> list[str]:
    return sorted(p.name for p in SEEDS.glob("[0-9][0-9][0-9]_*.txt")) if SEEDS.exists() else []


@pytest.mark.parametrize("seed", _seed_names())
def test_seed_capture_yields_exactly_its_gold_headlines(seed: str) -> None:
    rows = [row for row in _gold_rows() if row["seed"] == seed]
    ticker = sorted((row for row in rows if row["position"] >= 0), key=lambda row: row["position"])
    articles = [row for row in rows if row["position"] == -1]
    expected = [row["title"] for row in ticker] + [row["title"] for row in articles]

    pieces = split_capture_pieces((SEEDS / seed).read_text(encoding="utf-8"))

    assert [piece.text for piece in pieces] == expected
    assert [piece.kind for piece in pieces] == ["ticker"] * len(ticker) + ["article_title"] * len(articles)


def test_all_seeds_together_give_the_96_ticker_headlines_and_5_titles() -> None:
    rows = _gold_rows()
    found = [title for seed in _seed_names() for title in split_capture((SEEDS / seed).read_text(encoding="utf-8"))]
    assert len(found) == len(rows) == 101
    assert sorted(found) == sorted(row["title"] for row in rows)


def test_no_furniture_survives_in_seed_output() -> None:
    _gold_rows()
    furniture = (
        "Merci d'avoir",
        "Cette image sera",
        "Cliquez ici",
        "Publié dans",
        "Ces articles",
        "À lire",
        "Aller plus loin",
        "(@",
        "Avec MAP",
        "Commentaires",
        "pic.twitter.com",
    )
    for seed in _seed_names():
        for title in split_capture((SEEDS / seed).read_text(encoding="utf-8")):
            assert not any(marker in title for marker in furniture), title
            assert title == title.strip() and "\n" not in title
    # "Marrakech" on its own is 001's location tag, not a headline.
    first = split_capture((SEEDS / _seed_names()[1]).read_text(encoding="utf-8"))
    assert "Marrakech" not in first


# --- separators ---------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", [NBSP4, "\u00a0\u00a0", "\n", " | ", " • ", " · ", "\r\n", " \u00a0 \u00a0 "])
def test_every_separator_splits_a_ticker(separator: str) -> None:
    headlines = [
        "Le Maroc bat le Portugal en quart de finale",
        "Alerte météo : fortes pluies ce vendredi",
        "Morocco Telecom secures a new loan in Chad",
    ]
    assert split_capture(separator.join(headlines)) == headlines
    assert split_headlines(separator.join(headlines) + separator) == headlines


def test_single_no_break_space_stays_inside_a_headline() -> None:
    title = "Sahara\u00a0: la Mauritanie défend la fermeture de ses frontières"
    other = "Mondial des clubs : Flamengo terrasse Chelsea"
    assert split_capture(title + NBSP4 + other + NBSP4) == [title, other]


def test_exact_repeats_in_a_ticker_are_kept() -> None:
    item = "Aïd Al Fitr : Grâce Royale au profit de 1201 personnes"
    other = "Ligue 1 : Bilal Nadir de retour à l'entrainement"
    assert split_capture(NBSP4.join([item, other, item])) == [item, other, item]


def test_ticker_items_that_are_furniture_or_empty_are_dropped() -> None:
    items = [
        "Le FC Séville s'intéresse à Azzedine Ounahi",
        "Lire aussi : un autre article",
        "Publicité",
        "   ",
        "2025",
        "Read more",
        "Le Maroc exporte des câbles coaxiaux",
    ]
    assert split_capture(NBSP4.join(items)) == [items[0], items[-1]]


# --- articles -----------------------------------------------------------------------------------

BODY = (
    "Le ministre des Affaires étrangères a participé ce jeudi à la réunion ministérielle de la coalition, "
    "indique un communiqué du ministère. La réunion a été co-présidée par les Etats-Unis et l'Italie."
)
BODY2 = "Les participants ont adopté une déclaration commune qui réaffirme leur engagement à coopérer dans tous les domaines."


def test_article_without_byline_yields_its_first_headline_like_line_only() -> None:
    capture = "\n".join(
        [
            "Casablanca",
            "Le Maroc accueille la réunion de la coalition contre Daech",
            "",
            BODY,
            "Lire aussi : Un autre titre sans rapport avec l'article",
            "Un intertitre au milieu de l'article",
            BODY2,
            "Avec AFP",
            "Comments",
        ]
    )
    pieces = split_capture_pieces(capture)
    assert [(piece.text, piece.kind, piece.line) for piece in pieces] == [
        ("Le Maroc accueille la réunion de la coalition contre Daech", "article_title", 1)
    ]


def test_byline_marks_the_title_above_it_even_after_other_lines() -> None:
    capture = "\n".join(
        [
            "Merci d'avoir signalé!",
            "Cette image sera automatiquement bloquée après qu'elle soit signalée par plusieurs personnes.",
            "",
            "",
            "Le Maroc plaide pour une mobilisation accrue contre Daesh au Sahel",
            "Publié dans Le Matin le 04 - 06 - 2020",
            "",
            BODY,
            BODY2,
            "Le Maroc et l'Espagne renforcent leur coopération sécuritaire",
            "Publié dans 2M le 05 - 06 - 2020",
            BODY,
            "",
            "",
            "Cliquez ici pour lire l'article depuis sa source.",
        ]
    )
    assert split_capture(capture) == [
        "Le Maroc plaide pour une mobilisation accrue contre Daesh au Sahel",
        "Le Maroc et l'Espagne renforcent leur coopération sécuritaire",
    ]


def test_embedded_tweets_and_excerpts_are_not_titles() -> None:
    capture = "\n".join(
        [
            "Le monde affûte ses armes au Maroc contre le terrorisme",
            BODY,
            "نقدر جهود المغرب في مكافحة الإرهاب في إفريقيا",
            "— سكاي نيوز عربية (@SkyNewsArabia) May 10, 2022",
            "Bourita reçoit ses homologues à Marrakech pic.twitter.com/abc123",
            "— Maroc Diplomatie (@MarocDiplomatie) May 10, 2022",
            "Les éléments constitutifs de la singularité du modèle sécuritaire marocain dans la lutte contre le terrorisme ont été analysés par...",
        ]
    )
    assert split_capture(capture) == ["Le monde affûte ses armes au Maroc contre le terrorisme"]


@pytest.mark.parametrize(
    "teaser",
    [
        "À lire : Daech en Afrique : le Maroc appelle à une mutualisation",
        "Read also: Morocco and Spain sign a new deal",
        "Lee también: Marruecos y España firman un acuerdo",
        "اقرأ أيضا: المغرب وإسبانيا يوقعان اتفاقا",
        "Ces articles devraient vous intéresser :",
        "Noticias relacionadas",
        "Related articles",
        "مواضيع ذات صلة",
        "Tous droits réservés 2025",
    ],
)
def test_teasers_and_labels_in_four_languages_are_dropped(teaser: str) -> None:
    assert split_capture(teaser) == []
    assert split_capture("Le Maroc signe un accord avec l'Espagne\n" + teaser) == [
        "Le Maroc signe un accord avec l'Espagne"
    ]


def test_plain_newline_list_keeps_every_headline_in_order() -> None:
    lines = [
        "Rabat. SM le Roi accomplit la prière de l'Aïd Al-Fitr",
        "Le temps qu'il fera ce samedi 21 mars 2026",
        "Exclusif. Réformes sociales. Younès Sekkouri : \"Chaque dirham investi doit créer de la dignité\"",
        "Le prince à la fois digne et discret... Le Maroc célèbre l'anniversaire du prince",
    ]
    assert split_capture("\n\n".join(lines)) == lines


def test_list_headline_ending_with_a_full_stop_does_not_turn_the_list_into_an_article() -> None:
    lines = [
        "Le roi Mohammed VI reçoit le président français au palais royal de Rabat.",
        "Mondial des clubs : Flamengo terrasse Chelsea",
        "Marruecos y España firman un acuerdo migratorio en Madrid.",
    ]
    assert split_capture("\n".join(lines)) == lines
    # The same sentence under a title and above a paragraph is body text.
    article = "\n".join(["Le Maroc accueille la coalition contre Daech", lines[0], BODY, BODY2])
    assert split_capture(article) == ["Le Maroc accueille la coalition contre Daech"]


def test_empty_and_letterless_input() -> None:
    assert split_capture("") == []
    assert split_capture("\n\n \u00a0\u00a0 \n") == []
    assert split_capture("2024 — 2025 | 12:30") == []


# --- other data: the rules are not fitted to the seeds ------------------------------------------


def _dataset(name: str) -> list[dict]:
    path = SHARED / "datasets" / name / "dev.jsonl"
    if not path.exists():
        pytest.skip(f"{name} not available")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_masakhanews_articles_yield_their_title() -> None:
    rows = _dataset("masakhanews")
    hits = sum(split_capture(row["title"] + "\n" + row["text"]) == [row["title"].strip()] for row in rows)
    # Measured 675/683; the misses are BBC briefs of two or three short sentences, read as a list.
    assert hits / len(rows) >= 0.95


@pytest.mark.parametrize("name", ["gnews_fr", "masakhanews"])
def test_headline_lists_from_other_sources_are_kept_whole(name: str) -> None:
    # " | " is a ticker separator, so titles with a "| Site" suffix are left out of this check.
    titles = [row["title"].strip() for row in _dataset(name) if " | " not in row["title"]]
    for start in range(0, len(titles), 10):
        chunk = titles[start : start + 10]
        assert split_capture("\n".join(chunk)) == chunk


# --- shape rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        BODY,
        BODY2,
        "Sales a également exprimé le souhait de son pays d'intensifier cette coopération à l'avenir.",
        "Le Maroc mène depuis quelques années une lutte acharnée contre le terrorisme. Dans ce cadre, il a noué des partenariats avec...",
        " ".join(["mot"] * 45),
    ],
)
def test_body_shapes(line: str) -> None:
    assert is_body_text(line)


@pytest.mark.parametrize(
    "line",
    [
        "Le roi reçoit le président français.",
        "CDM. Clubs 25 : Mbappé de retour, mais incertain pour le choc",
        "Après une absence due au service militaire... le groupe coréen BTS signe un retour en force",
        "M. Bourita reçoit son homologue espagnol à Rabat pour discuter de la coopération",
    ],
)
def test_headline_shapes(line: str) -> None:
    assert not is_body_text(line)


def test_line_shape_grades() -> None:
    assert line_shape(BODY + " " + BODY2) == "paragraph"
    assert line_shape(BODY) == "sentence"
    assert line_shape("Le roi reçoit le président français au palais royal de Rabat.") == "sentence"
    assert line_shape("Le roi reçoit le président français au palais royal de Rabat") == "headline"


def test_params_are_honoured() -> None:
    strict = SplitParams(min_ticker_words=5)
    items = NBSP4.join(["Flamengo terrasse Chelsea", "La Juventus Turin cible Nayef Aguerd"])
    assert split_capture(items) == ["Flamengo terrasse Chelsea", "La Juventus Turin cible Nayef Aguerd"]
    assert split_capture(items, strict) == ["La Juventus Turin cible Nayef Aguerd"]
