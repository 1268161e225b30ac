"""Which ``lang`` a client may give: the configured languages (``TICKER_LANGUAGES``), their 639-3/639-2
codes and any region subtag ("fra", "en-US"), and the varieties the pipeline keeps apart from a configured
language ("ary", Moroccan Arabic, when Arabic is configured: an MSA/Darija pair is matched as a translation).

Anything else is refused with a 422 that lists them: a stored "de" or "xx" made French text labelled
"de" a "translation" of its own French versions. The codes themselves: ``app.ingest.langcodes``.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..ingest.langcodes import accepted_langs, canonical_lang


def check_lang(lang: str | None, configured: Sequence[str], loc: list[Any]) -> list[dict[str, Any]]:
    """[] when ``lang`` is accepted (or absent/empty: detect), else the 422 error naming the accepted codes."""
    if not lang or not lang.strip():
        return []
    accepted = accepted_langs(tuple(configured))
    if canonical_lang(lang) in accepted:
        return []
    return [
        {
            "loc": loc,
            "msg": f"unknown language {lang!r}: accepted are {', '.join(accepted)} (a region may follow, as in en-US), "
            "or none to detect it (TICKER_LANGUAGES sets the languages)",
            "type": "value_error.lang",
            "ctx": {"accepted": list(accepted)},
        }
    ]
