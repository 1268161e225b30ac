"""``python -m app``: serve the service with uvicorn, its connection settings taken from ``Settings``.

Plain ``uvicorn app.main:app`` serves the same app, but uvicorn then believes ``X-Forwarded-For`` from
127.0.0.1 (its default, or ``FORWARDED_ALLOW_IPS``), so any client on the host picks its own address,
and with it a fresh dedup rate-limit bucket, per request; and it bounds no request head. Here forwarded
headers count only from ``TICKER_TRUSTED_PROXIES``, and heads are bounded (``app/http_protocol.py``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

import uvicorn

from .config import ConfigError, Settings, load_settings
from .http_protocol import SETTINGS_PROTOCOL, bounded_http_protocol


def uvicorn_options(settings: Settings, workers: int = 1) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run`` that come from the settings (and the number of workers:
    worker processes import the bounded protocol by name and build it from their own settings)."""
    trusted = list(settings.trusted_proxies)
    http: Any = (
        SETTINGS_PROTOCOL
        if workers > 1
        else bounded_http_protocol(settings.header_timeout_seconds, settings.max_header_bytes)
    )
    return {
        # Off, not an empty list, without proxies: uvicorn then leaves the client address exactly as it connected.
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "http": http,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app", description="Serve the ticker dedup service.")
    parser.add_argument("app", nargs="?", default="app.main:app", help="the ASGI app, module:attribute")
    parser.add_argument("--factory", action="store_true", help="the app is a factory to call")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default=None, help="uvicorn's log level (TICKER_LOG_LEVEL sets the service's)")
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument(
        "--workers", type=int, default=1, help="worker processes (more than one needs PostgreSQL: docs/operations.md)"
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        sys.exit(f"configuration error: {exc}")
    if args.workers < 1:
        sys.exit("--workers must be 1 or more")
    if args.workers > 1 and not settings.is_postgres:
        # the SQLite store, its vector index and its write buffer live in one process
        sys.exit("--workers over 1 needs TICKER_DATABASE_URL set to PostgreSQL: the SQLite store serves one process")
    uvicorn.run(
        args.app,
        factory=args.factory,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=not args.no_access_log,
        workers=args.workers,
        **uvicorn_options(settings, args.workers),
    )
