"""What the service takes as a headline, whichever way it arrives (an HTTP batch or a followed feed)."""

from __future__ import annotations

#: how far ahead of our clock a published_at may be (time zones, clock skew), in seconds
FUTURE_SLACK = 36 * 3600.0
#: the oldest published_at accepted: 1900-01-01
OLDEST = -2208988800.0
#: a language code as clients send it: ISO 639-1/639-3, maybe with a region ("en-US"); empty means "detect"
LANG_PATTERN = r"^([A-Za-z]{2,3}([-_][A-Za-z0-9]{1,5})*)?$"
#: the longest feed id kept (source and id form a unique key; PostgreSQL cannot index keys of many kB)
MAX_EXT_ID_CHARS = 200
