"""API keys (constant-time comparison), checked before a body is read, and the dedup check's token per
client (the bucket itself: ``ratelimit``)."""

from __future__ import annotations

import hmac
import math

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

# Starlette's own ASGI types, not .middleware's: KeyGate hands ``send`` to a Starlette response, which
# calls it with any MutableMapping (middleware's Send takes a dict only)
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Settings
from .state import AppState, StateDep


def presented_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def _key_ok(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


# The dependencies below are ``async def`` on purpose: they never block, and FastAPI would otherwise
# send each plain ``def`` dependency through the thread pool, a hop per dependency per request.


def _unauthorized() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="this endpoint needs the API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
        headers={"WWW-Authenticate": "Bearer"},
    )


def check_key(request: Request, state: AppState) -> None:
    """401 unless the request carries the configured key (nothing to check when none is configured)."""
    _check_key(request, state)


def _check_key(request: Request, state: AppState) -> None:
    expected = state.settings.api_key
    if expected and not _key_ok(expected, presented_key(request)):
        raise _unauthorized()


async def require_write(request: Request, state: StateDep) -> None:
    _check_key(request, state)


async def require_read(request: Request, state: StateDep) -> None:
    _check_read(request, state)


def _check_read(request: Request, state: AppState) -> None:
    if state.settings.protect_reads:
        _check_key(request, state)


async def check_access(request: Request) -> AppState:
    """The dedup check's dependency: ``require_read``, then a token from the client's bucket, and the
    state. One dependency rather than three: the check has a latency budget, and each dependency
    FastAPI solves costs ~0.1 ms of the event loop."""
    state: AppState = request.app.state.ticker
    _check_read(request, state)
    _take_check_token(request, state)
    return state


def _take_check_token(request: Request, state: AppState) -> None:
    # By address, not by key: a key chosen by the caller would let it pick a fresh bucket each time.
    client = request.client.host if request.client else "unknown"
    wait = state.rate_limiter.take(client)
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail=f"too many dedup checks from this client; retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


#: requests with a body that are reads: open like the other reads unless TICKER_PROTECT_READS
READ_BODY_PATHS = frozenset({"/v1/dedup/check"})
#: methods that never carry a body here (OPTIONS: CORS preflights carry no key by design)
BODILESS = frozenset({"GET", "HEAD", "OPTIONS"})


def needs_key_early(method: str, path: str, settings: Settings) -> bool:
    """Whether a request must show the key before its body is read: every write, and the reads with a
    body while reads are protected. By method and path, like the body guard, so it holds for a route
    added later too (it fails closed), and without depending on how the framework stores its routes."""
    if not settings.api_key or method in BODILESS:
        return False
    return settings.protect_reads or (path.rstrip("/") or "/") not in READ_BODY_PATHS


class KeyGate:
    """ASGI middleware, outside the body guard: a request without the key it needs gets its 401 here,
    before any body is read, so a caller without the key learns nothing from the body checks (400, 413,
    415, 422) and cannot make the service read a body at all. The routes' own dependencies still check
    (and are what GET routes rely on)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and needs_key_early(scope["method"], scope["path"], self.settings)
            and not _key_ok(self.settings.api_key, presented_key(Request(scope)))
        ):
            exc = _unauthorized()
            await JSONResponse({"detail": exc.detail}, status_code=401, headers=exc.headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)
