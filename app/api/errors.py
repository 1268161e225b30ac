"""The 422 answer to a request that does not fit the schema.

FastAPI's own handler echoes the offending input back; when that input holds a lone surrogate (JSON
can spell "\\ud800", UTF-8 cannot), encoding the answer failed and the client got a 500 instead.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response


def json_bytes(content: Any) -> bytes:
    """UTF-8 JSON; ASCII escapes (still the same JSON) when the content holds what UTF-8 cannot."""
    try:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


#: schema errors listed in one 422: a 2 MB body can hold 150,000 unknown fields, and encoding an answer for
#: each took the event loop 2 s (a million wrong items: 20 s and 200 MB)
MAX_LISTED_ERRORS = 1000


def listed_errors(errors: Sequence[Any]) -> list[Any]:
    """The first ``MAX_LISTED_ERRORS`` errors, then one that says how many more there were."""
    if len(errors) <= MAX_LISTED_ERRORS:
        return list(errors)
    more = len(errors) - MAX_LISTED_ERRORS
    return [*errors[:MAX_LISTED_ERRORS],
            {"type": "too_many_errors", "loc": ["body"], "msg": f"{more} more errors, not listed"}]


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    body = json_bytes({"detail": jsonable_encoder(listed_errors(exc.errors()))})
    return Response(body, status_code=422, media_type="application/json")
