"""The 422 answer to a request that does not fit the schema.

FastAPI's own handler echoes the offending input back; when that input holds a lone surrogate (JSON
can spell "\\ud800", UTF-8 cannot), encoding the answer failed and the client got a 500 instead.
"""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException


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
    return [
        *errors[:MAX_LISTED_ERRORS],
        {"type": "too_many_errors", "loc": ["body"], "msg": f"{more} more errors, not listed"},
    ]


def _loc_key(error: Any) -> tuple[str, ...]:
    return tuple(str(part) for part in error.get("loc", ())) if isinstance(error, dict) else ()


def with_semantic_errors(request: Request, exc: RequestValidationError) -> list[Any]:
    """The schema's errors, and what the route's own checks find in the same body (an empty title, an unknown
    language...) at the places the schema did not already fault, so that a refused batch lists every bad item
    at once. A route names its checks as ``endpoint.semantic_errors(body, request) -> [error]``."""
    errors = list(exc.errors())
    check = getattr(request.scope.get("endpoint"), "semantic_errors", None)
    if check is None or getattr(exc, "body", None) is None:
        return errors
    try:
        more = check(exc.body, request)
    except Exception:  # the schema's answer stands on its own: never a 500 for the extras
        return errors
    faulted = {_loc_key(e) for e in errors}
    # an error at an item's field, or at the item itself ("not an object"), hides ours for that field
    extra = [e for e in more if _loc_key(e) not in faulted and _loc_key(e)[:-1] not in faulted]
    if not extra:
        return errors

    def order(e: Any) -> tuple[int, int]:
        loc = e.get("loc", ()) if isinstance(e, dict) else ()
        index = next((part for part in loc if isinstance(part, int)), -1)
        return (index, 0)

    return sorted(errors + extra, key=order)  # stable: item by item, the schema's errors first in each


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)

    def build() -> bytes:
        return json_bytes({"detail": jsonable_encoder(listed_errors(with_semantic_errors(request, exc)))})

    # A refused batch of thousands of items is checked item by item: off the event loop, as all CPU work.
    body = await run_in_threadpool(build)
    return Response(body, status_code=422, media_type="application/json")


def _documented_methods(app: Any, path: str) -> set[str]:
    """The methods the API's own schema lists for ``path`` (HEAD with GET, as Starlette serves it)."""
    patterns = getattr(app.state, "allow_patterns", None)
    if patterns is None:
        patterns = [
            (
                re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"),
                "{" not in template,
                {m.upper() for m in ops},
            )
            for template, ops in app.openapi().get("paths", {}).items()
        ]
        app.state.allow_patterns = patterns
    found = [(literal, methods) for pattern, literal, methods in patterns if pattern.match(path)]
    # a literal path ("/v1/clusters/refit") is not also its sibling template's ("/v1/clusters/{topic_id}")
    exact = [methods for literal, methods in found if literal]
    allowed = set().union(*(exact or [methods for _, methods in found]))
    return allowed | ({"HEAD"} if "GET" in allowed else set())


async def method_not_allowed_handler(request: Request, exc: Exception) -> Response:
    """405 with ``Allow`` naming every method the path takes. Starlette names only those of the first route
    that matched the path, and a resource served by several routes (GET and POST on ``/v1/feeds``) would
    tell a client its GET does not exist."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    headers = dict(exc.headers or {})
    allowed = _documented_methods(request.app, request.url.path)
    if allowed:
        headers["Allow"] = ", ".join(sorted(allowed))
    return Response(json_bytes({"detail": exc.detail}), status_code=405, headers=headers, media_type="application/json")
