"""The newsroom client and CLI against a small fake of the public API.

Two fakes: ``httpx.MockTransport`` for exact control of failures (connect errors, timeouts), and a tiny
FastAPI app served by uvicorn on 127.0.0.1 in a thread, so the CLI is exercised over real HTTP.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from app.client import (
    CheckResult,
    HeadlineIn,
    TickerClient,
    TickerConnectionError,
    TickerError,
)
from app.client.cli import main, read_headlines
from app.client.client import RetryPolicy, parse_retry_after

REPO = Path(__file__).resolve().parents[1]

# --- a fake service over real HTTP ----------------------------------------------------------------

fastapi = pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
# module level: the routes' string annotations (PEP 563) are resolved against module globals
from fastapi import FastAPI, Request  # noqa: E402
from fastapi.responses import JSONResponse  # noqa: E402


class FakeState:
    """What the fake server knows; tests queue failures and read what was received."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.fail_queue: list[tuple[int, dict[str, str]]] = []
        self.requests: list[dict[str, Any]] = []
        self.seen: dict[str, int] = {}
        self.api_key: str | None = None

    def next_failure(self) -> tuple[int, dict[str, str]] | None:
        with self.lock:
            return self.fail_queue.pop(0) if self.fail_queue else None


def _fake_app(state: FakeState) -> Any:
    app = FastAPI()

    def gate(request: Request, body: Any) -> JSONResponse | None:
        state.requests.append({"path": request.url.path, "headers": dict(request.headers), "body": body})
        failure = state.next_failure()
        if failure:
            status, headers = failure
            return JSONResponse({"detail": "induced failure"}, status_code=status, headers=headers)
        if state.api_key and request.headers.get("x-api-key") != state.api_key:
            return JSONResponse({"detail": "invalid API key"}, status_code=401)
        return None

    @app.post("/v1/dedup/check")
    async def check(request: Request) -> Any:
        body = await request.json()
        if (denied := gate(request, body)) is not None:
            return denied
        title = body.get("title", "")
        if len(title) < 3:
            return JSONResponse(
                {"detail": [{"loc": ["body", "title"], "msg": "too short", "type": "value_error"}]},
                status_code=422,
            )
        # a story is "known" when its normalised title was ingested, or mentions Sahara
        key = title.casefold().strip()
        story = state.seen.get(key) or (7 if "sahara" in key else None)
        matches = []
        if story is not None:
            matches = [
                {
                    "headline_id": 70,
                    "story_id": story,
                    "title": "Sahara : <b>soutien</b> renouvelé",
                    "lang": "fr",
                    "source": "Hespress FR",
                    "published_at": "2025-03-01T10:00:00Z",
                    "score": 0.91,
                    "terms": {"cosine": 0.62, "entity": 0.29},
                    "extra_field_from_future": True,
                },
                {
                    "headline_id": 71,
                    "story_id": story,
                    "title": "الصحراء: دعم متجدد",
                    "lang": "ar",
                    "source": "Le360",
                    "published_at": "2025-03-01T11:00:00Z",
                    "score": 0.77,
                },
            ]
        return {
            "duplicate": story is not None,
            "story_id": story,
            "match": "translation" if story is not None else None,
            "score": 0.91 if story is not None else 0.12,
            "threshold": 0.5,
            "lang": body.get("lang") or "fr",
            "matches": matches,
        }

    @app.post("/v1/headlines")
    async def headlines(request: Request) -> Any:
        body = await request.json()
        if (denied := gate(request, body)) is not None:
            return denied
        results = []
        for i, h in enumerate(body["headlines"]):
            key = h["title"].casefold().strip()
            dup = key in state.seen
            story = state.seen.setdefault(key, 100 + len(state.seen))
            results.append(
                {
                    "headline_id": 1000 + len(state.requests) * 100 + i,
                    "lang": h.get("lang") or "fr",
                    "story_id": story,
                    "duplicate": dup,
                    "match": "exact" if dup else None,
                    "score": 1.0 if dup else None,
                    "idempotent_replay": False,
                }
            )
        return {"results": results}

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, FakeState]]:
    state = FakeState()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(_fake_app(state), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("fake server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", state
    finally:
        srv.should_exit = True
        thread.join(timeout=5)
        sock.close()


@pytest.fixture()
def fake(server: tuple[str, FakeState]) -> Iterator[tuple[str, FakeState]]:
    url, state = server
    state.reset()
    yield url, state
    state.reset()


def _no_sleep(record: list[float]) -> Any:
    return record.append


# --- client over real HTTP ------------------------------------------------------------------------


def test_check_parses_contract_json(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    with TickerClient(url) as client:
        new = client.check("Un titre sans rapport avec rien")
        dup = client.check("Le Sahara marocain : nouveau soutien", lang="fr")
    assert isinstance(new, CheckResult) and not new.duplicate and new.matches == []
    assert dup.duplicate and dup.story_id == 7 and dup.match == "translation"
    assert [m.lang for m in dup.matches] == ["fr", "ar"]
    assert dup.matches[0].title == "Sahara : <b>soutien</b> renouvelé"
    assert dup.matches[0].terms == {"cosine": 0.62, "entity": 0.29} and dup.matches[1].terms == {}
    assert state.requests[1]["body"] == {"title": "Le Sahara marocain : nouveau soutien", "lang": "fr"}
    assert "lang" not in state.requests[0]["body"]


def test_ingest_accepts_dicts_and_dataclasses_and_batches(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    published = datetime(2025, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    items: list[Any] = [
        {"title": "Le Maroc exporte des câbles", "source": "A", "ignored": 1},
        HeadlineIn(title="Le Maroc exporte des câbles", source="B", published_at=published),
        {"title": "Alerte météo à Rabat", "id": "x-1"},
    ]
    with TickerClient(url, batch_size=2) as client:
        results = client.ingest(items)
    assert [r.duplicate for r in results] == [False, True, False]
    assert results[1].match == "exact" and results[0].story_id == results[1].story_id
    assert len(state.requests) == 2, "three headlines in batches of two make two requests"
    first, second = (r["body"]["headlines"] for r in state.requests)
    assert first[0] == {"title": "Le Maroc exporte des câbles", "source": "A"}
    assert first[1]["published_at"] == "2025-03-01T08:30:00Z"
    assert second == [{"title": "Alerte météo à Rabat", "id": "x-1"}]


def test_api_key_is_sent(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.api_key = "s3cret"
    with TickerClient(url) as client, pytest.raises(TickerError) as err:
        client.check("Un titre assez long pour tester")
    assert err.value.status_code == 401 and "invalid API key" in str(err.value)
    with TickerClient(url, api_key="s3cret") as client:
        assert client.check("Un titre assez long pour tester").duplicate is False
    assert state.requests[-1]["headers"]["x-api-key"] == "s3cret"


def test_retries_5xx_and_429_honouring_retry_after(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.fail_queue = [(503, {}), (429, {"Retry-After": "2"}), (502, {})]
    slept: list[float] = []
    with TickerClient(url, retries=3, backoff=0.1, sleep=slept.append) as client:
        result = client.check("Le Sahara est à l'ordre du jour")
    assert result.duplicate
    assert len(state.requests) == 4
    assert slept[1] == 2.0, "Retry-After seconds are honoured as given"
    assert 0.05 <= slept[0] <= 0.1 and 0.2 <= slept[2] <= 0.4, "exponential backoff with jitter"


def test_gives_up_after_retries_with_status(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    state.fail_queue = [(500, {})] * 5
    slept: list[float] = []
    with TickerClient(url, retries=2, sleep=slept.append) as client, pytest.raises(TickerError) as err:
        client.check("Le Sahara est à l'ordre du jour")
    assert err.value.status_code == 500 and len(state.requests) == 3 and len(slept) == 2


def test_4xx_is_not_retried_and_reads_validation_detail(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    slept: list[float] = []
    with TickerClient(url, sleep=slept.append) as client, pytest.raises(TickerError) as err:
        client.check("ab")
    assert err.value.status_code == 422
    assert str(err.value) == "HTTP 422: title: too short"
    assert len(state.requests) == 1 and slept == []


def test_connection_refused_is_retried_then_raises() -> None:
    slept: list[float] = []
    url = f"http://127.0.0.1:{_free_port()}"
    with TickerClient(url, retries=2, sleep=slept.append) as client:
        with pytest.raises(TickerConnectionError, match="cannot reach"):
            client.check("Personne n'écoute sur ce port")
    assert len(slept) == 2


# --- failure modes that need exact control: MockTransport -----------------------------------------


def _mock_client(handler: Any, **kw: Any) -> tuple[TickerClient, list[float]]:
    slept: list[float] = []
    client = TickerClient("http://ticker.test", transport=httpx.MockTransport(handler), sleep=slept.append, **kw)
    return client, slept


CHECK_OK = {
    "duplicate": False,
    "story_id": None,
    "match": None,
    "score": None,
    "threshold": 0.5,
    "lang": "fr",
    "matches": [],
}


def test_connect_error_then_success() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=CHECK_OK)

    client, slept = _mock_client(handler, retries=3)
    assert client.check("Le service revient après une panne").duplicate is False
    assert len(calls) == 3 and len(slept) == 2


def test_read_timeout_retried_only_when_idempotent() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        body = json.loads(request.content)
        return httpx.Response(
            200,
            json={
                "results": [
                    {
                        "headline_id": 1,
                        "lang": "fr",
                        "story_id": 1,
                        "duplicate": False,
                        "match": None,
                        "score": None,
                        "idempotent_replay": True,
                    }
                    for _ in body["headlines"]
                ]
            },
        )

    client, _ = _mock_client(handler)
    with pytest.raises(TickerConnectionError):
        client.ingest([{"title": "Sans identifiant, pas de rejeu sûr"}])
    assert calls == ["/v1/headlines"], "a batch without ids is not replayed after a read timeout"

    calls.clear()
    (result,) = client.ingest([{"title": "Avec identifiant", "id": "cms-42"}])
    assert len(calls) == 2 and result.idempotent_replay


def test_unexpected_response_shape_is_a_ticker_error() -> None:
    client, _ = _mock_client(lambda r: httpx.Response(200, json={"results": [{"nope": 1}]}))
    with pytest.raises(TickerError, match="unexpected response"):
        client.ingest([{"title": "Un titre quelconque"}])
    client, _ = _mock_client(lambda r: httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(TickerError, match="expected JSON"):
        client.check("Un titre quelconque")


def test_parse_retry_after_forms() -> None:
    now = time.time()
    in_ten = format_datetime(datetime.fromtimestamp(now + 10, tz=timezone.utc), usegmt=True)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert 8.0 <= (parse_retry_after(in_ten, now=now) or 0) <= 10.0
    assert RetryPolicy(max_retry_after=30).delay(0, retry_after=3600) == 30


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_check_exit_codes_and_lines(fake: tuple[str, FakeState], capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = fake
    assert main(["check", "Un titre tout à fait nouveau", "--url", url]) == 0
    assert capsys.readouterr().out.startswith("NEW")
    assert main(["check", "Sahara : soutien renouvelé", "--url", url, "--lang", "fr"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("DUPLICATE  story 7  match=translation")
    # a service without `same_story` / `verdict`: one line per match all the same, the decided story's as such
    lines = out.splitlines()[1:]
    assert len(lines) == 2 and all("· same story ·" in line for line in lines)
    assert "Ran " in lines[0] and "on Hespress FR" in lines[0] and lines[1].endswith("الصحراء: دعم متجدد")


def test_format_check_one_line_per_match() -> None:
    from app.client.cli import format_check

    now = datetime(2025, 3, 1, 10, 37, tzinfo=timezone.utc)
    result = CheckResult.from_json(
        {
            "duplicate": False,
            "story_id": None,
            "match": None,
            "score": 0.7,
            "threshold": 0.744,
            "lang": "fr",
            "verdict": "possible",
            "confidence": 0.41,
            "closest_story_id": 7,
            "matches": [
                {
                    "headline_id": 1,
                    "story_id": 7,
                    "title": "Sahara : soutien",
                    "lang": "fr",
                    "source": "le360",
                    "published_at": "2025-03-01T10:00:00Z",
                    "url": "https://le360.ma/x",
                    "score": 0.7,
                    "same_story": True,
                    "copies": 3,
                },
                {
                    "headline_id": 2,
                    "story_id": 8,
                    "title": "Autre chose",
                    "lang": "fr",
                    "source": "x",
                    "published_at": None,
                    "received_at": "2025-03-01T08:37:00Z",
                    "score": 0.5,
                    "same_story": False,
                },
                {
                    "headline_id": 3,
                    "story_id": 7,
                    "title": "الصحراء",
                    "lang": "ar",
                    "source": "Hespress",
                    "published_at": "2025-02-27T10:37:00Z",
                    "score": 0.6,
                    "same_story": True,
                },
            ],
        }
    )
    head, *lines = format_check(result, now=now).splitlines()
    assert head.startswith("POSSIBLE  maybe story 7  confidence 0.41")
    assert lines == [
        "  [FR] · same story · Ran 37 min ago on le360 · https://le360.ma/x · same text x3 · story 7 · Sahara : soutien",
        "  [AR] · same story · Ran 2 days ago on Hespress · story 7 · الصحراء",
        "  [FR] · related, not the same story · Ran 2 h ago on x · story 8 · Autre chose",
    ]


def test_format_check_says_every_language_the_story_ran_in() -> None:
    """One line under the verdict: the story's languages (all of them, from `story`, not only the top
    matches'), its id, headlines and outlets; none for a `new` verdict or a service without `story`."""
    from app.client.cli import format_check

    now = datetime(2025, 3, 1, 10, 37, tzinfo=timezone.utc)
    match = {
        "headline_id": 1,
        "story_id": 7,
        "title": "Sahara : soutien",
        "lang": "fr",
        "source": "le360",
        "published_at": "2025-03-01T10:00:00Z",
        "score": 1.9,
        "same_story": True,
    }
    answer = {
        "duplicate": True,
        "story_id": 7,
        "match": "near",
        "score": 1.9,
        "threshold": 0.744,
        "lang": "fr",
        "verdict": "duplicate",
        "confidence": 0.99,
        "closest_story_id": 7,
        "matches": [match],
        "story": {
            "id": 7,
            "size": 9,
            "n_sources": 7,
            "languages": ["fr", "es", "en", "ar"],
            "first_seen": "2025-03-01T09:00:00Z",
            "last_seen": "2025-03-01T10:30:00Z",
            "versions": [
                {"headline_id": 1, "title": "Sahara : soutien", "lang": "fr", "source": "le360", "url": None},
                {"headline_id": 4, "title": "Sahara: apoyo", "lang": "es", "source": "x", "url": "https://x.ma/es"},
                {"headline_id": 5, "title": "Sahara: support", "lang": "en", "source": "y"},
                {
                    "headline_id": 6,
                    "title": "الصحراء: دعم",
                    "lang": "ar",
                    "source": "z",
                    "received_at": "2025-03-01T10:30:00Z",
                },
            ],
        },
    }
    result = CheckResult.from_json(answer)
    assert result.story is not None and [v.lang for v in result.story.versions] == ["fr", "es", "en", "ar"]
    assert result.story.versions[1].url == "https://x.ma/es" and result.to_json()["story"]["size"] == 9
    head, story, *lines = format_check(result, now=now).splitlines()
    assert head.startswith("DUPLICATE  story 7")
    assert story == "  Ran in: FR, ES, EN, AR (story 7, 9 headlines, 7 outlets)"
    assert lines == ["  [FR] · same story · Ran 37 min ago on le360 · story 7 · Sahara : soutien"]
    one = {**answer["story"], "size": 1, "n_sources": 1, "languages": ["fr"]}
    possible = {**answer, "duplicate": False, "story_id": None, "verdict": "possible", "story": one}
    assert format_check(CheckResult.from_json(possible), now=now).splitlines()[1] == (
        "  Ran in: FR (story 7, 1 headline, 1 outlet)"
    )
    new = {**answer, "duplicate": False, "story_id": None, "verdict": "new", "confidence": 0.1}
    assert "Ran in" not in format_check(CheckResult.from_json(new), now=now)
    older = {k: v for k, v in answer.items() if k != "story"}
    assert CheckResult.from_json(older).story is None and "Ran in" not in format_check(CheckResult.from_json(older))


def test_cli_check_json_output(fake: tuple[str, FakeState], capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = fake
    assert main(["check", "Sahara : soutien renouvelé", "--url", url, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["duplicate"] is True and data["story_id"] == 7
    assert [m["source"] for m in data["matches"]] == ["Hespress FR", "Le360"]
    assert "extra_field_from_future" not in data["matches"][0]


def test_cli_errors_exit_2(fake: tuple[str, FakeState], capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = fake
    assert main(["check", "ab", "--url", url]) == 2
    assert "HTTP 422" in capsys.readouterr().err
    dead = f"http://127.0.0.1:{_free_port()}"
    assert main(["check", "Un titre quelconque ici", "--url", dead, "--retries", "0"]) == 2
    assert "cannot reach" in capsys.readouterr().err
    assert main(["check"]) == 2, "usage errors are errors too"


def test_cli_url_and_key_from_environment(
    fake: tuple[str, FakeState], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url, state = fake
    state.api_key = "k"
    monkeypatch.setenv("TICKER_URL", url)
    monkeypatch.setenv("TICKER_API_KEY", "k")
    assert main(["check", "Un titre tout à fait nouveau"]) == 0
    assert state.requests[-1]["headers"]["x-api-key"] == "k"


def test_cli_ingest_file_and_stdin(
    fake: tuple[str, FakeState],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, state = fake
    path = tmp_path / "batch.json"
    path.write_text(
        json.dumps(
            {"headlines": [{"title": "Tempête sur le Rif", "source": "SNRTnews"}, {"title": "Tempête sur le Rif"}]}
        )
    )
    assert main(["ingest", str(path), "--url", url, "--source", "CLI"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 headlines: 1 new, 1 duplicates (1 exact)")
    sent = state.requests[-1]["body"]["headlines"]
    assert [h["source"] for h in sent] == ["SNRTnews", "CLI"], "--source only fills missing sources"

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"title": "Tempête sur le Rif"}\n"Nouveau titre"\n'))
    assert main(["ingest", "-", "--url", url, "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["duplicate"] for r in results] == [True, False]


def test_cli_ingest_rejects_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text('[{"source": "no title"}]')
    assert main(["ingest", str(path), "--url", "http://127.0.0.1:9"]) == 2
    assert "title" in capsys.readouterr().err
    assert main(["ingest", str(tmp_path / "missing.json")]) == 2


def test_read_headlines_formats() -> None:
    assert [h.title for h in read_headlines(io.StringIO('["a", {"title": "b"}]'))] == ["a", "b"]
    assert read_headlines(io.StringIO('{"title": "c", "lang": "ar"}'))[0].lang == "ar"
    with pytest.raises(ValueError):
        read_headlines(io.StringIO("{not json"))


def test_cli_process_exit_code(fake: tuple[str, FakeState]) -> None:
    """The real process exit status, as a shell script would see it."""
    url, _ = fake
    env = {**os.environ, "PYTHONPATH": str(REPO), "TICKER_URL": url}
    proc = subprocess.run(
        [sys.executable, "-m", "app.client.cli", "check", "Sahara : soutien renouvelé", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["duplicate"] is True


# --- the CLI against the real service (python -m app on loopback) ---------------------------------


@pytest.mark.slow
def test_cli_against_the_real_service(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from server import Server

    now = datetime.now(timezone.utc)
    env = {
        "TICKER_DATA_DIR": str(tmp_path / "data"),
        "TICKER_LOAD_SAMPLE_DATA": "0",
        "TICKER_API_KEY": "",
        "TICKER_LOG_LEVEL": "warning",
    }
    fr = "Sultana Khaya sort du silence et dément toute «scission» avec le Polisario"
    with Server(env).start(90.0) as srv:
        r = httpx.post(
            srv.url + "/v1/headlines",
            timeout=30,
            json={
                "headlines": [
                    {
                        "title": fr,
                        "source": "le360",
                        "url": "https://fr.le360.ma/khaya",
                        "published_at": (now - timedelta(minutes=37)).isoformat(),
                        "lang": "fr",
                    },
                    {
                        "title": fr,
                        "source": "hespress-fr",
                        "published_at": (now - timedelta(minutes=20)).isoformat(),
                        "lang": "fr",
                    },
                    {
                        "title": "Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario",
                        "source": "le360-es",
                        "lang": "es",
                    },
                    {
                        "title": "Le Polisario accuse le Maroc lors d'une réunion à Alger",
                        "source": "alyaoum24",
                        "lang": "fr",
                    },
                ]
            },
        )
        assert r.status_code == 200, r.text
        title = "Sultana Khaya breaks her silence and denies any split with the Polisario"
        assert main(["check", title, "--url", srv.url]) == 1
        head, story_line, *lines = capsys.readouterr().out.splitlines()
        assert head.startswith("DUPLICATE  story ") and re.search(r"confidence (0\.9\d|1\.00)", head), head
        same = [line for line in lines if "· same story ·" in line]
        related = [line for line in lines if "· related, not the same story ·" in line]
        assert len(same) + len(related) == len(lines) and lines == same + related
        assert sum(fr[:60] in line for line in lines) == 1, "the same text once (titles are clipped to 70)"
        fr_line = next(line for line in lines if fr[:60] in line)
        assert fr_line.startswith("  [FR] · same story · Ran ") and "same text x2" in fr_line
        assert (
            "Ran 37 min ago on le360 · https://fr.le360.ma/khaya" in fr_line
            or "Ran 20 min ago on hespress-fr" in fr_line
        ), fr_line
        assert any(line.startswith("  [ES] · same story · Ran just now on le360-es") for line in same)
        assert any("alyaoum24" in line for line in related)
        # under the verdict, the languages the whole story ran in
        assert re.fullmatch(r"  Ran in: FR, ES \(story \d+, 3 headlines, 3 outlets\)", story_line), story_line

        # a story whose top matches are all French: the line still names every language it ran in
        from test_check_evidence import TANGER_EN, TANGER_ES, TANGER_FR

        r = httpx.post(
            srv.url + "/v1/headlines",
            timeout=30,
            json={
                "headlines": [
                    *(
                        {
                            "title": t,
                            "source": f"fr-{i}",
                            "published_at": (now - timedelta(minutes=90 - 5 * i)).isoformat(),
                        }
                        for i, t in enumerate(TANGER_FR)
                    ),
                    {"title": TANGER_ES, "source": "es-1", "published_at": (now - timedelta(minutes=40)).isoformat()},
                    {"title": TANGER_EN, "source": "en-1", "published_at": (now - timedelta(minutes=30)).isoformat()},
                ]
            },
        )
        assert r.status_code == 200 and len({x["story_id"] for x in r.json()["results"]}) == 1, r.text
        story_id = r.json()["results"][0]["story_id"]
        assert main(["check", TANGER_FR[0], "--url", srv.url]) == 1
        head, story_line, *lines = capsys.readouterr().out.splitlines()
        assert head.startswith(f"DUPLICATE  story {story_id} ")
        assert story_line == f"  Ran in: FR, ES, EN (story {story_id}, 8 headlines, 8 outlets)"
        assert len(lines) == 5 and all(line.startswith("  [FR] · same story · ") for line in lines)

        # an unknown language: exit 2, and the accepted codes said
        assert main(["check", title, "--url", srv.url, "--lang", "de"]) == 2
        err = capsys.readouterr().err
        assert "HTTP 422" in err and "lang: unknown language 'de'" in err and "fr, es, en, ar, ary" in err
