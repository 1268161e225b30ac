"""One match score for a pair of headlines, and the parameters (with their fitted defaults) that shape it.

Cosine alone cannot separate "same topic" from "same story": two weather alerts sit at 0.6 while a
French and an English version of one Sahara story sit at 0.65. The score adds what embeddings blur,
in cosine units:

    pair  = cosine                                  (cross-language: scale * cosine + offset)
          + w_entity  * min(1, shared names / entity_cap)   (names survive translation)
          + w_number  * [a figure is shared]                ("1201", "3,9" ~ "4"; years do not count)
          + w_lexical * min(1, shared words / lexical_cap)  (content words, same language only)
          + w_gram    * char-trigram Jaccard                (any pair: fr/es/en cognates)
          - w_conflict * [figures / weekdays / months disagree]
          - time penalty                                    (days apart, when both times are known)
    story = best pair of the story's candidates
          + w_centroid * (centroid cosine - that pair's cosine)   (the story as a whole, not one link)
          - w_rivals * (mean cosine of the ``rivals`` closest other stories - min_cosine)
          - w_age * (1 - exp(-days / age_days))             (days from the story's versions to the headline,
                                                             beyond a 6-hour grace)

Shared names and words count by their rarity in the window (app/stories/rarity.py): on a dense stream
the name every headline carries counts little. One threshold decides; a story in the headline's own
language goes before a translation's (decide.py). The weights are a logistic regression of "same
story" on these terms over the training splits of the labelled sets, divided by its cosine weight,
and the threshold the one that does best on them (bench/tune_stories.py --fit; docs/stories.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .features import _EMPTY, Features

__all__ = ["MatchParams", "pair_score", "score_terms", "numbers_conflict", "shares_number", "shared_names"]


@dataclass(frozen=True)
class MatchParams:
    #: combined score a story needs for a headline to join it
    threshold: float = 0.744
    #: candidates whose cosine is under this are not scored at all
    min_cosine: float = 0.3
    #: cross-language cosines run lower and spread less than same-language ones (calibration):
    #: a cross-language pair counts ``cross_lang_scale * cosine + cross_lang_offset``
    cross_lang_offset: float = -0.796
    cross_lang_scale: float = 3.154
    w_entity: float = 0.442
    #: shared names that earn the full entity weight (fewer earn a share of it)
    entity_cap: int = 2
    #: a capitalised word that opens both headlines ("Alerte ...") counts this much of a shared name
    lead_weight: float = 0.5
    w_number: float = 0.175
    #: relative gap under which two figures, one of them a decimal, agree ("3,9" ~ "4")
    number_tolerance: float = 0.05
    w_lexical: float = 0.079
    #: shared content words (same language) that earn the full lexical weight
    lexical_cap: int = 3
    w_gram: float = 0.998
    w_conflict: float = 0.116
    #: story level: pull toward the cosine to the story's centroid (``Candidate.story_cosine``)
    w_centroid: float = 1.822
    #: story level: penalty per unit of cosine of the closest other stories (a crowded topic asks for
    #: more than a lone story does); ``rivals`` other stories are averaged, missing ones count min_cosine
    w_rivals: float = 3.712
    rivals: int = 8
    #: per day apart beyond ``time_grace_hours`` (only when both publication times are known)
    w_time: float = 0.05
    time_grace_hours: float = 24.0
    #: cap on the time penalty, so that a late rewrite with identical text still matches
    max_time_penalty: float = 0.2
    #: story level: penalty for a story whose versions are far in time from the headline, at most this
    #: much: ``w_age * (1 - exp(-days / age_days))``, ``days`` from the story's candidates' mean time to
    #: the headline's beyond ``age_grace_hours`` (when times are known). A story that has stopped growing
    #: stops attracting.
    w_age: float = 3.557
    age_days: float = 3.0
    #: the hours before the age counts: the fitted stream is dated by the day only, so it cannot say how a
    #: story's first hours should count, and a story's rewrites come within hours
    age_grace_hours: float = 6.0
    #: names and words count by their rarity in the window (app/stories/rarity.py): a term carried by
    #: this share of the window's headlines or fewer counts fully ...
    rarity_share: float = 0.01
    #: ... and the window counts this many headlines more than it holds (a young stream's prior)
    rarity_prior: float = 50.0


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def _count(items: frozenset[str], weights: Mapping[str, float] | None) -> float:
    """How many ``items``, or the sum of their weights (a term without one counts fully)."""
    if weights is None:
        return len(items)
    get = weights.get
    return sum([get(t, 1.0) for t in items])


def shared_names(a: Features, b: Features, lead_weight: float, weights: Mapping[str, float] | None = None) -> float:
    """Names both headlines carry; a sentence-initial capital counts fully only against a real name
    of the other headline, and ``lead_weight`` against another sentence-initial capital. ``weights``:
    each of ``a``'s names counts its rarity (``rarity.DocumentFrequency.weights``) instead of 1."""
    ea, eb, la, lb = a.entities, b.entities, a.leads, b.leads
    # full = (ea & eb) | (la & eb) | (ea & lb), skipping the operations on empty sets (most are)
    full = ea & eb if ea and eb else _EMPTY
    if la and eb:
        part = la & eb
        if part:
            full = full | part
    if ea and lb:
        part = ea & lb
        if part:
            full = full | part
    both_leads = la & lb if la and lb else _EMPTY
    return _count(full, weights) + lead_weight * _count(
        both_leads - full if both_leads and full else both_leads, weights
    )


def _close(x: str, y: str, tolerance: float) -> bool:
    # Rounding only happens to decimals: "3,9 tonnes" ~ "4 tonnes"; 2024 vs 2025 are different years.
    if "." not in x and "." not in y:
        return False
    fx, fy = float(x), float(y)
    return abs(fx - fy) <= tolerance * max(abs(fx), abs(fy))


def _any_close(xs: frozenset[str], ys: frozenset[str], tolerance: float) -> bool:
    """``any(_close(x, y) for x in xs for y in ys)``; two sets of whole numbers have no pair to try."""
    if not any("." in x for x in xs) and not any("." in y for y in ys):
        return False
    return any(_close(x, y, tolerance) for x in xs for y in ys)


def _is_year(x: str) -> bool:
    return len(x) == 4 and x.isdigit() and 1900 <= int(x) <= 2100


def shares_number(a: frozenset[str], b: frozenset[str], tolerance: float = 0.05) -> bool:
    """A figure in common that is not a year: "1201 personnes", "3,9" ~ "4 tonnes". Years are shared
    by everything published that year, so they agree without saying anything."""
    if not a or not b:
        return False
    common = a & b
    if common and any(not _is_year(x) for x in common):
        return True
    return _any_close(a - b, b - a, tolerance)


def numbers_conflict(a: frozenset[str], b: frozenset[str], tolerance: float = 0.05) -> bool:
    """Both headlines state numbers and none of them agree: different figures, different stories."""
    if not a or not b or a & b:
        return False
    return not _any_close(a, b, tolerance)


def _conflict(a: Features, b: Features, tolerance: float) -> bool:
    if a.days and b.days and not a.days & b.days:
        return True
    if a.months and b.months and not a.months & b.months:
        return True
    return numbers_conflict(a.numbers, b.numbers, tolerance)


def _terms(
    a: Features,
    b: Features,
    cosine: float,
    dt_hours: float | None,
    params: MatchParams,
    weights: Mapping[str, float] | None = None,
) -> tuple[float, ...]:
    """The addends of a pair that is not an exact duplicate, in the order ``score_terms`` names them
    and ``pair_score`` adds them. ``a`` holds sets (the headline being matched); ``b`` may be compact
    (``Features.compact``: a candidate kept in memory). ``weights``: the rarity of ``a``'s names and
    words; without them each shared one counts 1."""
    cross = a.lang is not None and b.lang is not None and a.lang != b.lang
    ga, gb = a.grams, b.grams
    if ga and gb:  # _jaccard, inline: it runs for every candidate
        inter = len(ga & gb)
        gram = params.w_gram * (inter / (len(ga) + len(gb) - inter))
    else:
        gram = params.w_gram * 0.0
    # numbers: numbers_conflict, then shares_number, with their set operations done once
    number = conflict = 0.0
    if (a.days and b.days and not a.days & b.days) or (a.months and b.months and not a.months & b.months):
        # "samedi 21 juin" vs "samedi 21 mars": a shared 21 is no evidence once the months differ
        conflict = -params.w_conflict
    else:
        na, nb = a.numbers, b.numbers
        if na and nb:
            common = na & nb
            if common:  # never a conflict; shared unless all that is shared is years
                if any(not _is_year(x) for x in common) or _any_close(na - nb, nb - na, params.number_tolerance):
                    number = params.w_number
            elif _any_close(na, nb, params.number_tolerance):
                number = params.w_number
            else:
                conflict = -params.w_conflict
    time = 0.0
    if params.w_time and dt_hours is not None:
        late_days = max(0.0, abs(dt_hours) - params.time_grace_hours) / 24.0
        time = -min(params.max_time_penalty, params.w_time * late_days)
    return (
        cosine,
        params.cross_lang_offset + (params.cross_lang_scale - 1.0) * cosine if cross else 0.0,
        params.w_entity * min(1.0, shared_names(a, b, params.lead_weight, weights) / params.entity_cap),
        number,
        0.0
        if cross
        else params.w_lexical * min(1.0, _count(a.tokens.intersection(b.tokens), weights) / params.lexical_cap),  # type: ignore[union-attr]
        gram,
        conflict,
        time,
    )


def score_terms(
    a: Features,
    b: Features,
    cosine: float,
    dt_hours: float | None,
    params: MatchParams,
    weights: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """The addends of ``pair_score`` by name (explanations, the tuning fit and tests use them)."""
    if a.key == b.key:
        return {"exact": max(1.0, params.threshold)}
    cos, cross_lang, entity, number, lexical, gram, conflict, time = _terms(a, b, cosine, dt_hours, params, weights)
    return {
        "cosine": cos,
        "cross_lang": cross_lang,
        "entity": entity,
        "number": number,
        "lexical": lexical,
        "gram": gram,
        "conflict": conflict,
        "time": time,
    }


def pair_score(
    a: Features,
    b: Features,
    cosine: float,
    dt_hours: float | None,
    params: MatchParams,
    weights: Mapping[str, float] | None = None,
) -> float:
    """Match score of two headlines; ``dt_hours`` is the publication gap when both times are known;
    ``weights`` the rarity of ``a``'s names and words (``score_terms``).

    ``sum(score_terms(...).values())``, to the last bit: the same addends summed in the same order
    (tests/test_pure_speed_equivalence.py), without building the dict for every candidate."""
    if a.key == b.key:
        return sum((max(1.0, params.threshold),))
    return sum(_terms(a, b, cosine, dt_hours, params, weights))
