"""The HTTP edge of feed polling: one conditional GET with caps, redirects followed by hand, every address checked.

- Safe by default: a host is resolved once, at connect time, by the connection itself
  (``GuardedBackend.connect_tcp``); every address it resolves to must be public unless private ones are
  allowed (TICKER_FEEDS_ALLOW_PRIVATE), and the socket is then opened to one of those checked addresses,
  never to a name resolved again: DNS that changes its answer between a check and the connect (rebinding)
  has nothing to slip through. Every redirect hop is a new connection, checked the same way. No proxy from
  the environment is used (it would be the address connected to).
- Polite: If-None-Match / If-Modified-Since from the last 200; a 304 carries no body; Retry-After of a 429 or
  503 is read for the policy (``policy.py``).
- Bounded: at most ``max_bytes`` of body (a larger Content-Length is refused unread; a body without one is
  read in chunks and cut at the cap, never held whole), the whole fetch, redirects included, within
  ``timeout`` seconds; at most ``max_redirects`` hops (a loop ends there).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import typing
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

USER_AGENT = "ticker-dedup-feeds/0.1 (RSS, Atom and JSON Feed poller)"
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
REDIRECTS = (301, 302, 303, 307, 308)
PERMANENT = (301, 308)


class BlockedAddress(Exception):
    """The host resolves to an address feeds may not reach (loopback, private, link-local, ...)."""


def address_is_public(ip: str) -> bool:
    """True for a globally routable unicast address. IPv4-mapped IPv6 (::ffff:10.0.0.1) is judged as the IPv4
    address it carries."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        elif addr.is_site_local:
            return False
    return addr.is_global and not addr.is_multicast and not addr.is_unspecified


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to for a TCP connection (an IP literal: itself). Tests replace this."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"{host} does not resolve: {exc.strerror or exc}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_addresses(host: str, addresses: typing.Sequence[str], allow_private: bool) -> None:
    """BlockedAddress unless every address is public (or private ones are allowed)."""
    if allow_private:
        return
    for ip in addresses:
        if not address_is_public(ip):
            raise BlockedAddress(
                f"{host} resolves to {ip}, a loopback, private, link-local or otherwise non-public address; "
                "feeds may not reach it unless TICKER_FEEDS_ALLOW_PRIVATE is set"
            )


def check_url(url: str, allow_private: bool) -> None:
    """What POST /v1/feeds checks before storing a feed: ValueError with the reason. Resolves the host (blocking)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the URL's scheme must be http or https, not {parts.scheme or 'none'!r}")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not accepted (they would show in every listing)")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError("the URL's port is not a number between 0 and 65535") from None
    try:
        addresses = resolve_host(parts.hostname, port)
    except httpcore.ConnectError as exc:
        raise ValueError(str(exc)) from None
    try:
        check_addresses(parts.hostname, addresses, allow_private)
    except BlockedAddress as exc:
        raise ValueError(str(exc)) from None


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, resolving and checking the host itself and connecting to the checked address."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_host(host, port)
        check_addresses(host, addresses, self.allow_private)
        error: Exception | None = None
        for ip in addresses:  # TLS still verifies the certificate against ``host`` (httpcore passes it as SNI)
            try:
                return super().connect_tcp(
                    ip, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host}: no address to connect to")


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, allow_private: bool, max_connections: int) -> None:
        super().__init__(trust_env=False)
        self._pool.close()
        ctx: ssl.SSLContext = httpx.create_ssl_context(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ctx,
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=5.0,
            network_backend=GuardedBackend(allow_private),
        )


@dataclass(frozen=True)
class FetchResult:
    """What one fetch got. ``error`` None: a usable answer (200 with ``body``, or 304)."""

    url: str
    #: the final status, None when no answer came (refused address, connection error, timeout)
    status: int | None = None
    #: where the permanent redirects (301, 308) at the start of the chain lead: the feed's URL from now on
    permanent_url: str | None = None
    body: bytes | None = None
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    #: seconds to wait, from a 429's or 503's Retry-After
    retry_after: float | None = None
    error: str | None = None
    bytes_read: int = 0


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Retry-After as seconds from ``now``: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


class Fetcher:
    """One HTTP client (connection pool) shared by the poller's workers; ``fetch`` is thread-safe."""

    def __init__(
        self,
        *,
        max_bytes: int,
        timeout: float,
        max_redirects: int,
        allow_private: bool,
        max_connections: int = 8,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_redirects = max_redirects
        self.client = httpx.Client(
            transport=transport or _GuardedTransport(allow_private, max_connections),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        )

    def close(self) -> None:
        self.client.close()

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        start = time.monotonic()
        deadline = start + self.timeout
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        permanent: str | None = None
        chain_permanent = True
        current = url
        try:
            for _hop in range(self.max_redirects + 1):
                scheme = urlsplit(current).scheme
                if scheme not in ("http", "https"):
                    return FetchResult(
                        url=current,
                        permanent_url=permanent,
                        error=f"redirected to a {scheme or 'schemeless'} URL; only http and https are fetched",
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return FetchResult(url=current, permanent_url=permanent, error=self._too_slow())
                with self.client.stream("GET", current, headers=headers, timeout=httpx.Timeout(remaining)) as r:
                    status = r.status_code
                    if status in REDIRECTS and r.headers.get("location"):
                        target = urljoin(str(r.url), r.headers["location"])
                        if chain_permanent and status in PERMANENT:
                            permanent = target
                        else:
                            chain_permanent = False
                        current = target
                        continue
                    common: dict[str, typing.Any] = {"url": current, "status": status, "permanent_url": permanent}
                    if status == 304:
                        return FetchResult(**common)
                    if status in (429, 503):
                        return FetchResult(
                            **common,
                            retry_after=retry_after_seconds(r.headers.get("retry-after"), time.time()),
                            error=f"HTTP {status} {r.reason_phrase or ''}".rstrip(),
                        )
                    if status != 200:
                        return FetchResult(**common, error=f"HTTP {status} {r.reason_phrase or ''}".rstrip())
                    body, size, error = self._read(r, deadline)
                    if error is not None:
                        return FetchResult(**common, error=error, bytes_read=size)
                    return FetchResult(
                        **common,
                        body=body,
                        content_type=r.headers.get("content-type"),
                        etag=r.headers.get("etag"),
                        last_modified=r.headers.get("last-modified"),
                        bytes_read=len(body),
                    )
            return FetchResult(
                url=current,
                permanent_url=permanent,
                error=f"more than {self.max_redirects} redirects (a redirect loop?)",
            )
        except BlockedAddress as exc:
            return FetchResult(url=current, permanent_url=permanent, error=str(exc))
        except httpx.TimeoutException:
            return FetchResult(url=current, permanent_url=permanent, error=self._too_slow())
        except httpx.HTTPError as exc:
            return FetchResult(
                url=current, permanent_url=permanent, error=f"fetch failed: {type(exc).__name__}: {exc}"[:500]
            )

    def _too_slow(self) -> str:
        return f"the fetch took longer than {self.timeout:g} s"

    def _read(self, r: httpx.Response, deadline: float) -> tuple[bytes, int, str | None]:
        """The body, its size and None; or nothing, the bytes read and why it stopped. Counted as decoded
        (a gzip bomb stops at the cap too)."""
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes and "content-encoding" not in r.headers:
            return b"", 0, f"the feed is {int(declared)} bytes, over the cap of {self.max_bytes} bytes"
        parts: list[bytes] = []
        size = 0
        for chunk in r.iter_bytes():  # as it arrives (a chunk size would wait for that many bytes)
            size += len(chunk)
            if size > self.max_bytes:
                # Leaving the stream closes the connection: the rest is never read.
                return b"", size, f"the feed is over the cap of {self.max_bytes} bytes (cut after {size} bytes)"
            parts.append(chunk)
            if time.monotonic() > deadline:
                return b"", size, self._too_slow()
        return b"".join(parts), size, None
