"""Function words of French, Spanish, English and Arabic: words that carry no story.

Lists are casefolded and hold each word with and without accents (``fold_accents``), so they work on
keys, on ``tokens()`` output and on accent-stripped text alike. Elided French forms ("l'", "d'") are
split off by ``tokens()``; their bare letters are listed anyway for other tokenizers.
"""

from __future__ import annotations

from app.ingest.fold import fold_accents

__all__ = ["STOPWORDS", "ALL_STOPWORDS", "is_stopword"]

_FR = """
a à ai aie aient aies ait alors as au aucun aucune aujourd'hui auprès aussi autre autres aux avaient
avais avait avant avec avoir avons ayant c ça car ce ceci cela celle celles celui ces cet cette ceux
chaque chez ci comme comment d dans de des depuis dès donc dont du elle elles en encore entre es est
et étaient était étant été être eu eux fait faire fois font hors il ils j je jusqu jusque l la là le
les leur leurs lors lorsqu lorsque lui m ma mais me même mêmes mes moi moins mon n ne ni nos notre
nous on ont ou où par parce pas pendant peu peut plus plusieurs pour pourquoi puis qu quand que quel
quelle quelles quels qui quoi s sa sans se selon ses si sien son sont sous suis sur t ta tandis te
tes toi ton toujours tous tout toute toutes très trop tu un une unes uns vers via voici voilà vos
votre vous y après contre afin ainsi alors déjà bien aura auront serait seront sera sein cas
lequel laquelle lesquels desquels duquel auquel auxquels celle-ci celui-ci ceux-ci quelque quelques
tel telle tels telles tant autant désormais enfin ici là-bas non oui soit sinon dont
"""

_ES = """
a al algo algunas algunos ante antes aquel aquella aquellas aquellos aquí así aun aunque bajo bien
cada casi como con contra cual cuales cualquier cuando cuanto de del desde donde dos durante e el
él ella ellas ello ellos en entre era eran es esa esas ese eso esos esta está estaba estaban están
estar estas este esto estos fue fueron ha había habían han hasta hay la las le les lo los más me mi
mis mientras muy nada ni no nos nosotros o otra otras otro otros para pero poco por porque pues que
qué quien quienes se sea ser si sí sido siempre sin sino sobre solo sólo son su sus también tan
tanto te tenía tiene tienen todo todos toda todas tras tu tus u un una unas uno unos usted ustedes
va van y ya yo será serán sería han hacia según cuya cuyo cuyas cuyos dicho dicha mismo misma mismos
mismas ahora después luego entonces otra vez donde allí aquí cuál cómo dónde cuándo ese esa ante
"""

_EN = """
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has
have having he her here hers herself him himself his how i if in into is it its itself just me more
most my myself no nor not now of off on once only or other our ours ourselves out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves amid among amongst upon via across along around despite
may might must shall says said say new per onto within without toward towards us it's its whose
"""

_AR = """
في من على إلى الى عن مع أن ان إن لأن لكن أو او و ثم بل حتى إذا اذا إذ لو لا لم لن ما ماذا متى
أين كيف كم هل قد لقد هذا هذه ذلك تلك هؤلاء أولئك الذي التي الذين اللذين اللتين اللاتي اللواتي
هو هي هم هن هما أنا نحن أنت أنتم أنتن كان كانت كانوا يكون تكون يكونوا ليس ليست كل بعض غير بين
بعد قبل عند عندما منذ خلال حول ضد دون فوق تحت أمام وراء لدى لدي نحو مثل أي أيضا أيضاً حيث كما
إلا الا فقط جدا وهو وهي وقد وفي ومن وعلى وإلى وأن وكان وكانت ولا ولم ولن وما به بها بهم له لها
لهم فيه فيها فيهم منه منها منهم عليه عليها عليهم إليه إليها عنه عنها ذات ذو ذي تم يتم عبر وفق
إنه إنها أنه أنها لدى سوف سيتم التى الى هناك هنا الآن اليوم وذلك ولكن فإن بأن كذلك
"""


def _build(raw: str) -> frozenset[str]:
    words = {word.casefold() for word in raw.split()}
    # Hyphenated and apostrophised entries also count by parts, as tokens() splits them.
    for word in list(words):
        words.update(part for part in word.replace("'", " ").replace("-", " ").split())
    return frozenset(words | {fold_accents(word) for word in words})


STOPWORDS: dict[str, frozenset[str]] = {
    "fr": _build(_FR),
    "es": _build(_ES),
    "en": _build(_EN),
    "ar": _build(_AR),
}
ALL_STOPWORDS: frozenset[str] = frozenset().union(*STOPWORDS.values())


def is_stopword(token: str, lang: str | None = None) -> bool:
    """True for a function word of ``lang`` (any of fr/es/en/ar when lang is None or unknown)."""
    word = token.casefold()
    words = STOPWORDS.get(lang, ALL_STOPWORDS) if lang else ALL_STOPWORDS
    return word in words or fold_accents(word) in words
