"""The README's examples give the answers it shows, on the service `make run` starts.

Every ``curl`` and ``ticker-dedup`` command in the README's ``sh`` blocks is run against the real app with the
sample data loaded as ``make run`` loads it (``TICKER_LOAD_SAMPLE_DATA``: into an empty store, its times shifted
so that the newest headline is now, then a topic refit). The comment lines under a command are its answer:

- under ``curl``, ``# -> {...}``: every ``"field": value`` written there (strings, numbers, true, false, null)
  must be in the service's JSON, and an object written inside another must be found inside the answer's
  object that holds it (``...`` stands for what is left out and is not checked);
- under ``ticker-dedup`` (or ``.venv/bin/ticker-dedup``), the CLI's first lines, read with its times ("Ran 37 min ago") left out and its
  decimals within 0.02; its exit code is 1 for a duplicate, else 0.

The examples run in the README's order on one service and in the reverse order on another, so each answer
holds whether or not the other examples were run first. docs/api.md's examples that show an answer are run
the same way.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import ROOT

README = ROOT / "README.md"

COMMANDS = ("curl ", "ticker-dedup ", ".venv/bin/ticker-dedup ")


@dataclass
class Example:
    command: str  # as written, continuation lines included
    answer: list[str]  # the comment lines under it, without their "# "
    line: int  # where it starts on its page
    page: str = "README.md"

    @property
    def where(self) -> str:
        return f"{self.page} line {self.line}: {self.command.splitlines()[0]}"


def readme_examples(text: str, page: str = "README.md") -> list[Example]:
    """Commands in ``sh`` blocks, each with the run of comment lines right under it."""
    found = []
    for block in re.finditer(r"^```(?:sh|bash)\n(.*?)^```", text, re.M | re.S):
        first = text.count("\n", 0, block.start(1)) + 1
        lines = block.group(1).splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith(COMMANDS):
                i += 1
                continue
            j = i + 1
            while j < len(lines) and lines[j].strip() and not lines[j].startswith("#"):
                j += 1
            k = j
            while k < len(lines) and lines[k].startswith("#"):
                k += 1
            answer = [line[2:] if line.startswith("# ") else line[1:] for line in lines[j:k]]
            found.append(Example("\n".join(lines[i:j]), answer, first + i, page))
            i = k
    return found


# --- curl ---------------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    target: str  # path and query
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


def parse_curl(command: str) -> Request:
    """The curl options the README uses; any other option fails the test, so that none is silently ignored."""
    args = shlex.split(command.replace("\\\n", " "))
    assert args[0] == "curl"
    method, url, headers, body = None, None, {}, None
    it = iter(args[1:])
    for arg in it:
        if arg in ("-s", "--silent", "-S", "--show-error"):
            continue
        if arg in ("-H", "--header"):
            name, _, value = next(it).partition(":")
            headers[name.strip()] = value.strip()
        elif arg in ("-d", "--data", "--data-raw", "--data-binary"):
            data = next(it)
            body = (ROOT / data[1:]).read_bytes() if data.startswith("@") else data.encode()
        elif arg in ("-X", "--request"):
            method = next(it)
        elif arg.startswith("-"):
            raise AssertionError(f"curl option {arg!r} is not one this test knows")
        else:
            assert url is None, f"two URLs in {command!r}"
            url = arg
    assert url, f"no URL in {command!r}"
    parts = urlsplit(url if "://" in url else "http://" + url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if body is not None and "Content-Type" not in headers:
        headers["Content-Type"] = "application/x-www-form-urlencoded"  # what curl sends with -d
    return Request(method or ("POST" if body is not None else "GET"), target, headers, body)


@dataclass
class Shown:
    """An object as the README shows it: some of its fields, and objects shown inside it."""

    fields: dict[str, Any] = field(default_factory=dict)
    inner: list["Shown"] = field(default_factory=list)


_STRING = r'"(?:[^"\\]|\\.)*"'
_TOKEN = re.compile(
    rf"(?P<open>\{{)|(?P<close>\}})"
    rf"|(?P<key>{_STRING})\s*:\s*(?P<value>{_STRING}|true|false|null|-?\d+(?:\.\d+)?)(?=\s*[,}}\]])"
    rf"|{_STRING}"
)


def parse_shown(text: str) -> Shown:
    """The objects and scalar fields of an abridged JSON answer (``...`` and lists of them are skipped)."""
    stack: list[Shown] = []
    root: Shown | None = None
    for m in _TOKEN.finditer(text):
        if m.group("open"):
            stack.append(Shown())
        elif m.group("close"):
            done = stack.pop()
            if stack:
                stack[-1].inner.append(done)
            else:
                assert root is None, f"two top-level objects in {text!r}"
                root = done
        elif m.group("key"):
            assert stack, f"a field outside any object in {text!r}"
            stack[-1].fields[json.loads(m.group("key"))] = json.loads(m.group("value"))
    assert root is not None and not stack, f"not an object: {text!r}"
    return root


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def _objects_inside(value: Any) -> Iterator[dict]:
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        if isinstance(child, dict):
            yield child
        yield from _objects_inside(child)


def holds(shown: Shown, obj: Any) -> bool:
    return (
        isinstance(obj, dict)
        and all(k in obj and _same(obj[k], v) for k, v in shown.fields.items())
        and all(any(holds(inner, o) for o in _objects_inside(obj)) for inner in shown.inner)
    )


def check_curl(client, example: Example) -> None:
    req = parse_curl(example.command)
    r = client.request(req.method, req.target, headers=req.headers, content=req.body)
    assert 200 <= r.status_code < 300, f"{example.where}: {r.status_code} {r.text[:500]}"
    if not example.answer:
        return
    text = " ".join(example.answer)
    assert text.startswith("->"), f"{example.where}: an answer starts with '# ->'"
    shown = parse_shown(text[2:])
    assert shown.fields or shown.inner, f"{example.where}: the answer shows nothing to check"
    got = r.json()
    assert holds(shown, got), (
        f"{example.where}: the README shows\n  {text}\nthe service answered\n  {json.dumps(got, ensure_ascii=False)[:3000]}"
    )


# --- the CLI ------------------------------------------------------------------------------------------

_DECIMAL = re.compile(r"\d+\.\d+")
_RAN = re.compile(r"Ran (?:just now|\d+ (?:min|h|days) ago)")


def same_cli_line(shown: str, printed: str) -> bool:
    """Equal once the time since a match ran is left out and decimals are read within 0.02."""
    a, b = _RAN.sub("Ran …", shown), _RAN.sub("Ran …", printed)
    if _DECIMAL.sub("#", a) != _DECIMAL.sub("#", b):
        return False
    return all(abs(float(x) - float(y)) <= 0.02 for x, y in zip(_DECIMAL.findall(a), _DECIMAL.findall(b)))


def check_cli(client, example: Example, monkeypatch) -> None:
    from app.client import cli
    from app.client.client import TickerClient

    def to_app(request: httpx.Request) -> httpx.Response:
        r = client.request(
            request.method, request.url.raw_path.decode(), headers=request.headers, content=request.content
        )
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)

    monkeypatch.setattr(
        cli, "TickerClient", lambda url, **kw: TickerClient(url, transport=httpx.MockTransport(to_app), **kw)
    )
    argv = shlex.split(example.command.replace("\\\n", " "))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(argv[1:])
    printed = out.getvalue().splitlines()
    assert example.answer, f"{example.where}: no output shown under the command"
    assert len(printed) >= len(example.answer), f"{example.where}: printed\n" + "\n".join(printed)
    for shown, line in zip(example.answer, printed):
        assert same_cli_line(shown, line), f"{example.where}: the README shows\n{shown}\nthe CLI printed\n{line}"
    if argv[1] == "check":
        assert code == (1 if example.answer[0].startswith("DUPLICATE") else 0), (example.where, code)


# --- the tests ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return readme_examples(README.read_text(encoding="utf-8"))


def test_the_readme_shows_an_ingest_a_check_and_the_clusters_with_their_answers(examples):
    runs = {
        (r.method, r.target.partition("?")[0])
        for e in examples
        if e.command.startswith("curl ") and e.answer
        for r in [parse_curl(e.command)]
    }
    assert {("POST", "/v1/headlines"), ("POST", "/v1/dedup/check"), ("GET", "/v1/clusters")} <= runs, runs
    assert any(re.match(r"(\.venv/bin/)?ticker-dedup check ", e.command) and e.answer for e in examples)


def test_the_answer_reader_fails_on_a_wrong_answer():
    shown = parse_shown('{"duplicate":true,"match":"translation","matches":[{"lang":"fr","same_story":true},...]}')
    good = {"duplicate": True, "match": "translation", "matches": [{"lang": "es"}, {"lang": "fr", "same_story": True}]}
    assert holds(shown, good)
    assert not holds(shown, {**good, "duplicate": False})
    assert not holds(shown, {**good, "duplicate": 1})
    assert not holds(shown, {**good, "matches": [{"lang": "fr", "same_story": False}]})
    assert not holds(shown, {k: v for k, v in good.items() if k != "match"})
    assert same_cli_line("DUPLICATE  story 60  (score 2.46)", "DUPLICATE  story 60  (score 2.47)")
    assert not same_cli_line("DUPLICATE  story 60  (score 2.46)", "DUPLICATE  story 61  (score 2.46)")
    assert not same_cli_line("DUPLICATE  story 60  (score 2.46)", "DUPLICATE  story 60  (score 0.46)")
    assert same_cli_line("· Ran 37 min ago on le360 ·", "· Ran 2 h ago on le360 ·")


def _make_run_service(make_client: Callable[..., Any], tmp_path, name: str):
    # what `make run` starts: TICKER_LOAD_SAMPLE_DATA=1 on an empty data directory
    return make_client(load_sample_data=True, data_dir=tmp_path / name)


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_the_readme_examples_give_the_answers_shown(examples, make_client, tmp_path, monkeypatch, order):
    client = _make_run_service(make_client, tmp_path, order.replace(" ", "-"))
    for example in examples if order == "as written" else examples[::-1]:
        if example.command.startswith("curl "):
            check_curl(client, example)
        else:
            check_cli(client, example, monkeypatch)


def test_the_api_pages_answered_examples_give_the_answers_shown(make_client, tmp_path):
    """docs/api.md's examples that show an answer (the others need ids or ETags of the reader's own service)."""
    page = ROOT / "docs" / "api.md"
    answered = [e for e in readme_examples(page.read_text(encoding="utf-8"), "docs/api.md") if e.answer]
    assert answered
    client = _make_run_service(make_client, tmp_path, "api")
    for example in answered:
        check_curl(client, example)


def test_make_run_loads_the_sample_data_and_takes_a_port():
    """The README's claims about `make run` and the CLI hold for the Makefile and pyproject."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert recipe, "no run target"
    assert "TICKER_LOAD_SAMPLE_DATA=$${TICKER_LOAD_SAMPLE_DATA:-1}" in recipe.group(1)
    assert "--port $(PORT)" in recipe.group(1) and re.search(r"^PORT \?= 8000$", makefile, re.M)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(r'^ticker-dedup = "app\.client\.cli:main"$', pyproject, re.M)
    readme = README.read_text(encoding="utf-8")
    assert "make run PORT=" in readme and "app/client/cli.py" in readme and "ticker-dedup" in readme
