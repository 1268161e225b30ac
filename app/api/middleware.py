"""ASGI middleware at the edge: body size, content type and UTF-8 checks, and request timing.

These run before FastAPI parses a body, so a 10 MB upload is refused at 413 without being parsed,
and undecodable bytes get a 400 that says where, instead of an error deep inside JSON decoding.
"""

from __future__ import annotations

import json
import time
from typing import Any, Awaitable, Callable

from .metrics import Metrics

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: path -> accepted media types for its request body
BODY_TYPES: dict[str, tuple[str, ...]] = {
    "/v1/headlines": ("application/json",),
    "/v1/dedup/check": ("application/json",),
    "/v1/ticker": ("text/plain",),
}


async def _respond(send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""


class BodyGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/") or "/"
        accepted = BODY_TYPES.get(path)
        if accepted is not None:
            media = _media_type(scope)
            if not any(media == a or (a == "application/json" and media.endswith("+json")) for a in accepted):
                await _respond(
                    send, 415, f"{path} takes a {' or '.join(accepted)} body, got {media or 'no content type'!r}"
                )
                return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _respond(send, 400, "Content-Length is not a number")
                    return
                if declared > self.max_body_bytes:
                    await _respond(
                        send, 413, f"request body of {declared} bytes is over the limit of {self.max_body_bytes} bytes"
                    )
                    return
        # Read the whole (bounded) body, then replay it to the app.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await _respond(send, 413, f"request body is over the limit of {self.max_body_bytes} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if accepted is not None:
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await _respond(
                    send,
                    400,
                    f"request body is not valid UTF-8: byte {exc.start} ({body[exc.start : exc.start + 1]!r})",
                )
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Timing:
    """Request latency per route template (not per raw path, to keep label cardinality bounded)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(template, scope["method"], time.perf_counter() - start)
            self.metrics.inc("ticker_http_responses_total", code=str(status["code"]), route=template)
