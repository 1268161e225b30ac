"""What the dedup check's score means to an editor: a verdict in words and a calibrated confidence.

The check compares its ``score`` (the best story's score, ``decide``) with the rule's ``threshold``; the
threshold may move (``TICKER_MATCH_THRESHOLD``, or a refit from the editors' corrections), so the map reads
the distance to it, ``x = score - threshold``: ``confidence = 1 / (1 + exp(-(SLOPE * x + INTERCEPT)))``,
the probability that the headline is the same story as the one the score is about (Platt scaling, two
parameters, monotone in the score). Fitted and checked by ``python -m bench.calibrate_check``
(docs/evidence.md): labelled (headline, closest stored story) pairs from the shared sets, fitted on the gold
stories of even hash, the reliability table and Brier score measured on the odd half.
"""

from __future__ import annotations

import math
from typing import Literal

Verdict = Literal["duplicate", "possible", "new"]

# Fitted 2026-12-07 by `python -m bench.calibrate_check` (bench/results/calibration.json) on the fit half
# (gold stories whose crc32 is even: 3,390 pairs) of seed_ticker, gnews_fr dev, sib200 dev (en/fr/es/ar/ary)
# and uci_news dev (same-day pairs), each set weighing the same; default encoder (use-m3 int8), default
# threshold 0.744. Held-out figures: docs/evidence.md.
#: Platt slope on score - threshold
CONFIDENCE_SLOPE = 4.592
#: Platt intercept: the log-odds of "same story" at the threshold itself (0.51 there)
CONFIDENCE_INTERCEPT = 0.042

#: under the threshold, a confidence from this bar up is "possible": about one chance in three or more
#: that it is the same story, worth a look before publishing (score - threshold >= -0.19 by default)
POSSIBLE_BAR = 0.3


def confidence(score: float, threshold: float, duplicate: bool) -> float:
    """P(same story) for a check whose best story scored ``score`` against ``threshold``.

    A duplicate is read at least at the threshold: an exact repeat reports score 1.0, which a threshold
    set over 1.0 (tight duplicates only) would otherwise put under it."""
    x = score - threshold
    if duplicate:
        x = max(x, 0.0)
    z = CONFIDENCE_SLOPE * x + CONFIDENCE_INTERCEPT
    if z >= 0:
        p = 1.0 / (1.0 + math.exp(-z))
    else:
        e = math.exp(z)
        p = e / (1.0 + e)
    return round(p, 3)


def verdict(duplicate: bool, conf: float) -> Verdict:
    """``duplicate`` when the check says so (the ``duplicate`` boolean), ``possible`` when not but the
    confidence reaches ``POSSIBLE_BAR``, ``new`` otherwise."""
    if duplicate:
        return "duplicate"
    return "possible" if conf >= POSSIBLE_BAR else "new"
