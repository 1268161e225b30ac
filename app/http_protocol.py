"""uvicorn's HTTP/1.1 protocol with every request head bounded in time and size.

uvicorn arms its one timer, keep-alive, only after a response: a client that connected and sent
nothing, or sent its request head a byte at a time, held its connection for ever, and the httptools
parser buffered a head of any size (160 MB taken in one request, the process at 520 MB RSS). Here a
connection is closed when the next request's head has not arrived ``header_timeout`` seconds after the
connection opened or the previous response ended, and a head over ``max_header_bytes`` gets a 431
(h11, used when httptools is missing, bounds the size itself: ``h11_max_incomplete_event_size``).
A request's body has its own deadline, in the app (``app/api/body_timeout.py``).

``python -m app`` (``app/serve.py``) serves with the class ``bounded_http_protocol`` returns; its worker
processes (``--workers``) import it by name (``SETTINGS_PROTOCOL``), built from their own settings.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: uvicorn's "auto" would take h11 too
    HttpToolsProtocol = None  # type: ignore[assignment,misc]


def _in_flight(cycle: Any) -> bool:
    """A request whose head has arrived is being answered."""
    return cycle is not None and not cycle.response_complete


class _HeadDeadline:
    """Close a connection whose next request head is not complete ``header_timeout`` s after it was due."""

    header_timeout: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None
    # set by uvicorn's protocol, the class this is mixed into
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any

    def connection_made(self, transport: asyncio.Transport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def handle_websocket_upgrade(self, *args: Any) -> None:
        # the connection is handed to a WebSocket protocol, which has its own pings and timeouts
        self._cancel_head_timer()
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        if not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        # A request being answered had its head in time; the timer is armed again when its response ends.
        if not _in_flight(self.cycle) and not self.transport.is_closing():
            self.transport.close()


class _HeadSizeLimit:
    """httptools only: answer 431 and close once a request head has taken over ``max_header_bytes``."""

    max_header_bytes: int = 65536
    _head_pending: bool = True  # between one request's end (or the connection's start) and the next head's end
    _head_bytes: int = 0
    _heads_seen: int = 0
    transport: asyncio.Transport
    cycle: Any
    logger: Any

    def data_received(self, data: bytes) -> None:
        pending, heads = self._head_pending, self._heads_seen
        super().data_received(data)  # type: ignore[misc]
        # Only a chunk that was head from its first byte to its last is counted, so a request whose body ends
        # in the same chunk as the next head begins is never refused for its body's bytes.
        if not (pending and self._head_pending and heads == self._heads_seen) or self.transport.is_closing():
            return
        self._head_bytes += len(data)
        if self._head_bytes > self.max_header_bytes:
            self._refuse_head()

    def on_headers_complete(self) -> None:
        self._head_pending, self._head_bytes = False, 0
        self._heads_seen += 1
        super().on_headers_complete()  # type: ignore[misc]

    def on_message_complete(self) -> None:
        super().on_message_complete()  # type: ignore[misc]
        self._head_pending, self._head_bytes = True, 0

    def _refuse_head(self) -> None:
        self.logger.warning("request head over %d bytes: answered 431 and closed", self.max_header_bytes)
        # A response still being written for an earlier pipelined request must not be cut by ours: then just close.
        if not _in_flight(self.cycle):
            body = json.dumps({"detail": f"request head over the limit of {self.max_header_bytes} bytes"}).encode()
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
            )
        self.transport.close()


def bounded_http_protocol(header_timeout: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    """uvicorn's protocol class (httptools when installed, as uvicorn's "auto" picks, else h11) with the bounds."""
    bounds = {"header_timeout": header_timeout, "max_header_bytes": max_header_bytes}
    if HttpToolsProtocol is not None:
        return type("BoundedHttpToolsProtocol", (_HeadDeadline, _HeadSizeLimit, HttpToolsProtocol), bounds)
    return type("BoundedH11Protocol", (_HeadDeadline, H11Protocol), bounds)


#: the bounded protocol built from the process's settings, by import path: uvicorn's worker processes get
#: their configuration pickled, and a class made at run time cannot be, so each worker builds its own
SETTINGS_PROTOCOL = "app.http_protocol:SettingsBoundedProtocol"

_from_settings: type[asyncio.Protocol] | None = None


def __getattr__(name: str) -> Any:
    """``SettingsBoundedProtocol``: ``bounded_http_protocol`` with this process's ``TICKER_`` bounds."""
    global _from_settings
    if name != "SettingsBoundedProtocol":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _from_settings is None:
        from .config import load_settings

        settings = load_settings()
        _from_settings = bounded_http_protocol(settings.header_timeout_seconds, settings.max_header_bytes)
    return _from_settings
