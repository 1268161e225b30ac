"""ASGI middleware: a request's whole body must arrive within a deadline, else 408 and the connection closes.

uvicorn has no body timeout: a request declaring ``Content-Length: 500`` and sending 95 bytes held its
connection, and the task reading it, for as long as the client liked (500 of them all still open after
17 s). The deadline runs from the end of the request head, when the app is called, and covers every
``receive`` until the last body chunk; later ones (waiting for a disconnect) are left alone.
"""

from __future__ import annotations

import asyncio
import json

from .middleware import ASGIApp, Message, Receive, Scope, Send


class BodyTimeout:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.seconds
        body_done = timed_out = started = False

        async def timed_receive() -> Message:
            nonlocal body_done, timed_out
            if timed_out:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            try:
                # timeout_at, not wait_for: a message already there is taken even once the deadline has passed
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                # The app sees a disconnect and unwinds as for a client gone; the 408 is sent below.
                timed_out = True
                return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except Exception:
            if not (timed_out and not started):
                raise
        if timed_out and not started:
            await _request_timeout(send, self.seconds)


async def _request_timeout(send: Send, seconds: float) -> None:
    body = json.dumps({"detail": f"the request body did not arrive within {seconds:g} s"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 408,
            # close: the rest of the body may still come, and would be read as the next request
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
