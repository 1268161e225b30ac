"""Headline filler per language: words that are not function words but never name a topic.

Stop words (``app.ingest.stopwords``) serve matching too, so they stay short; these only keep words such
as "says", "ans" or "nouveau" off a topic's keyword chips, where an editor would never choose them.
Lists are casefolded; accents are folded when looked up.
"""

from __future__ import annotations

from app.ingest.fold import fold_accents

__all__ = ["FILLER", "is_filler"]

_FR = """
an ans année années jour jours semaine semaines mois heure heures hier demain aujourd'hui soir matin
lundi mardi mercredi jeudi vendredi samedi dimanche premier première premiers premières dernier dernière
nouveau nouvelle nouveaux nouvelles nouvel grand grande grands grandes petit petite bon bonne bons bonnes
fait faits face attention accrue accru cours lors suite part partie place mise point fin début haut
deux trois quatre cinq six sept huit neuf dix cent mille million millions milliard milliards
annonce annoncé annonces selon affirme déclare dit dire veut doit peut va vont être avoir faire
plus moins très trop tout tous toute toutes autre autres même encore déjà bientôt enfin aussi
nombreux nombreuses plusieurs certains certaines chose choses façon manière cas type sujet question
"""

_EN = """
year years day days week weeks month months hour hours today yesterday tomorrow tonight morning night
monday tuesday wednesday thursday friday saturday sunday first last next new old big small good bad
says said say tells told calls called makes made make takes took take gets got get set sets put puts
faces face amid over after before about more most less many much some any other others back out up down
could would should may might must will can just still also now then again ever never first-ever
two three four five six seven eight nine ten hundred thousand million millions billion billions
people man woman men women thing things way ways time times part lot lots case cases report reports
dies dead aged here there where what when why how who which
"""

_ES = """
año años día días semana semanas mes meses hora horas hoy ayer mañana noche
lunes martes miércoles jueves viernes sábado domingo primer primera primero último última nuevo nueva
nuevos nuevas gran grande grandes pequeño buen buena dice dijo afirma asegura anuncia según tras
dos tres cuatro cinco seis siete ocho nueve diez cien mil millón millones
más menos muy todo todos toda todas otro otra otros otras mismo ya aún también vez veces parte caso
"""

_AR = """
عام أعوام سنة سنوات يوم أيام أسبوع شهر أشهر ساعة ساعات اليوم أمس غدا
الأول الأولى أول أولى جديد جديدة الجديد الجديدة كبير كبيرة
قال قالت يقول أكد أعلن أعلنت حول خلال بعد قبل عبر ضمن أمام نحو
اثنين ثلاثة أربعة خمسة ستة سبعة ثمانية تسعة عشرة مليون مليار
أكثر أقل كل بعض جميع أيضا
"""

FILLER: dict[str, frozenset[str]] = {}
for _lang, _text in (("fr", _FR), ("en", _EN), ("es", _ES), ("ar", _AR)):
    _words = {w.casefold() for w in _text.split()}
    FILLER[_lang] = frozenset(_words | {fold_accents(w) for w in _words})
_ANY = frozenset().union(*FILLER.values())


def is_filler(word: str, lang: str | None) -> bool:
    """True for a filler word of ``lang`` (of any language when ``lang`` is unknown)."""
    words = FILLER.get(lang or "", _ANY)
    low = word.casefold()
    return low in words or fold_accents(low) in words
