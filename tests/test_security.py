"""Access control, CORS, request limits and the rate limit, through the public HTTP API.

Writes need the API key when one is set (either header form); reads are open unless TICKER_PROTECT_READS;
the dedup check is a read. The key never shows in a response, nor in the server's own logs at trace level.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from server import ROOT, free_port

KEY = "k3y-Secret-8e1f4c2a9b7d"
WRONG = [None, "", "nope", KEY[:-1], KEY + "x", KEY.upper(), " " + KEY + "x"]
HEADLINE = {"title": "Le Maroc et l'Espagne signent un accord sur l'eau", "source": "sec", "id": "1"}
ORIGIN = "https://cms.example.ma"


def _auth(kind: str, key: str | None) -> dict[str, str]:
    if key is None:
        return {}
    return {"Authorization": f"Bearer {key}"} if kind == "bearer" else {"X-API-Key": key}


def _writes(client, headers: dict[str, str]) -> list[httpx.Response]:
    return [
        client.post("/v1/headlines", json={"headlines": [HEADLINE]}, headers=headers),
        client.post(
            "/v1/ticker?source=sec",
            content="Un titre de dépêche sur la CAF à Rabat".encode(),
            headers={"Content-Type": "text/plain", **headers},
        ),
        client.post("/v1/clusters/refit", headers=headers),
    ]


def _reads(client, headers: dict[str, str]) -> list[httpx.Response]:
    return [
        client.get("/v1/stories", headers=headers),
        client.get("/v1/stories/1", headers=headers),
        client.get("/v1/headlines/1", headers=headers),
        client.get("/v1/clusters", headers=headers),
        client.get("/v1/clusters/1", headers=headers),
        client.post("/v1/dedup/check", json={"title": HEADLINE["title"]}, headers=headers),
    ]


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["bearer", "x-api-key"])
def test_writes_need_the_key(make_client, kind):
    c = make_client(api_key=KEY)
    for wrong in WRONG:
        for r in _writes(c, _auth(kind, wrong)):
            assert r.status_code == 401, (wrong, r.request.url, r.text)
            assert r.headers["WWW-Authenticate"] == "Bearer"
            assert KEY not in r.text
    assert c.get("/v1/stories").json()["total"] == 0, "a refused write stored something"
    codes = [r.status_code for r in _writes(c, _auth(kind, KEY))]
    assert codes == [200, 200, 200], codes
    assert c.get("/v1/stories").json()["total"] == 2


def test_bearer_scheme_is_case_insensitive_and_both_headers_work_alone(make_client):
    c = make_client(api_key=KEY)
    for headers in ({"Authorization": f"bearer {KEY}"}, {"Authorization": f"BEARER  {KEY} "}, {"X-API-Key": KEY}):
        assert c.post("/v1/clusters/refit", headers=headers).status_code == 200, headers
    # another scheme is not a bearer token, even with the right secret
    assert c.post("/v1/clusters/refit", headers={"Authorization": f"Basic {KEY}"}).status_code == 401


def test_reads_and_dedup_check_are_open_by_default_even_with_a_key(make_client):
    c = make_client(api_key=KEY)
    assert c.post("/v1/headlines", json={"headlines": [HEADLINE]}, headers=_auth("bearer", KEY)).status_code == 200
    codes = [r.status_code for r in _reads(c, {})]
    # /v1/clusters/1: no topic was fitted from one headline; 404 says the read itself was allowed
    assert codes[:4] == [200, 200, 200, 200] and codes[4] in (200, 404) and codes[5] == 200, codes


@pytest.mark.parametrize("kind", ["bearer", "x-api-key"])
def test_protect_reads_closes_reads_and_the_check(make_client, kind):
    c = make_client(api_key=KEY, protect_reads=True)
    assert c.post("/v1/headlines", json={"headlines": [HEADLINE]}, headers=_auth(kind, KEY)).status_code == 200
    for wrong in (None, "nope", KEY[:-1]):
        assert [r.status_code for r in _reads(c, _auth(kind, wrong))] == [401] * 6
    codes = [r.status_code for r in _reads(c, _auth(kind, KEY))]
    assert codes[:4] == [200, 200, 200, 200] and codes[4] in (200, 404) and codes[5] == 200, codes
    # the probes a container runtime and Prometheus call carry no key, so they stay open
    assert c.get("/livez").status_code == 200 and c.get("/readyz").status_code == 200
    assert c.get("/metrics").status_code == 200


def test_no_key_configured_means_open(client):
    assert all(r.status_code == 200 for r in _writes(client, {}))


def test_the_key_is_not_in_any_response(make_client):
    c = make_client(api_key=KEY, protect_reads=True)
    h = _auth("bearer", KEY)
    c.post("/v1/headlines", json={"headlines": [HEADLINE]}, headers=h)
    bodies = [r.text for r in _reads(c, h) + _writes(c, h) + _reads(c, {"X-API-Key": "bad"})]
    bodies += [c.get(p, headers=h).text for p in ("/metrics", "/openapi.json", "/readyz", "/", "/plugin.js")]
    assert not [b for b in bodies if KEY in b]


#: bodies a write route refuses when it reads them: (what, content type, body); each would be a 4xx of its own
BAD_BODIES = [
    ("bad JSON", "application/json", b'{"headlines": [{"title": "Le Maroc",}]}'),
    ("wrong content type", "application/x-www-form-urlencoded", b"title=Le+Maroc"),
    ("no content type", None, b'{"headlines": []}'),
    ("invalid UTF-8", "application/json", b'{"title": "Le Maroc \xff"}'),
    ("over the size limit", "application/json", b'{"title": "' + b"x" * 30_000 + b'"}'),
]


def _post_operations(c) -> list[str]:
    return [path for path, ops in c.app.openapi()["paths"].items() if "post" in ops]


@pytest.mark.parametrize("protect_reads", [False, True], ids=["writes", "protected-reads"])
def test_a_request_without_the_key_is_401_before_its_body_is_looked_at(make_client, protect_reads):
    # Without the key a caller learns nothing from the body checks, and the service reads no body for it.
    c = make_client(api_key=KEY, protect_reads=protect_reads, max_body_bytes=20_000)
    posts = _post_operations(c)
    assert {"/v1/headlines", "/v1/ticker", "/v1/clusters/refit", "/v1/retention/run", "/v1/dedup/check"} <= set(posts)
    guarded = [p for p in posts if protect_reads or p != "/v1/dedup/check"]
    for path in guarded:
        for what, ctype, body in BAD_BODIES:
            for key in (None, "nope"):
                headers = {**({"Content-Type": ctype} if ctype else {}), **_auth("x-api-key", key)}
                r = c.post(path, content=body, headers=headers)
                assert r.status_code == 401, (path, what, key, r.status_code, r.text[:200])
                assert r.headers["WWW-Authenticate"] == "Bearer" and "API key" in r.json()["detail"]
            # streamed, without a Content-Length: refused before a byte of it is read
            r = c.post(path, content=_chunks(body), headers={"Content-Type": ctype or "application/json"})
            assert r.status_code == 401, (path, what, "chunked", r.status_code)
    # with the key, the body checks answer as before
    h = _auth("bearer", KEY)
    bad_json = BAD_BODIES[0][2]
    assert (
        c.post("/v1/headlines", content=bad_json, headers={"Content-Type": "application/json", **h}).status_code == 422
    )
    assert c.post("/v1/headlines", content=b"x", headers={"Content-Type": "text/plain", **h}).status_code == 415
    assert c.post("/v1/ticker", content=b"\xff", headers={"Content-Type": "text/plain", **h}).status_code == 400
    assert c.post("/v1/ticker", content=b"x" * 30_000, headers={"Content-Type": "text/plain", **h}).status_code == 413
    assert c.get("/v1/stories", headers=h).json()["total"] == 0


# --- CORS -----------------------------------------------------------------------------------------


def _preflight(c, origin: str, method: str = "POST", headers: str = "content-type, x-api-key"):
    return c.options(
        "/v1/dedup/check",
        headers={"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers},
    )


def test_cors_preflight_allowed_origin_only(make_client):
    c = make_client(api_key=KEY, cors_origins=(ORIGIN, "https://other.example.ma"))
    r = _preflight(c, ORIGIN)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == ORIGIN
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "x-api-key", "content-type"} <= allowed
    for bad in ("https://evil.example.com", "https://cms.example.ma.evil.com", "http://cms.example.ma", "null"):
        r = _preflight(c, bad)
        assert "access-control-allow-origin" not in r.headers, bad
        assert r.status_code >= 400, bad
    # a method the API does not allow cross-origin: the preflight fails, so the browser never sends it
    r = _preflight(c, ORIGIN, method="DELETE")
    assert r.status_code == 400 and "DELETE" not in r.headers.get("access-control-allow-methods", "")


def test_cors_actual_requests(make_client):
    c = make_client(cors_origins=(ORIGIN,))
    r = c.get("/v1/clusters", headers={"Origin": ORIGIN})
    assert r.headers["access-control-allow-origin"] == ORIGIN
    assert "etag" in r.headers["access-control-expose-headers"].lower()
    r = c.get("/v1/clusters", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in r.headers


def test_cors_headers_on_errors_from_the_body_guard(make_client):
    # The CMS plugin must be able to read a 413/415 (not see an opaque CORS failure), like any other error.
    c = make_client(cors_origins=(ORIGIN,), max_body_bytes=1000)
    r = c.post(
        "/v1/dedup/check",
        content=b'{"title": "' + b"x" * 2000 + b'"}',
        headers={"Origin": ORIGIN, "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.headers.get("access-control-allow-origin") == ORIGIN
    r = c.post("/v1/dedup/check", content=b"x", headers={"Origin": ORIGIN, "Content-Type": "text/plain"})
    assert r.status_code == 415 and r.headers.get("access-control-allow-origin") == ORIGIN


def test_no_cors_origins_means_no_cors_headers(client):
    r = _preflight(client, ORIGIN)
    assert "access-control-allow-origin" not in r.headers
    assert "access-control-allow-origin" not in client.get("/v1/clusters", headers={"Origin": ORIGIN}).headers


# --- limits ---------------------------------------------------------------------------------------


def _chunks(data: bytes, size: int = 4096):
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize(
    "path, ctype",
    [("/v1/headlines", "application/json"), ("/v1/ticker", "text/plain"), ("/v1/dedup/check", "application/json")],
)
def test_body_limit_with_and_without_content_length(make_client, path, ctype):
    c = make_client(max_body_bytes=20_000)
    body = json.dumps({"headlines": [{"title": "z" * 500}] * 60}).encode()  # ~32 kB
    r = c.post(path, content=body, headers={"Content-Type": ctype})
    assert r.status_code == 413, r.text
    # chunked: no Content-Length to refuse up front; the guard counts bytes as they come
    r = c.post(path, content=_chunks(body), headers={"Content-Type": ctype})
    assert "content-length" not in {k.lower() for k in r.request.headers}
    assert r.status_code == 413, r.text
    assert c.get("/v1/stories").json()["total"] == 0


def test_body_just_under_the_limit_is_read(make_client):
    c = make_client(max_body_bytes=20_000)
    body = json.dumps({"headlines": [{"title": f"Titre numéro {i} sur le Maroc"} for i in range(10)]}).encode()
    padded = body + b" " * (20_000 - len(body))
    assert (
        c.post("/v1/headlines", content=_chunks(padded), headers={"Content-Type": "application/json"}).status_code
        == 200
    )


def test_title_length_limit_everywhere(make_client):
    c = make_client(max_title_chars=50)
    words = ("Le Maroc et la CAF " * 5)[:51]
    ok, long = words[:50], words
    assert c.post("/v1/headlines", json={"headlines": [{"title": ok}]}).status_code == 200
    r = c.post("/v1/headlines", json={"headlines": [{"title": long}]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "headlines", 0, "title"]
    r = c.post("/v1/dedup/check", json={"title": long})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "title"]
    r = c.post(
        "/v1/ticker", content=f"Un titre court sur la CAF\n{long}".encode(), headers={"Content-Type": "text/plain"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", 1]
    # the limit counts characters, not bytes: 50 Arabic letters (100 bytes of UTF-8) pass
    assert c.post("/v1/dedup/check", json={"title": "ب" * 50}).status_code == 200


def test_batch_limit_for_captures(make_client):
    c = make_client(max_batch_size=3)
    capture = "\n".join(f"Dépêche numéro {i} sur le Maroc et la CAF" for i in range(4))
    r = c.post("/v1/ticker", content=capture.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 422 and "limit is 3" in r.text
    assert c.get("/v1/stories").json()["total"] == 0
    r = c.post("/v1/headlines", json={"headlines": [{"title": f"Dépêche {i} sur la CAF"} for i in range(3)]})
    assert r.status_code == 200


def test_rate_limit_counts_per_client_address_not_per_key(make_client):
    c = make_client(dedup_rate_per_minute=2, api_key=KEY)
    codes = [
        c.post("/v1/dedup/check", json={"title": "Un titre sur la CAF"}, headers={"X-API-Key": k}).status_code
        for k in (KEY, "fresh-1", "fresh-2")
    ]
    assert codes == [200, 200, 429]
    r = c.post("/v1/dedup/check", json={"title": "Un titre sur la CAF"})
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 30
    # writes are not rate limited by the dedup bucket
    assert c.post("/v1/headlines", json={"headlines": [HEADLINE]}, headers={"X-API-Key": KEY}).status_code == 200


def test_rate_limiter_refills_and_keeps_clients_apart():
    from app.api.ratelimit import RateLimiter

    now = [1000.0]
    rl = RateLimiter(60, clock=lambda: now[0])  # one token a second, bursts of 60
    assert all(rl.take("a") == 0.0 for _ in range(60))
    wait = rl.take("a")
    assert 0.0 < wait <= 1.0
    assert rl.take("b") == 0.0  # another client has its own bucket
    now[0] += wait
    assert rl.take("a") == 0.0 and rl.take("a") > 0.0
    now[0] += 3600
    assert all(rl.take("a") == 0.0 for _ in range(60))  # refilled, but never beyond the burst
    assert rl.take("a") > 0.0


# --- logs of the real server ----------------------------------------------------------------------


@pytest.mark.slow
def test_the_key_never_reaches_the_logs(tmp_path: Path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TICKER_DATA_DIR": str(tmp_path / "data"),
        "TICKER_API_KEY": KEY,
        "TICKER_LOG_LEVEL": "debug",
        "TICKER_REFIT_EVERY_SECONDS": "3600",
    }
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        # trace is uvicorn's most verbose level (below debug): it logs every ASGI message of every request
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "trace",
            ],
            cwd=ROOT,
            env=env,
            stdout=fo,
            stderr=fe,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, err.read_text(errors="replace")[-2000:]
                assert time.monotonic() < deadline, "server not ready"
                try:
                    if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            with httpx.Client(base_url=url, timeout=30) as c:
                codes = [
                    r.status_code
                    for kind in ("bearer", "x-api-key")
                    for k in (KEY, KEY[:-1], "x" + KEY)
                    for r in _writes(c, _auth(kind, k))
                ]
                codes += [r.status_code for r in _reads(c, _auth("bearer", KEY))]
                # a key in the wrong place (a query string is logged by the access log) is simply not accepted
                codes.append(c.post(f"/v1/clusters/refit?api_key={KEY[:4]}").status_code)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert codes.count(401) == 2 * 2 * 3 + 1 and 500 not in codes, codes
    logs = out.read_text(errors="replace") + err.read_text(errors="replace")
    assert "POST /v1/headlines" in logs and "TRACE" in logs, logs[-2000:]  # the logs are really there
    assert "ready: encoder" in logs, "TICKER_LOG_LEVEL did not reach the service's own logger"
    for secret in (KEY, KEY[:-1], KEY[4:]):
        assert secret not in logs


# --- what a caller is told and sent ---------------------------------------------------------------


def test_a_failed_start_up_says_what_failed_not_where(tmp_path: Path, encoder):
    from fastapi.testclient import TestClient

    from app.config import load_settings
    from app.main import create_app

    blocker = tmp_path / "ticker-blocking-file"
    blocker.write_text("a file where the data directory should be")
    app = create_app(load_settings(env={}, data_dir=blocker / "ticker-data-subdir"), encoder=encoder, wait_ready=True)
    with TestClient(app) as c:
        assert app.state.ticker.startup_error
        responses = [
            c.get("/readyz"),
            c.get("/v1/stories"),
            c.get("/v1/stories/1"),
            c.get("/v1/headlines/1"),
            c.get("/v1/clusters"),
            c.post("/v1/headlines", json={"headlines": [HEADLINE]}),
            c.post("/v1/dedup/check", json={"title": HEADLINE["title"]}),
        ]
    assert [r.status_code for r in responses] == [503] * len(responses)
    parts = [part for part in blocker.parts if len(part) > 3] + ["ticker-data-subdir", "sqlite3"]
    for r in responses:
        detail = r.json()["detail"]
        assert "start-up failed" in detail and "store" in detail, detail
        assert not [part for part in parts if part in r.text], (r.url, r.text)


def test_api_docs_load_nothing_from_other_hosts(client):
    import re
    from urllib.parse import urljoin

    for page, asset_types in (
        ("/docs", {".js": "javascript", ".css": "text/css", ".png": "image/png"}),
        ("/redoc", {".js": "javascript", ".png": "image/png"}),
    ):
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), page
        html = r.text
        # and the browser is told to fetch nothing from elsewhere, whatever the page's scripts hold
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "img-src 'self' data:" in csp and "http" not in csp, csp
        assert not re.findall(r"""(?:https?:)?//[^\s'"<>]+""", html), (page, re.findall(r"(?:https?:)?//\S+", html))
        assets = re.findall(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']""", html)
        assets += re.findall(r"""\burl\s*:\s*["']([^"']+)["']""", html)  # the schema the page fetches
        assert assets, html
        seen = set()
        for asset in assets:
            got = client.get(urljoin(f"http://testserver{page}", asset))
            assert got.status_code == 200, (page, asset, got.status_code)
            ext = next((e for e in asset_types if asset.endswith(e)), None)
            ctype = got.headers["content-type"]
            if ext:
                assert asset_types[ext] in ctype, (asset, ctype)
                seen.add(ext)
            else:
                assert asset.endswith("openapi.json") and ctype.startswith("application/json"), (asset, ctype)
        assert seen == set(asset_types), (page, seen)
