"""Recognisers for the page furniture that rides along with a ticker or article capture.

Each recogniser looks at one trimmed line (or ticker item) and answers a yes/no question. They are
patterns of *kinds* of furniture in fr/en/es/ar (reader prompts, "read also" teasers, publication
bylines, tweet attributions), not a list of the lines seen in the seed captures.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

__all__ = [
    "clean_line",
    "is_boilerplate",
    "is_publication_line",
    "is_tweet_attribution",
    "is_tweet_text",
]

# Apostrophe and space variants folded away before matching, so one pattern covers ' and ’.
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})


@lru_cache(maxsize=8)
def clean_line(line: str) -> str:
    """NFKC, one apostrophe, single spaces: the form the patterns below are written against.

    Cached for the last few lines: splitting asks it of one line several times in a row, and NFKC grows
    some characters 18-fold (2 MB of 3,999-character lines of U+FDFA: 9.6 s to split, 0.12 s cached, on a
    busy machine); a few entries bound its memory."""
    text = unicodedata.normalize("NFKC", line).translate(_APOSTROPHES)
    return " ".join(text.split())


def _compile(patterns: list[str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


# Whole-line labels: a section heading or a widget caption, nothing after it but punctuation.
_LABELS = _compile(
    [
        # fr
        r"commentaires?",
        r"(?:vos )?réactions?",
        r"réagir",
        r"partager(?: (?:cet|l')article)?(?: sur .{1,20})?",
        r"publicité",
        r"annonces?",
        r"aller plus loin",
        r"pour aller plus loin",
        r"sur le même (?:sujet|thème)",
        r"articles? (?:liés|similaires|associés|connexes)",
        r"(?:les )?plus (?:lus|populaires|commentés|partagés)",
        r"dans la même rubrique",
        r"à (?:lire|voir) (?:aussi|également)",
        r"lire (?:aussi|également|la suite|plus)",
        r"voir (?:aussi|plus|la vidéo)",
        r"suivez[- ]nous(?: sur .{1,30})?",
        r"abonnez[- ]vous(?: .{1,40})?",
        r"newsletter",
        r"tous droits réservés.{0,40}",
        r"(?:\(?avec|source ?:) ?(?:la )?(?:map|afp|reuters|ap|efe|aps|agences?|mapexpress)\)?",
        r"ces articles (?:devraient|pourraient) vous intéresser",
        r"vous aimerez aussi",
        # en
        r"comments?",
        r"share(?: this(?: article| story)?)?",
        r"advertisements?",
        r"sponsored(?: content)?",
        r"related(?: articles?| stories| news| posts)?",
        r"read (?:more|also|next)",
        r"see (?:also|more)",
        r"more (?:on this|stories|news)",
        r"you (?:may|might) also like",
        r"most (?:read|popular)",
        r"follow us(?: on .{1,30})?",
        r"subscribe(?: .{1,40})?",
        r"all rights reserved.{0,40}",
        # es
        r"comentarios?",
        r"compartir",
        r"publicidad",
        r"noticias relacionadas",
        r"(?:te|le) puede(?:n)? interesar",
        r"lee (?:también|más)",
        r"leer más",
        r"ver (?:también|más)",
        r"lo más (?:leído|visto)",
        r"síguenos(?: en .{1,30})?",
        r"suscríbete(?: .{1,40})?",
        r"todos los derechos reservados.{0,40}",
        # ar
        r"التعليقات|تعليقات|تعليق",
        r"شارك(?: المقال)?|مشاركة",
        r"إعلان|اعلان",
        r"مواضيع ذات صلة|أخبار ذات صلة|اخبار ذات صلة|مقالات ذات صلة",
        r"(?:اقرأ|إقرأ|اقرا) (?:أيضا|أيضاً|ايضا|المزيد)",
        r"الأكثر (?:قراءة|مشاهدة)",
        r"تابعونا(?: على .{1,30})?",
        r"جميع الحقوق محفوظة.{0,40}",
    ]
)
_LABEL_LINE = re.compile(rf"^(?:{_LABELS.pattern})\s*[:.!…»>\-]*$", re.IGNORECASE)

# Line openings that mark a teaser or a reader prompt whatever follows ("À lire : <other title>").
_PREFIXES = re.compile(
    r"^(?:"
    # fr
    r"à (?:lire|voir|découvrir)(?: (?:aussi|également))?\s*:"
    r"|lire (?:aussi|également|la suite)\s*:?"
    r"|voir (?:aussi|également)\s*:"
    r"|sur le même sujet\s*:"
    r"|merci d'avoir signalé"
    r"|cette image sera automatiquement bloquée"
    r"|cliquez ici(?: pour| afin)"
    r"|(?:pour )?(?:lire|voir) l'article (?:complet|original|depuis sa source)"
    r"|vous devez être connecté"
    r"|signaler (?:un abus|ce commentaire|cette image)"
    r"|(?:crédits? photos?|crédits?|photo credit)\s*:"
    r"|©"
    # en
    r"|read (?:also|more|next)\s*:"
    r"|see also\s*:"
    r"|related\s*:"
    r"|click here to"
    r"|thank you for (?:reporting|flagging)"
    r"|(?:image|photo) credit\s*:"
    # es
    r"|lee (?:también|más)\s*:"
    r"|leer más\s*:"
    r"|ver (?:también|más)\s*:"
    r"|haz clic aquí"
    r"|pulse aquí"
    r"|gracias por (?:reportar|denunciar)"
    # ar
    r"|(?:اقرأ|إقرأ|اقرا) (?:أيضا|أيضاً|ايضا)\s*:?"
    r"|اضغط هنا"
    r"|انقر هنا"
    r"|شكرا (?:على|لك على) (?:الإبلاغ|التبليغ)"
    r")",
    re.IGNORECASE,
)

# "Publié dans 2M le 04 - 06 - 2020", "Published on May 3, 2024", "Publicado el 3 de mayo": a
# byline/date line. It is never a headline, and the line above it is the article title.
_PUBLICATION = re.compile(
    r"^(?:"
    r"publié(?:e)?(?: (?:dans|sur|par|le|à|il y a))"
    r"|mis à jour(?: le| à)?"
    r"|modifié le"
    r"|(?:published|posted|updated|last updated)(?: (?:in|on|at|by))?"
    r"|(?:publicado|actualizado)(?: (?:en|el|por|a las))?"
    r"|(?:نشر|نُشر|تم النشر|تاريخ النشر|آخر تحديث)"
    r")\b",
    re.IGNORECASE,
)
_MAX_PUBLICATION_WORDS = 15

# An embedded tweet's attribution line: "— Maroc Diplomatie (@MarocDiplomatie) May 10, 2022".
_TWEET_ATTRIBUTION = re.compile(r"^[—–-]\s*.{0,100}\(@\w{1,30}\)\s*.{0,40}\d{4}\s*$")
_TWEET_TEXT = re.compile(r"pic\.twitter\.com/\w+|https?://t\.co/\w+", re.IGNORECASE)


def is_boilerplate(line: str) -> bool:
    """A reader prompt, widget label, teaser or credit line: never a headline."""
    text = clean_line(line)
    if not text:
        return False
    return bool(_LABEL_LINE.match(text) or _PREFIXES.match(text))


def is_publication_line(line: str) -> bool:
    """A "Publié dans X le <date>" style line (a date or time must be in it)."""
    text = clean_line(line)
    return (
        bool(_PUBLICATION.match(text))
        and any(ch.isdigit() for ch in text)
        and len(text.split()) <= _MAX_PUBLICATION_WORDS
    )


def is_tweet_attribution(line: str) -> bool:
    return bool(_TWEET_ATTRIBUTION.match(clean_line(line)))


def is_tweet_text(line: str) -> bool:
    """A tweet's body as pasted into an article: it carries a pic.twitter.com or t.co link."""
    return bool(_TWEET_TEXT.search(line))
