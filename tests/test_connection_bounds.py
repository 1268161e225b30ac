"""Connections on the real service (``python -m app`` on loopback): who the client is behind a proxy, and how
long a client may take to send a request (its head, its body, nothing at all).

Every socket read here has a deadline, so a server that holds a connection fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import os
import re
import select
import socket
import subprocess
import sys
import time
from typing import Any, Iterator

import httpx
import pytest
from server import ROOT, Server

from app.api.body_timeout import BodyTimeout
from app.config import ConfigError, load_settings
from app.serve import uvicorn_options

RATE = 5  # dedup checks per client per minute on these servers
TIMEOUT = 1.0  # body and head deadline on the bounded server, seconds
PG_DSN = os.environ.get("TICKER_TEST_PG_DSN", "")
CHECK = {"title": "Le Maroc et l'Espagne signent un accord sur l'eau"}


def _server(tmp_path_factory: pytest.TempPathFactory, **env: str) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("data")
    with Server(
        {
            "TICKER_DATA_DIR": str(data),
            "TICKER_DEDUP_RATE_PER_MINUTE": str(RATE),
            "TICKER_REFIT_EVERY_SECONDS": "3600",
            "TICKER_LOG_LEVEL": "warning",
            **env,
        }
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def bounded(tmp_path_factory) -> Iterator[Server]:
    """Default proxy trust (none), deadlines of TIMEOUT seconds."""
    yield from _server(
        tmp_path_factory, TICKER_BODY_TIMEOUT_SECONDS=str(TIMEOUT), TICKER_HEADER_TIMEOUT_SECONDS=str(TIMEOUT)
    )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[Server]:
    """Behind a reverse proxy on the same host."""
    yield from _server(tmp_path_factory, TICKER_TRUSTED_PROXIES="127.0.0.1,::1")


def _connect(srv: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", srv.port), timeout=5)


def _read_until_closed(sock: socket.socket, deadline: float) -> bytes:
    """What the server sends until it closes; socket.timeout once ``deadline`` (monotonic) passes first."""
    out = b""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return out
        if not chunk:
            return out
        out += chunk


# --- 5. the dedup rate limit and X-Forwarded-For ---------------------------------------------------------------


@pytest.mark.slow
def test_a_fresh_x_forwarded_for_does_not_escape_the_rate_limit(bounded):
    with httpx.Client(base_url=bounded.url, timeout=30) as c:
        codes = [
            c.post("/v1/dedup/check", json=CHECK, headers={"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(RATE + 1)
        ]
    # no proxy is trusted by default: the header is the client's word, and every check is 127.0.0.1's
    assert codes == [200] * RATE + [429], codes


@pytest.mark.slow
def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(proxied):
    def check(c: httpx.Client, forwarded: str | None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return c.post("/v1/dedup/check", json=CHECK, headers=headers).status_code

    with httpx.Client(base_url=proxied.url, timeout=30) as c:
        codes = [check(c, "198.51.100.7") for _ in range(RATE + 1)]
        assert codes == [200] * RATE + [429], codes
        # a chain through a second trusted proxy still ends at the same client, whose bucket is empty
        assert check(c, "198.51.100.7, 127.0.0.1") == 429
        # another client behind the proxy, and the proxy's own address, have buckets of their own
        assert check(c, "198.51.100.8") == 200
        assert check(c, "198.51.100.7, 198.51.100.9") == 200  # the address the proxy saw, not what the client claimed
        assert check(c, None) == 200


# --- 6. slow bodies, slow heads, idle connections --------------------------------------------------------------


@pytest.mark.slow
def test_slow_bodies_get_408_within_the_deadline_and_livez_keeps_answering(bounded):
    paths = ["/v1/dedup/check", "/v1/headlines"]
    socks = []
    for i in range(50):
        s = _connect(bounded)
        s.sendall(
            f"POST {paths[i % 2]} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            "Content-Length: 500\r\n\r\n".encode()
            + b"{" * 95
        )
        socks.append(s)
    t0 = time.monotonic()
    try:
        assert httpx.get(bounded.url + "/livez", timeout=2).status_code == 200  # while all 50 are held
        deadline = t0 + TIMEOUT + 5
        answers = []
        for s in socks:
            try:
                answers.append(_read_until_closed(s, deadline))
            except socket.timeout:
                pytest.fail(f"a connection with 405 body bytes missing was still open {time.monotonic() - t0:.1f} s on")
    finally:
        for s in socks:
            s.close()
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers), {a[:40] for a in answers}
    assert b'"detail":"the request body did not arrive within 1 s"' in answers[0].replace(b": ", b":")
    assert all(b"connection: close" in a.lower() for a in answers)
    assert httpx.get(bounded.url + "/livez", timeout=2).status_code == 200


@pytest.mark.slow
def test_idle_connections_and_heads_that_never_end_are_closed(bounded):
    idle = _connect(bounded)  # sends nothing at all
    partial = _connect(bounded)
    partial.sendall(b"GET /livez HTTP/1.1\r\nHost: t\r\n")  # the blank line never comes
    dribble = _connect(bounded)  # a head a byte at a time, always something new before any idle timer
    t0 = time.monotonic()
    try:
        # A byte at least every 50 ms: the whole head would take over 11 s, ten times the deadline. The
        # server must cut it part way; an idle timer alone (re-armed by each byte) never would.
        head = b"GET /livez HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 200
        sent, cut = 0, False
        for byte in head:
            try:
                dribble.sendall(bytes([byte]))
                sent += 1
                if select.select([dribble], [], [], 0.05)[0] and dribble.recv(1024) == b"":
                    cut = True
                    break
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
        assert cut and sent < len(head), f"a head sent a byte at a time was never cut ({sent} of {len(head)} bytes)"
        deadline = time.monotonic() + 30  # a bound on the wait: the server closes them TIMEOUT s after they opened
        for s in (idle, partial):
            try:
                assert _read_until_closed(s, deadline) == b""  # closed, no answer to a request never made
            except socket.timeout:
                pytest.fail(f"a connection without a complete head was still open {time.monotonic() - t0:.1f} s on")
    finally:
        for s in (idle, partial, dribble):
            s.close()
    assert httpx.get(bounded.url + "/livez", timeout=2).status_code == 200


@pytest.mark.slow
def _oversized_head(srv: Server, wait: float) -> bytes:
    """What the server answers to 70,000 bytes of one header that never ends (over its 65,536-byte limit)."""
    s = _connect(srv)
    try:
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 70_000)
        try:
            return _read_until_closed(s, time.monotonic() + wait)
        except socket.timeout:
            pytest.fail("a 70 kB request head was neither answered nor closed")
    finally:
        s.close()


def test_an_oversized_head_gets_431(bounded):
    answer = _oversized_head(bounded, wait=5)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]


def test_worker_processes_build_the_bounded_protocol_from_their_own_settings():
    """With --workers, uvicorn pickles its configuration for each worker: the protocol goes by name, and
    the class a worker imports carries that worker's TICKER_ bounds."""
    assert uvicorn_options(load_settings(env={}), workers=2)["http"] == "app.http_protocol:SettingsBoundedProtocol"
    assert not isinstance(uvicorn_options(load_settings(env={}))["http"], str)
    code = (
        "from uvicorn.importer import import_from_string as imp; "
        "c = imp('app.http_protocol:SettingsBoundedProtocol'); print(c.header_timeout, c.max_header_bytes)"
    )
    env = {**os.environ, "TICKER_HEADER_TIMEOUT_SECONDS": "3.5", "TICKER_MAX_HEADER_BYTES": "9000"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["3.5", "9000"]


def test_several_workers_are_refused_on_the_sqlite_store(tmp_path):
    env = {**os.environ, "TICKER_DATA_DIR": str(tmp_path), "TICKER_DATABASE_URL": "sqlite"}
    out = subprocess.run(
        [sys.executable, "-m", "app", "--port", "1", "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and "needs TICKER_DATABASE_URL set to PostgreSQL" in out.stderr, out.stderr[-500:]


@pytest.mark.slow
@pytest.mark.skipif(not PG_DSN, reason="TICKER_TEST_PG_DSN is not set (scripts/test.sh starts a throw-away PostgreSQL)")
def test_two_worker_processes_bound_request_heads_too(tmp_path):
    env = {
        "TICKER_DATA_DIR": str(tmp_path),
        "TICKER_DATABASE_URL": PG_DSN,
        "TICKER_REFIT_EVERY_SECONDS": "3600",
        "TICKER_FEEDS_POLL": "false",
    }
    with Server(env, args=("--workers", "2")) as srv:
        answer = _oversized_head(srv, wait=30)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
        assert httpx.get(srv.url + "/livez", timeout=5).status_code == 200


@pytest.mark.slow
def test_bodies_and_pipelined_requests_are_not_counted_as_head(bounded):
    # a 1.5 MB body arriving with its head and a pipelined request after it: no 431, both answered
    body = b'{"headlines": [{"title": "' + b"x" * 1_500_000 + b'"}]}'
    s = _connect(bounded)
    try:
        s.sendall(
            b"POST /v1/headlines HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s"
            % (len(body), body)
            + b"GET /livez HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
        )
        answer = _read_until_closed(s, time.monotonic() + 20)
    finally:
        s.close()
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"422", b"200"], answer[:300]  # the title is over TICKER_MAX_TITLE_CHARS


# --- in-process: settings and the middleware alone --------------------------------------------------------------


def test_trusted_proxies_are_addresses_or_networks():
    s = load_settings(env={"TICKER_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8,::1 ,fd00::/8"})
    assert s.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1", "fd00::/8")
    assert load_settings(env={}).trusted_proxies == ()
    for bad in ("proxy.internal", "10.0.0.1/8", "300.1.1.1", "*"):
        with pytest.raises(ConfigError, match="TICKER_TRUSTED_PROXIES"):
            load_settings(env={"TICKER_TRUSTED_PROXIES": bad})
    for name in ("BODY_TIMEOUT_SECONDS", "HEADER_TIMEOUT_SECONDS", "MAX_HEADER_BYTES", "KEEP_ALIVE_SECONDS"):
        with pytest.raises(ConfigError, match=name):
            load_settings(env={f"TICKER_{name}": "0"})


def test_uvicorn_believes_forwarded_headers_only_from_the_configured_proxies():
    default = uvicorn_options(load_settings(env={}))
    # off, so neither uvicorn's 127.0.0.1 default nor FORWARDED_ALLOW_IPS applies
    assert default["proxy_headers"] is False and default["forwarded_allow_ips"] == []
    assert default["timeout_keep_alive"] == 5 and default["h11_max_incomplete_event_size"] == 65536
    proxied = uvicorn_options(load_settings(env={"TICKER_TRUSTED_PROXIES": "10.1.2.3,10.2.0.0/16"}))
    assert proxied["proxy_headers"] is True and proxied["forwarded_allow_ips"] == ["10.1.2.3", "10.2.0.0/16"]


def _run_asgi(app: Any, messages: list[dict[str, Any]], scope_type: str = "http") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # the rest of the body never comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app({"type": scope_type, "method": "POST", "path": "/"}, receive, send), 5))
    return sent


def test_body_timeout_answers_408_once_the_deadline_passes_and_not_before():
    async def reader(scope, receive, send):  # reads the whole body, then answers 200
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    app = BodyTimeout(reader, seconds=0.2)
    slow = _run_asgi(app, [{"type": "http.request", "body": b"{", "more_body": True}])
    assert slow[0]["status"] == 408 and (b"connection", b"close") in slow[0]["headers"]
    whole = _run_asgi(
        app,
        [
            {"type": "http.request", "body": b"{", "more_body": True},
            {"type": "http.request", "body": b"}", "more_body": False},
        ],
    )
    assert [m.get("status") for m in whole] == [200, None]

    async def late_reader(scope, receive, send):  # busy past the deadline before it reads a body already there
        await asyncio.sleep(0.3)
        await reader(scope, receive, send)

    late = _run_asgi(BodyTimeout(late_reader, seconds=0.2), [{"type": "http.request", "body": b"{}"}])
    assert [m.get("status") for m in late] == [200, None]
