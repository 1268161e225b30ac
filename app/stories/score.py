"""One match score for a pair of headlines, and the parameters (with their tuned defaults) that shape it.

Cosine alone cannot separate "same topic" from "same story": two weather alerts sit at 0.6 while a
French and an English version of one Sahara story sit at 0.65. The score adds what embeddings blur:

    score = cosine (+ cross_lang_offset when the languages differ)
          + w_entity  * shared-name overlap       (names survive translation)
          + w_number  * [a number is shared]      ("1201", "3,9")
          + w_lexical * content-word overlap      (same language only)
          + w_gram    * char-trigram overlap      (any pair: fr/es/en cognates)
          - w_conflict * [numbers / weekdays / months disagree]
          - w_time    * days apart beyond a grace period

and one threshold decides. See bench/tune_stories.py for how the defaults were chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

from .features import Features

__all__ = ["MatchParams", "pair_score", "score_terms", "numbers_conflict", "overlap"]


@dataclass(frozen=True)
class MatchParams:
    #: combined score a story needs for a headline to join it
    threshold: float = 0.62
    #: candidates whose cosine is under this are not scored at all
    min_cosine: float = 0.3
    #: added to the cosine of a cross-language pair (their cosines run lower than same-language ones)
    cross_lang_offset: float = 0.1
    w_entity: float = 0.15
    #: shared names that earn the full entity weight (fewer earn a share of it)
    entity_cap: int = 2
    #: a word that opens both headlines ("Alerte ...", "Oppo ...") counts this much of a shared name
    lead_weight: float = 0.5
    w_number: float = 0.1
    w_lexical: float = 0.1
    #: shared content words (same language) that earn the full lexical weight
    lexical_cap: int = 3
    w_gram: float = 0.1
    w_conflict: float = 0.2
    #: experimental story-level terms (decide): neighbourhood margin, centroid, second member
    w_margin: float = 0.0
    w_centroid: float = 0.0
    w_support: float = 0.0
    #: per day apart beyond ``time_grace_hours`` (only when both publication times are known)
    w_time: float = 0.05
    time_grace_hours: float = 24.0
    #: cap on the time penalty, so that a late rewrite with identical text still matches
    max_time_penalty: float = 0.2
    #: relative gap under which two numbers, one of them a decimal, count as the same ("3,9" ~ "4")
    number_tolerance: float = 0.05


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Overlap coefficient |a ∩ b| / min(|a|, |b|); 0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def shared_names(a: Features, b: Features, lead_weight: float) -> float:
    """Names both headlines carry; a sentence-initial capital counts fully only against a real name."""
    full = len(a.entities & b.entities) + len(a.leads & b.entities) + len(a.entities & b.leads)
    return full + lead_weight * len(a.leads & b.leads)


def _close(x: str, y: str, tolerance: float) -> bool:
    # Rounding only happens to decimals: "3,9 tonnes" ~ "4 tonnes"; 2024 vs 2025 are different years.
    if "." not in x and "." not in y:
        return False
    fx, fy = float(x), float(y)
    return abs(fx - fy) <= tolerance * max(abs(fx), abs(fy))


def _is_year(x: str) -> bool:
    return len(x) == 4 and x.isdigit() and 1900 <= int(x) <= 2100


def shares_number(a: frozenset[str], b: frozenset[str], tolerance: float = 0.05) -> bool:
    """A figure in common that is not a year: "1201 personnes", "3,9" ~ "4 tonnes". Years are shared
    by everything published that year, so they agree without saying anything."""
    if not a or not b:
        return False
    if any(not _is_year(x) for x in a & b):
        return True
    return any(_close(x, y, tolerance) for x in a - b for y in b - a)


def numbers_conflict(a: frozenset[str], b: frozenset[str], tolerance: float = 0.05) -> bool:
    """Both headlines state numbers and none of them agree: different figures, different stories."""
    if not a or not b or a & b:
        return False
    return not any(_close(x, y, tolerance) for x in a for y in b)


def _conflict(a: Features, b: Features, tolerance: float) -> bool:
    if a.days and b.days and not a.days & b.days:
        return True
    if a.months and b.months and not a.months & b.months:
        return True
    return numbers_conflict(a.numbers, b.numbers, tolerance)


def score_terms(a: Features, b: Features, cosine: float, dt_hours: float | None, params: MatchParams) -> dict[str, float]:
    """The addends of ``pair_score`` by name (for explanations and tuning; ``pair_score`` is the fast path)."""
    if a.key == b.key:
        return {"exact": max(1.0, params.threshold)}
    cross = a.lang is not None and b.lang is not None and a.lang != b.lang
    terms = {
        "cosine": cosine,
        "cross_lang": params.cross_lang_offset if cross else 0.0,
        "entity": params.w_entity * min(1.0, shared_names(a, b, params.lead_weight) / params.entity_cap),
        "number": 0.0,
        "lexical": 0.0 if cross else params.w_lexical * min(1.0, len(a.tokens & b.tokens) / params.lexical_cap),
        "gram": params.w_gram * _jaccard(a.grams, b.grams),
        "conflict": 0.0,
        "time": 0.0,
    }
    if params.w_conflict and _conflict(a, b, params.number_tolerance):
        terms["conflict"] = -params.w_conflict
    elif shares_number(a.numbers, b.numbers, params.number_tolerance):
        terms["number"] = params.w_number
    if params.w_time and dt_hours is not None:
        late_days = max(0.0, abs(dt_hours) - params.time_grace_hours) / 24.0
        terms["time"] = -min(params.max_time_penalty, params.w_time * late_days)
    return terms


def pair_score(a: Features, b: Features, cosine: float, dt_hours: float | None, params: MatchParams) -> float:
    """Match score of two headlines; ``dt_hours`` is the publication gap when both times are known."""
    return sum(score_terms(a, b, cosine, dt_hours, params).values())
