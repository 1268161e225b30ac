"""The dashboard and the newsroom plugin in a real browser: Debian's chromium driven by Playwright.

One real service (uvicorn subprocess, fresh data dir) serves the whole module; it is fed through the
public API only, like a newsroom would. The story panel's corrections need an API key: a second service,
started with ``TICKER_API_KEY``, serves those tests (``keyed_api`` / ``keyed_page``). Each test opens its own
browser context, which records every request the page makes, every dialog it opens and every uncaught error.

Skips when /usr/bin/chromium or playwright is missing (scripts/install_browser.sh installs both), except
under CI=true, where a missing browser is a failure: CI must run these.
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator

import httpx
import pytest
from chromium import CHROMIUM, CHROMIUM_ARGS
from server import Server

from app.sample import shifted_batch

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1400, "height": 900}
# Dashboard URL options: poll every second, and ask for enough stories per topic to see the whole sample.
DASH = "/?interval=1&stories=200"
# The API query the dashboard makes with DASH (same parameters, hence the same ETag / version).
CLUSTERS = "/v1/clusters?stories_per_topic=200"

KHAYA_FR = "Sultana Khaya sort du silence et dément toute «scission» avec le Polisario"
KHAYA_ES = "Sultana Khaya rompe el silencio y desmiente cualquier «ruptura» con el Polisario"
KHAYA_EN = "Sultana Khaya breaks her silence and denies any split with the Polisario"
ARABIC = "وزارة التربية الوطنية تعلن عن مواعيد امتحانات البكالوريا لسنة 2026"
SEARCHED = "Éboulement à Chefchaouen : la route nationale 2 fermée à la circulation"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_SCRIPT = "<script>alert(document.domain)</script> Casablanca : le tramway T5 entre en service"
XSS_PANEL = '<img src=x onerror=alert("panel")><b>Rabat</b> : la ligne 2 du tramway prolongée jusqu\'à Témara'
#: the key of the service that takes corrections
KEY = "browser-test-key"
KEY_STORAGE = "ticker.apiKey"
#: where the dashboard keeps the time the editor last looked
LOOKED_STORAGE = "ticker.lookedAt"
UNASSIGNED_LABEL = "New, not yet grouped"


def _sync_api() -> Any:
    """playwright.sync_api, or skip (fail under CI) naming what is missing."""
    why = None
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} not installed (run scripts/install_browser.sh)"
    else:
        try:
            import playwright.sync_api as sync_api
        except ImportError:
            why = "playwright not installed (run scripts/install_browser.sh)"
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {why}")
        pytest.skip(why)
    return sync_api


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.2) -> Any:
    """Retry ``check`` (which asserts) until it passes or ``timeout`` runs out; then re-raise its error."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(interval)


# ---- the service ------------------------------------------------------------------------------------
class Api:
    """The module's service, reached through its public API. The offline test kills it; the next
    test that needs it gets it back (same data dir, same port), so tests do not depend on their order."""

    def __init__(self, env: dict[str, str], key: str | None = None) -> None:
        self.env = env
        self.server = Server(env).start(90.0)
        self.url = self.server.url
        self.http = httpx.Client(base_url=self.url, timeout=60.0, headers={"X-API-Key": key} if key else None)

    def ensure_alive(self) -> None:
        if self.server.proc is not None and self.server.proc.poll() is None:
            return
        self.server.stop()
        self.server = Server(self.env, port=self.server.port).start(90.0)

    def close(self) -> None:
        self.http.close()
        self.server.stop()

    def post(self, headlines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        r = self.http.post("/v1/headlines", json={"headlines": headlines})
        assert r.status_code == 200, r.text
        return r.json()["results"]

    def refit(self) -> None:
        # 409: the background refit (triggered by the ingest) is running; wait for ours to go through.
        def go() -> None:
            r = self.http.post("/v1/clusters/refit")
            assert r.status_code == 200, r.text

        eventually(go, timeout=30.0, interval=0.3)

    def clusters(self) -> dict[str, Any]:
        r = self.http.get(CLUSTERS)
        assert r.status_code == 200, r.text
        return r.json()

    def stories(self, **params: Any) -> dict[str, Any]:
        """``GET /v1/stories`` with these parameters (every page of it when ``limit`` is not given)."""
        if "limit" in params:
            r = self.http.get("/v1/stories", params=params)
            assert r.status_code == 200, r.text
            return r.json()
        out: list[dict[str, Any]] = []
        while True:
            r = self.http.get("/v1/stories", params={**params, "limit": 500, "offset": len(out)})
            assert r.status_code == 200, r.text
            body = r.json()
            out += body["stories"]
            if not body["stories"] or len(out) >= body["total"]:
                return {**body, "stories": out, "offset": 0}

    def story(self, story_id: int | str) -> httpx.Response:
        """``GET /v1/stories/{id}`` as it answers: a merged story's 307 is not followed."""
        return self.http.get(f"/v1/stories/{story_id}", params={"limit": 200}, follow_redirects=False)

    def headline_ids(self, story_id: int | str) -> list[int]:
        r = self.story(story_id)
        assert r.status_code == 200, (r.status_code, r.text)
        return [h["headline_id"] for h in r.json()["headlines"]]


SERVICE_ENV = {
    "TICKER_LOAD_SAMPLE_DATA": "0",
    "TICKER_PROTECT_READS": "0",
    "TICKER_REFIT_EVERY_SECONDS": "2",
    "TICKER_REFIT_EVERY_STORIES": "5",
    "TICKER_REFIT_MIN_SECONDS": "0",
    # the feeds panel's test follows feeds served on loopback
    "TICKER_FEEDS_ALLOW_PRIVATE": "1",
    # Server keeps stderr in a pipe nobody reads while the server runs: keep it quiet.
    "TICKER_LOG_LEVEL": "warning",
}


@pytest.fixture(scope="module")
def sync_api() -> Any:
    return _sync_api()


@pytest.fixture(scope="module")
def api(sync_api: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    client = Api({**SERVICE_ENV, "TICKER_DATA_DIR": str(tmp_path_factory.mktemp("browser-data")), "TICKER_API_KEY": ""})
    try:
        client.post(shifted_batch()["headlines"])
        client.refit()
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def keyed_api(sync_api: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A second service, with ``TICKER_API_KEY``: it takes corrections (and wants the key for every write)."""
    data_dir = str(tmp_path_factory.mktemp("browser-keyed"))
    client = Api({**SERVICE_ENV, "TICKER_DATA_DIR": data_dir, "TICKER_API_KEY": KEY}, key=KEY)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="module")
def browser(sync_api: Any) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


class Recorder:
    """What a page did besides drawing: requests made, dialogs opened, uncaught errors."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []


@pytest.fixture
def page(browser: Any, api: Api) -> Iterator[Any]:
    with _new_page(browser, api) as pg:
        yield pg


@pytest.fixture
def keyed_page(browser: Any, keyed_api: Api) -> Iterator[Any]:
    with _new_page(browser, keyed_api) as pg:
        yield pg


@contextlib.contextmanager
def _new_page(browser: Any, api: Api) -> Iterator[Any]:
    api.ensure_alive()
    context = browser.new_context(viewport=VIEWPORT, locale="fr-FR", timezone_id="Africa/Casablanca")
    rec = Recorder()
    own = urllib.parse.urlsplit(api.url).netloc

    def route(r: Any) -> None:
        # Nothing may leave loopback even if the page tried: record it (test 6 fails on it) and abort.
        if urllib.parse.urlsplit(r.request.url).netloc == own:
            r.continue_()
        else:
            r.abort()

    context.route("**/*", route)
    # The dashboard's CSP blocks foreign hosts before any request exists: count the attempts as well.
    context.add_init_script("""window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));""")
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    pg.on("request", lambda req: rec.requests.append(req.url))

    def on_dialog(d: Any) -> None:
        rec.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda err: rec.errors.append(str(err)))
    pg.recorder = rec
    try:
        yield pg
    finally:
        context.close()


def open_dashboard(page: Any, api: Api, path: str = DASH) -> None:
    page.goto(api.url + path)
    page.wait_for_selector("#status[data-state=live]")
    page.wait_for_selector("#board[aria-busy=false] li.story")


# JS: what the board shows, in order: one entry per column.
BOARD_SUMMARY = """() => [...document.querySelectorAll('#board section.topic')].map(s => ({
  id: s.dataset.topicId,
  label: s.querySelector('.topic-label').textContent,
  stories: [...s.querySelectorAll('li.story')].map(li => li.dataset.storyId),
}))"""

# JS: every story on the board with what the filters decide on.
STORIES = """() => [...document.querySelectorAll('#board li.story')].map(li => ({
  id: li.dataset.storyId,
  hidden: li.hidden || li.closest('section').hidden,
  languages: li.dataset.languages.split(' '),
  lastSeen: li.dataset.lastSeen,
  sources: (li.querySelector('.story-sources')?.textContent || '').split(' · '),
  text: li.textContent,
}))"""


def api_summary(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The board a fresh page draws from ``data``: "New, not yet grouped" first, then the topics in the API's order."""
    cols = [
        {"id": str(t["id"]), "label": t["label"], "stories": [str(s["id"]) for s in t["stories"]]}
        for t in data["topics"]
    ]
    if data["unassigned"]:
        cols.insert(
            0, {"id": "unassigned", "label": UNASSIGNED_LABEL, "stories": [str(s["id"]) for s in data["unassigned"]]}
        )
    return cols


def server_total(data: dict[str, Any]) -> int:
    """Every story the service holds, as the clusters view counts them."""
    return sum(t["n_stories"] for t in data["topics"]) + data["unassigned_total"]


def title_element(page: Any, text: str) -> Any:
    """The one headline element (canonical or version) on the board whose text is exactly ``text``."""
    loc = page.locator("#board .story-title, #board .version-title").filter(has_text=text)
    eventually(lambda: _assert_exact(loc, text), timeout=10.0)
    return next(loc.nth(i) for i in range(loc.count()) if loc.nth(i).text_content() == text)


def _assert_exact(loc: Any, text: str) -> None:
    assert text in loc.all_text_contents(), f"{text!r} not on the board"


# ---- 1. topics after ingest -----------------------------------------------------------------------
def test_dashboard_shows_topics_versions_and_rtl(page: Any, api: Api) -> None:
    [ar] = api.post([{"title": ARABIC, "source": "hespress-ar", "id": "ar-1"}])
    assert ar["lang"] == "ar"
    api.refit()
    open_dashboard(page, api)

    # The board is exactly what the API says: every topic a column, with its label and its stories, in order.
    def same_as_api() -> None:
        want = api_summary(api.clusters())
        assert any(c["id"] != "unassigned" for c in want), "the service found no topic in the sample"
        assert page.evaluate(BOARD_SUMMARY) == want

    eventually(same_as_api, timeout=15.0)
    labels = page.locator("section.topic:not([data-topic-id=unassigned]) .topic-label").all_text_contents()
    assert labels and all(label.strip() for label in labels)
    # columns that share a label carry keywords that tell them apart; a unique label needs none
    heads = page.evaluate("""() => [...document.querySelectorAll('#board section.topic')].map(s =>
        [s.querySelector('.topic-label').textContent, s.querySelector('.topic-sublabel')?.textContent ?? null])""")
    for label, sub in heads:
        twins = [b for a, b in heads if a == label]
        if len(twins) == 1:
            assert sub is None, (label, sub)
        else:
            assert sub and len(set(twins)) == len(twins), (label, twins)
    assert page.locator("#board-empty").is_hidden()

    # The French/Spanish Khaya story: the French headline leads, the Spanish one is an ES version of it.
    story = page.locator("li.story").filter(has=page.locator(".story-title", has_text=KHAYA_FR))
    assert story.count() == 1
    version = story.locator("li.story-version").filter(has=page.locator(".version-title", has_text=KHAYA_ES))
    assert version.locator(".lang-badge").text_content() == "ES"
    assert version.locator(".lang-badge").get_attribute("data-lang") == "es"
    assert "es" in story.get_attribute("data-languages").split()

    # Arabic runs right to left and says it is Arabic.
    title = title_element(page, ARABIC)
    assert title.get_attribute("dir") == "rtl"
    assert title.get_attribute("lang") == "ar"
    assert title.evaluate("e => getComputedStyle(e).direction") == "rtl"


# ---- 2. live updates ------------------------------------------------------------------------------
def test_new_batch_appears_without_reload(page: Any, api: Api) -> None:
    open_dashboard(page, api)
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    page.evaluate("window.__loaded_once = 1")
    before = page.locator("li.story").count()
    page.wait_for_timeout(2_500)  # the page sits open for a few polls first

    title = "Royal Air Maroc inaugure une ligne directe entre Casablanca et Osaka dès le mois de juin"
    [res] = api.post([{"title": title, "source": "test-live", "id": "live-1", "lang": "fr"}])
    assert res["duplicate"] is False
    story = page.locator(f'li.story[data-story-id="{res["story_id"]}"]')
    # The page polls every second; this bound only keeps a page that never updates from waiting for
    # ever (how soon an update shows is for the benchmarks, not for this test).
    story.wait_for(state="attached", timeout=15_000)
    assert story.locator(".story-title").text_content() == title
    assert page.evaluate("window.__loaded_once") == 1, "the page was reloaded"
    assert navigations == []
    assert page.locator("li.story").count() >= before + 1


# ---- 3. filters ------------------------------------------------------------------------------------
def _shown(page: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    stories = page.evaluate(STORIES)
    return [s for s in stories if not s["hidden"]], [s for s in stories if s["hidden"]]


def _count_text(page: Any, api: Api, n_shown: int) -> None:
    """ "X of Y stories": X the cards shown, Y every story the service holds (not only those loaded)."""
    total = server_total(api.clusters())
    assert page.locator("#filter-count").text_content() == f"{n_shown} of {total} stories"


def test_filters(page: Any, api: Api) -> None:
    api.post([{"title": SEARCHED, "source": "test-search", "id": "search-1", "lang": "fr"}])
    open_dashboard(page, api)
    page.locator("li.story").filter(has_text=SEARCHED).wait_for(state="attached")
    assert not _shown(page)[1], "something is hidden before any filter"

    # language: a story stays when any of its versions is in that language
    page.select_option("#filter-lang", "es")
    shown, hidden = _shown(page)
    assert shown and hidden
    assert all("es" in s["languages"] for s in shown)
    assert all("es" not in s["languages"] for s in hidden)
    assert any(KHAYA_ES in s["text"] for s in shown)
    _count_text(page, api, len(shown))
    assert "lang=es" in page.url  # a filtered view can be shared
    page.click("#filter-reset")
    assert not _shown(page)[1]

    # search: the server's (test_search_asks_the_server_in_every_language); case- and accent-insensitive,
    # every word must appear
    for query in ("EBOULEMENT chefchaouen", "éboulement  Chefchaouen fermée", "ÉBOULEMENT FERMEE"):
        page.fill("#filter-search", query)
        eventually(lambda query=query: _assert_only_result(page, SEARCHED, query), timeout=5.0)
    page.fill("#filter-search", "eboulement zzzunknownword")
    eventually(lambda: _assert_no_result(page), timeout=5.0)
    page.click("#filter-reset")
    page.wait_for_selector("#search-results", state="hidden")
    assert page.locator("#board").is_visible()
    assert not _shown(page)[1]

    # source: options come from the data; a story stays when any version has that source
    options = page.locator("#filter-source option").all_text_contents()
    assert "article-001" in options and "ticker-000" in options
    page.select_option("#filter-source", "article-001")
    shown, hidden = _shown(page)
    assert shown and hidden
    assert all("article-001" in s["sources"] for s in shown)
    assert all("article-001" not in s["sources"] for s in hidden)
    # a column with no story left is hidden, the others stay
    columns = page.evaluate("""() => [...document.querySelectorAll('#board section.topic')].map(s =>
        [s.hidden, [...s.querySelectorAll('li.story')].filter(li => !li.hidden).length])""")
    assert all(hidden == (visible == 0) for hidden, visible in columns), columns
    page.click("#filter-reset")

    # time window: ticker-003 runs up to "now", ticker-000 ended a day earlier
    page.select_option("#filter-window", "6h")
    shown, hidden = _shown(page)
    assert shown and hidden
    now = page.evaluate("Date.now() + window.TickerDashboard.state.serverOffsetMs")
    age_h = lambda s: (now - page.evaluate("t => Date.parse(t)", s["lastSeen"])) / 3600e3  # noqa: E731
    assert all(age_h(s) <= 6 for s in shown)
    assert all(age_h(s) > 6 for s in hidden)
    _count_text(page, api, len(shown))


# JS: the search results as shown.
RESULTS = """() => {
  const s = document.querySelector('#search-results');
  return {
    hidden: s.hidden, state: s.dataset.state, query: s.dataset.query ?? null, total: Number(s.dataset.total),
    ids: [...s.querySelectorAll('#search-list li.story')].map(li => Number(li.dataset.storyId)),
    titles: [...s.querySelectorAll('#search-list li.story .story-title')].map(e => e.textContent),
  };
}"""


def _results(page: Any, query: str) -> dict[str, Any]:
    """The results the page shows for ``query``, once it shows them."""
    got = page.evaluate(RESULTS)
    assert not got["hidden"] and got["state"] == "done" and got["query"] == query.strip(), got
    assert page.locator("#board").is_hidden()
    return got


def _assert_only_result(page: Any, text: str, query: str) -> None:
    got = _results(page, query)
    assert got["titles"] == [text] and got["total"] == 1, got


def _assert_no_result(page: Any) -> None:
    got = page.evaluate(RESULTS)
    assert got["state"] == "done" and got["ids"] == [] and got["total"] == 0, got
    assert page.locator("#search-empty").is_visible()


# ---- 4. hostile headlines stay text ---------------------------------------------------------------
def test_markup_in_headlines_is_shown_as_text(page: Any, api: Api) -> None:
    api.post(
        [
            {"title": XSS_IMG, "source": "<b>evil</b>", "id": "xss-1", "lang": "en"},
            {"title": XSS_SCRIPT, "source": "test-xss", "id": "xss-2", "lang": "fr", "url": "javascript:alert(2)"},
        ]
    )
    open_dashboard(page, api)
    for raw in (XSS_IMG, XSS_SCRIPT):
        el = title_element(page, raw)
        assert el.evaluate("e => e.children.length") == 0
    page.wait_for_timeout(500)  # an onerror would have fired by now
    assert page.recorder.dialogs == []
    assert page.locator("#board img, #board script, #board b").count() == 0
    assert page.locator("#board a[href^='javascript:']").count() == 0
    assert "<b>evil</b>" in page.locator("#board .story-sources").all_text_contents()

    # The plugin on the mock CMS page (no CSP there) shows a stored hostile match as text too.
    page.goto(api.url + "/plugin-demo")
    page.fill("#headline", XSS_IMG)
    page.wait_for_selector(".ticker-dedup-box[data-state=duplicate]")
    titles = page.locator(".ticker-dedup-match .ticker-dedup-title").all_text_contents()
    assert XSS_IMG in titles
    page.wait_for_timeout(300)
    assert page.locator(".ticker-dedup-box img").count() == 0
    assert page.recorder.dialogs == []


# ---- 5. the newsroom plugin -----------------------------------------------------------------------
def test_plugin_warns_on_translated_duplicate_and_stays_neutral_otherwise(page: Any, api: Api) -> None:
    page.goto(api.url + "/plugin-demo")
    page.wait_for_function("window.TickerDedup && document.querySelector('.ticker-dedup-box')")
    box = page.locator(".ticker-dedup-box")
    assert box.get_attribute("data-state") == "idle"
    assert page.locator("#headline").get_attribute("dir") == "auto"

    # English, while only French and Spanish versions are stored
    page.fill("#headline", KHAYA_EN)
    page.wait_for_selector(".ticker-dedup-box[data-state=duplicate]")
    result = page.evaluate("t => window.TickerDedup.check(t)", KHAYA_EN)
    assert result["verdict"] == "duplicate"
    warning = box.locator(".ticker-dedup-warning")
    assert warning.is_visible() and warning.get_attribute("data-verdict") == "duplicate"
    # the verdict in words, with the calibrated confidence instead of raw scores
    assert warning.locator(".ticker-dedup-warning-title").text_content() == (
        f"Already ran: this story has been published (confidence {round(result['confidence'] * 100)} %)"
    )
    assert box.locator(".ticker-dedup-score").count() == 0
    # the story's versions, by language: the story's languages in the order they ran (`story.versions`), each
    # with its top matches in the service's order
    same = [m for m in result["matches"] if m["same_story"]]
    story_langs = [v["lang"] for v in result["story"]["versions"]]
    langs = list(dict.fromkeys(story_langs + [m["lang"] for m in same]))
    versions = warning.locator(".ticker-dedup-versions .ticker-dedup-version")
    assert [versions.nth(i).get_attribute("data-lang") for i in range(versions.count())] == langs
    assert langs == ["fr", "es"] == result["story"]["languages"]
    for i, lang in enumerate(langs):
        group = [m["title"] for m in same if m["lang"] == lang] or [
            v["title"] for v in result["story"]["versions"] if v["lang"] == lang
        ]
        assert versions.nth(i).locator(".ticker-dedup-version-lang").text_content() == f"{lang.upper()} · {len(group)}"
        assert versions.nth(i).locator(".ticker-dedup-title").all_text_contents() == group
    first = versions.first.locator(".ticker-dedup-match").first
    assert first.locator(".ticker-dedup-title").text_content() in (KHAYA_FR, KHAYA_ES)
    assert first.locator(".ticker-dedup-type").text_content() == "translation"
    # when and where it ran
    m = next(x for x in same if x["lang"] == langs[0])
    ran = first.locator(".ticker-dedup-ran").text_content()
    minutes = (datetime.now(timezone.utc) - _instant(m["published_at"] or m["received_at"])).total_seconds() / 60
    assert ran.startswith("Ran ") and ran.endswith(f" on {m['source']}"), ran
    if minutes < 59:
        assert ran in {f"Ran {int(minutes) + d} min ago on {m['source']}" for d in (-1, 0, 1)} | (
            {f"Ran just now on {m['source']}"} if minutes < 2 else set()
        ), (ran, minutes)
    # what the score is made of, in words: the names the versions share carry across languages
    reasons = first.locator(".ticker-dedup-why").text_content()
    assert reasons.startswith("meaning 0.") and "names +" in reasons and "language pair" in reasons
    # other stories' headlines are grouped apart, as what they are
    related = warning.locator(".ticker-dedup-related-group")
    if result["related"]:
        assert related.locator(".ticker-dedup-related-title").text_content() == "Related, not the same story"
        assert related.locator(".ticker-dedup-title").all_text_contents() == [m["title"] for m in result["related"]][:5]
        assert versions.locator(".ticker-dedup-related").count() == 0
    else:
        assert related.count() == 0

    # unrelated text: the neutral state, no warning left over
    page.fill("#headline", "Recette : un gâteau au chocolat sans farine prêt en vingt minutes")
    page.wait_for_selector(".ticker-dedup-box[data-state=clear]")
    assert box.locator(".ticker-dedup-warning").count() == 0
    assert box.locator(".ticker-dedup-ok").text_content() == "New: no similar story found."

    # too short to ask: back to idle (hidden)
    page.fill("#headline", "Maroc")
    page.wait_for_selector(".ticker-dedup-box[data-state=idle]", state="attached")
    assert box.is_hidden()


#: one story: six near-identical French headlines and looser translations, which join it but score under
#: every French rewrite against a French check: the top 5 matches are all French
DAKHLA_FR = [
    "Dakhla : le port de pêche accueille un chalutier géant de 120 mètres",
    "Dakhla : le port de pêche accueille un chalutier de 120 mètres",
    "Dakhla : le port de pêche accueille un chalutier géant long de 120 mètres",
    "Port de Dakhla : le port de pêche accueille un chalutier géant de 120 mètres",
    "Dakhla : le port de pêche reçoit un chalutier géant de 120 mètres",
    "Dakhla : le port de pêche accueille un navire géant de 120 mètres",
]
DAKHLA_ES = "Dakhla: el puerto pesquero recibe un enorme arrastrero"
DAKHLA_EN = "Dakhla fishing port welcomes a giant trawler"
DAKHLA_AR = "ميناء الداخلة للصيد يستقبل سفينة صيد عملاقة"


def test_plugin_shows_every_language_of_the_story_when_the_top_matches_are_one(page: Any, api: Api) -> None:
    now = datetime.now(timezone.utc)
    posted = [
        {
            "title": t,
            "source": f"dakhla-fr-{i}",
            "id": f"dakhla-{i}",
            "lang": "fr",
            "published_at": (now - timedelta(minutes=90 - 5 * i)).isoformat(),
        }
        for i, t in enumerate(DAKHLA_FR)
    ]
    posted += [
        {
            "title": DAKHLA_ES,
            "source": "dakhla-es",
            "id": "dakhla-es",
            "lang": "es",
            "url": "https://es.example.ma/dakhla?a=1&b=<2>",
            "published_at": (now - timedelta(minutes=40)).isoformat(),
        },
        {
            "title": DAKHLA_EN,
            "source": "dakhla-en",
            "id": "dakhla-en",
            "lang": "en",
            "published_at": (now - timedelta(minutes=30)).isoformat(),
        },
        # received now, with a hostile source and link: shown as text, not linked
        {"title": DAKHLA_AR, "source": "<i>ar</i>", "id": "dakhla-ar", "lang": "ar", "url": "javascript:alert(4)"},
    ]
    results = api.post(posted)
    story_id = results[0]["story_id"]
    joined = [p for p, r in zip(posted, results) if r["story_id"] == story_id]
    assert {p["lang"] for p in joined} >= {"fr", "es", "en"}
    page.goto(api.url + "/plugin-demo")
    page.wait_for_function("window.TickerDedup && document.querySelector('.ticker-dedup-box')")
    page.fill("#headline", DAKHLA_FR[0])
    page.wait_for_selector(".ticker-dedup-box[data-state=duplicate]")
    result = page.evaluate("t => window.TickerDedup.check(t)", DAKHLA_FR[0])
    same = [m for m in result["matches"] if m["same_story"]]
    assert len(same) == 5 and {m["lang"] for m in same} == {"fr"}, "the top matches are all French"

    warning = page.locator(".ticker-dedup-warning")
    langs = list(dict.fromkeys(p["lang"] for p in joined))  # in the order they ran
    assert warning.locator(".ticker-dedup-story").text_content() == (
        f"Ran in {', '.join(lang.upper() for lang in langs)} · {len(joined)} headlines · {len(joined)} outlets"
    )
    sections = warning.locator(".ticker-dedup-versions .ticker-dedup-version")
    assert [sections.nth(i).get_attribute("data-lang") for i in range(sections.count())] == langs
    # French: its top matches, with their evidence
    fr = sections.nth(0)
    assert fr.locator(".ticker-dedup-version-lang").text_content() == "FR · 5"
    assert fr.locator(".ticker-dedup-title").all_text_contents() == [m["title"] for m in same]
    assert fr.locator(".ticker-dedup-story-version").count() == 0
    # every other language: the story's earliest headline in it, when and where it ran
    for i, lang in enumerate(langs[1:], 1):
        p = next(p for p in joined if p["lang"] == lang)
        section = sections.nth(i)
        assert section.locator(".ticker-dedup-version-lang").text_content() == f"{lang.upper()} · 1"
        item = section.locator(".ticker-dedup-match.ticker-dedup-story-version")
        assert item.count() == 1 and item.get_attribute("data-story-id") == str(story_id)
        assert item.locator(".ticker-dedup-title").text_content() == p["title"]
        assert item.locator(".ticker-dedup-type").text_content() == "first in this language"
        assert item.locator(".ticker-dedup-ran").text_content().endswith(f" on {p['source']}")
        assert item.locator(".ticker-dedup-why").count() == 0
    es = sections.nth(1).locator("a.ticker-dedup-link")
    assert es.get_attribute("href") == "https://es.example.ma/dakhla?a=1&b=%3C2%3E"
    if "ar" in langs:
        ar = sections.nth(langs.index("ar"))
        assert ar.locator(".ticker-dedup-title").get_attribute("dir") == "rtl"
        assert ar.locator(".ticker-dedup-ran").text_content() == "Ran just now on <i>ar</i>"
    assert page.locator(".ticker-dedup-box a[href^='javascript:'], .ticker-dedup-box i").count() == 0
    assert page.recorder.dialogs == [] and page.recorder.errors == []


def test_plugin_says_when_and_where_it_ran_links_only_http_and_reads_arabic_rtl(page: Any, api: Api) -> None:
    now = datetime.now(timezone.utc)
    linked = "Ouarzazate : un studio de doublage de films d'animation ouvre ses portes"
    hostile = "Chefchaouen : la coopérative de tapis bleus exporte vers le Japon"
    api.post(
        [
            {
                "title": linked,
                "source": "le360",
                "id": "ran-1",
                "lang": "fr",
                "url": "https://fr.le360.ma/tanger-med?a=1&b=<2>",
                "published_at": (now - timedelta(minutes=37)).isoformat(),
            },
            {
                "title": linked,
                "source": "hespress-fr",
                "id": "ran-2",
                "lang": "fr",
                "published_at": (now - timedelta(minutes=50)).isoformat(),
            },
            {
                "title": hostile,
                "source": "<i>src</i>",
                "id": "ran-3",
                "lang": "fr",
                "url": "javascript:alert(3)",
                "published_at": (now - timedelta(hours=3, minutes=5)).isoformat(),
            },
        ]
    )
    page.goto(api.url + "/plugin-demo")
    page.wait_for_function("window.TickerDedup && document.querySelector('.ticker-dedup-box')")

    page.fill("#headline", linked)
    page.wait_for_selector(".ticker-dedup-box[data-state=duplicate]")
    matches = page.locator(".ticker-dedup-versions .ticker-dedup-match")
    titles = matches.locator(".ticker-dedup-title").all_text_contents()
    assert titles.count(linked) == 1, "the same text once"
    shown = matches.filter(has_text=linked)
    ran = shown.locator(".ticker-dedup-ran").text_content()
    assert ran in (
        "Ran 37 min ago on le360",
        "Ran 36 min ago on le360",
        "Ran 50 min ago on hespress-fr",
        "Ran 49 min ago on hespress-fr",
    ), ran
    assert shown.locator(".ticker-dedup-copies").text_content() == "same text ×2"
    if "le360" in ran:
        link = shown.locator("a.ticker-dedup-link")
        assert link.text_content() == "link"
        assert link.get_attribute("href") == "https://fr.le360.ma/tanger-med?a=1&b=%3C2%3E"
        assert link.get_attribute("rel") == "noopener noreferrer"

    page.fill("#headline", hostile)
    page.wait_for_selector(".ticker-dedup-box[data-state=duplicate]")
    shown = page.locator(".ticker-dedup-versions .ticker-dedup-match").filter(has_text=hostile)
    assert shown.locator(".ticker-dedup-ran").text_content() == "Ran 3 h ago on <i>src</i>"
    # (other tests' stories, shown as related, may carry http(s) links)
    assert shown.locator("a").count() == 0, "a javascript: URL is not a link"
    assert page.locator(".ticker-dedup-box a:not([href^='http'])").count() == 0
    assert page.locator(".ticker-dedup-box i").count() == 0

    # Arabic is typed right to left in the headline field
    page.fill("#headline", ARABIC)
    assert page.evaluate("document.querySelector('#headline').matches(':dir(rtl)')") is True
    page.fill("#headline", KHAYA_EN)
    assert page.evaluate("document.querySelector('#headline').matches(':dir(ltr)')") is True


def test_plugin_shows_a_possible_verdict_in_words(page: Any, api: Api) -> None:
    """A `possible` answer (under the threshold, confidence over the bar), as the service sends it."""
    now = datetime.now(timezone.utc)
    answer = {
        "duplicate": False,
        "story_id": None,
        "match": None,
        "score": 0.69,
        "threshold": 0.744,
        "lang": "fr",
        "verdict": "possible",
        "confidence": 0.44,
        "closest_story_id": 7,
        "matches": [
            {
                "headline_id": 1,
                "story_id": 7,
                "title": KHAYA_FR,
                "lang": "fr",
                "source": "le360",
                "published_at": (now - timedelta(minutes=12)).isoformat().replace("+00:00", "Z"),
                "received_at": None,
                "url": None,
                "same_story": True,
                "copies": 1,
                "score": 0.69,
                "cosine": 0.7,
                "terms": {},
            },
            {
                "headline_id": 2,
                "story_id": 9,
                "title": SEARCHED,
                "lang": "fr",
                "source": "snrt",
                "published_at": None,
                "received_at": (now - timedelta(hours=5)).isoformat().replace("+00:00", "Z"),
                "url": None,
                "same_story": False,
                "copies": 1,
                "score": 0.4,
                "cosine": 0.5,
                "terms": {},
            },
        ],
    }
    answer["related"] = [answer["matches"][1]]
    page.route(
        "**/v1/dedup/check",
        lambda r: r.fulfill(status=200, content_type="application/json", body=__import__("json").dumps(answer)),
    )
    page.goto(api.url + "/plugin-demo")
    page.fill("#headline", "Sultana Khaya parle enfin du Polisario")
    page.wait_for_selector(".ticker-dedup-box[data-state=possible]")
    warning = page.locator(".ticker-dedup-warning[data-verdict=possible]")
    assert warning.locator(".ticker-dedup-warning-title").text_content() == (
        "Possibly the same story: check before publishing (confidence 44 %)"
    )
    assert warning.locator(".ticker-dedup-versions .ticker-dedup-ran").text_content() == "Ran 12 min ago on le360"
    assert warning.locator(".ticker-dedup-related-group .ticker-dedup-ran").text_content() == "Ran 5 h ago on snrt"
    page.click("#publish")
    page.wait_for_function("document.getElementById('publish-status').textContent.startsWith('Held')")
    assert (
        page.locator("#publish-status").text_content() == "Held for review (demo): possibly story 7 (confidence 44 %)."
    )


# ---- 6. nothing leaves the server -----------------------------------------------------------------
def test_pages_request_only_their_own_server(page: Any, api: Api) -> None:
    api.post(
        [
            {
                "title": "Lien externe : le port de Nador West Med reçoit son premier navire",
                "source": "test-links",
                "id": "link-1",
                "url": "https://example.com/nador.png",
            }
        ]
    )
    open_dashboard(page, api)
    page.wait_for_function(
        "document.querySelectorAll('#status[data-state=live]').length && "
        "window.TickerDashboard.state.rawText.length > 0"
    )
    page.wait_for_timeout(2_500)  # a few polls
    assert page.evaluate("window.__cspViolations") == []
    page.goto(api.url + "/plugin-demo")
    page.fill("#headline", KHAYA_EN)
    page.wait_for_selector(".ticker-dedup-box[data-state=duplicate]")

    urls = page.recorder.requests
    own = urllib.parse.urlsplit(api.url).netloc
    paths = {urllib.parse.urlsplit(u).path for u in urls}
    assert {
        "/",
        "/static/dashboard.js",
        "/static/dashboard.css",
        "/v1/clusters",
        "/plugin.js",
        "/v1/dedup/check",
    } <= paths, paths
    foreign = [u for u in urls if urllib.parse.urlsplit(u).scheme != "data" and urllib.parse.urlsplit(u).netloc != own]
    assert foreign == []
    assert page.evaluate("window.__cspViolations") == []


# ---- 7. offline -------------------------------------------------------------------------------------
def test_offline_banner_when_server_dies(page: Any, api: Api) -> None:
    open_dashboard(page, api)
    titles = page.locator(".story-title").all_text_contents()
    assert page.locator("#offline-banner").is_hidden()

    api.server.kill()
    page.wait_for_selector("#offline-banner", state="visible", timeout=10_000)
    assert page.locator("#status").get_attribute("data-state") == "offline"
    assert page.locator("#status").text_content() == "Offline"
    assert page.locator("#offline-detail").text_content().strip()
    # the last stories received stay on screen
    assert page.locator(".story-title").all_text_contents() == titles


# ---- 8. the story panel: every version, and corrections -------------------------------------------
# JS: what the story panel shows: which story, and each version with its fields.
PANEL = """() => {
  const d = document.querySelector('#story-panel');
  const merged = document.querySelector('#panel-merged');
  return {
    open: d.open,
    busy: d.getAttribute('aria-busy'),
    storyId: d.dataset.storyId ?? null,
    mergedFrom: merged.hidden ? null : merged.dataset.mergedFrom,
    versions: [...d.querySelectorAll('#panel-versions li.panel-version')].map(li => ({
      id: Number(li.dataset.headlineId),
      title: li.querySelector('.panel-version-title').textContent,
      source: li.querySelector('.panel-version-source').textContent,
      lang: li.querySelector('.lang-badge').dataset.lang,
      time: li.querySelector('time.panel-version-time')?.getAttribute('datetime') ?? null,
      timeKind: li.querySelector('time.panel-version-time')?.dataset.kind ?? null,
      match: li.querySelector('.panel-version-match').dataset.match,
      similarity: Number(li.querySelector('.panel-version-similarity').dataset.similarity),
      href: li.querySelector('a.panel-version-title')?.getAttribute('href') ?? null,
    })),
  };
}"""


def _instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def open_story(page: Any, story_id: int, keyboard: bool = True) -> None:
    """Open a story's panel from its card: Enter on its button, or a click on the card itself."""
    card = page.locator(f'#board li.story[data-story-id="{story_id}"]')
    card.wait_for(state="attached")
    if keyboard:
        card.locator(".story-open").focus()
        page.keyboard.press("Enter")
    else:
        card.locator(".story-size").click()
    page.wait_for_selector(f'#story-panel[open][data-requested-id="{story_id}"][aria-busy=false]')


def panel_matches_api(page: Any, api: Api, story_id: int) -> None:
    """The panel shows story ``story_id`` exactly as ``GET /v1/stories/{id}`` lists it."""
    r = api.story(story_id)
    assert r.status_code == 200, (r.status_code, r.text)
    want = r.json()["headlines"]
    got = page.evaluate(PANEL)
    assert got["open"] and got["busy"] == "false" and got["storyId"] == str(story_id), got
    assert [v["id"] for v in got["versions"]] == [h["headline_id"] for h in want]
    for v, h in zip(got["versions"], want):
        assert (v["title"], v["source"], v["lang"]) == (h["title"], h["source"], h["lang"])
        assert v["match"] == (h["match"] or "") and v["similarity"] == h["similarity"]
        assert v["timeKind"] == ("published" if h["published_at"] else "received")
        assert _instant(v["time"]) == _instant(h["published_at"] or h["received_at"])
        assert v["href"] == (h["url"] if h["url"] and h["url"].startswith(("http://", "https://")) else None)


def _board_has(page: Any, story_id: int, present: bool) -> None:
    page.locator(f'#board li.story[data-story-id="{story_id}"]').wait_for(state="attached" if present else "detached")


def test_story_panel_moves_merges_and_undoes_like_the_api(keyed_page: Any, keyed_api: Api) -> None:
    page, api = keyed_page, keyed_api
    first = "Le port de Tanger Med bat son record annuel de conteneurs traités en 2026"
    second = "Sécheresse : le barrage Al Massira descend sous les 3 % de remplissage"
    # one version says when it was published (an hour ago: inside the service's window), the others not
    published = (datetime.now(timezone.utc) - timedelta(hours=1)).replace(microsecond=0).isoformat()
    res = api.post(
        [
            {"title": first, "source": "desk-a", "id": "panel-1", "lang": "fr", "published_at": published},
            {"title": first, "source": "desk-b", "id": "panel-2", "lang": "fr", "url": "https://desk-b.example/tanger"},
            {"title": second, "source": "desk-c", "id": "panel-3", "lang": "fr"},
        ]
    )
    a, b = res[0]["story_id"], res[2]["story_id"]
    h1, h2, h3 = (r["headline_id"] for r in res)
    assert res[1]["story_id"] == a and b != a
    open_dashboard(page, api)

    # Enter on the card opens the panel, focus moves into it, and it lists every version like the API.
    open_story(page, a, keyboard=True)
    assert page.evaluate("document.querySelector('#story-panel').contains(document.activeElement)")
    eventually(lambda: panel_matches_api(page, api, a))
    assert sorted(v["id"] for v in page.evaluate(PANEL)["versions"]) == sorted([h1, h2])
    link = page.locator(f'#panel-versions li[data-headline-id="{h2}"] a.panel-version-title')
    assert link.get_attribute("rel") == "noopener noreferrer" and link.get_attribute("target") == "_blank"

    # Move out: the key is asked first (focus on it), then the move goes with it.
    page.locator(f'#panel-versions li[data-headline-id="{h2}"] button.panel-move').click()
    page.wait_for_selector("#panel-key-form:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "panel-key"
    page.fill("#panel-key", KEY)
    with page.expect_request(lambda r: r.url.endswith("/v1/corrections/move")) as sent:
        page.press("#panel-key", "Enter")
    assert sent.value.headers.get("x-api-key") == KEY
    assert sent.value.post_data_json == {"headline_ids": [h2], "to_story_id": None}
    page.wait_for_selector("#panel-result[data-kind=move]:not([hidden])")
    assert page.locator("#panel-key-form").is_hidden()
    move = api.http.get("/v1/corrections").json()["corrections"][0]
    new = move["effect"]["opened"]
    assert move["kind"] == "move" and new not in (a, b)
    assert page.locator("#panel-result").get_attribute("data-correction-id") == str(move["id"])
    assert f"story {new}" in page.locator("#panel-result-text").text_content()
    # the API says the headline is in a new story; the panel agrees, and so does the board
    assert api.headline_ids(a) == [h1] and api.headline_ids(new) == [h2]
    eventually(lambda: panel_matches_api(page, api, a))
    _board_has(page, new, True)

    # Undo (no key asked again): the headline is back, the emptied story is gone.
    page.click("#panel-undo")
    page.wait_for_selector("#panel-result[data-kind=undo]:not([hidden])")
    assert page.locator("#panel-key-form").is_hidden() and page.locator("#panel-undo").is_hidden()
    assert sorted(api.headline_ids(a)) == sorted([h1, h2])
    assert api.story(new).status_code == 404
    eventually(lambda: panel_matches_api(page, api, a))
    _board_has(page, new, False)
    # undoing twice is refused by the service
    assert api.http.post(f"/v1/corrections/{move['id']}/undo").status_code == 409

    # Escape closes the panel and focus goes back to the card.
    page.keyboard.press("Escape")
    page.wait_for_selector("#story-panel", state="hidden")
    assert page.evaluate("document.activeElement.closest('li.story')?.dataset.storyId") == str(a)

    # Merge the second story into the first, from the second's panel (opened with the mouse).
    open_story(page, b, keyboard=False)
    eventually(lambda: panel_matches_api(page, api, b))
    alert = page.locator("#panel-error[role=alert]")
    page.fill("#panel-merge-into", str(b))  # into itself: the service's 422 says why, visibly
    page.click("#panel-merge")
    alert.wait_for(state="visible")
    assert "cannot be merged into itself" in alert.text_content()
    page.fill("#panel-merge-into", str(a))
    with page.expect_request(lambda r: r.url.endswith("/v1/corrections/merge")) as sent:
        page.click("#panel-merge")
    assert sent.value.post_data_json == {"story_id": b, "into": a}
    page.wait_for_selector("#panel-result[data-kind=merge]:not([hidden])")
    assert alert.is_hidden()
    gone = api.story(b)
    assert gone.status_code == 307 and gone.json()["merged_into"] == a
    assert gone.headers["location"] == f"/v1/stories/{a}"
    # the panel now shows the story it was merged into, and says so
    eventually(lambda: panel_matches_api(page, api, a))
    assert sorted(api.headline_ids(a)) == sorted([h1, h2, h3])
    merged = page.locator("#panel-merged")
    assert merged.is_visible()
    assert (merged.get_attribute("data-merged-from"), merged.get_attribute("data-merged-into")) == (str(b), str(a))
    assert f"Story {b} was merged into story {a}" in merged.text_content()
    _board_has(page, b, False)

    # Undo the merge: the second story is back under its id, in the API, the panel and the board.
    page.click("#panel-undo")
    page.wait_for_selector("#panel-result[data-kind=undo]:not([hidden])")
    assert api.story(b).status_code == 200 and api.headline_ids(b) == [h3]
    assert sorted(api.headline_ids(a)) == sorted([h1, h2])
    eventually(lambda: panel_matches_api(page, api, b))
    assert page.locator("#panel-merged").is_hidden()
    _board_has(page, b, True)
    assert page.recorder.dialogs == [] and page.recorder.errors == []


def test_api_key_is_asked_once_and_kept_for_the_tab_only(keyed_page: Any, keyed_api: Api) -> None:
    page, api = keyed_page, keyed_api
    title = "Coupe du Trône : le Wydad et le Raja se retrouvent en demi-finale à Rabat"
    res = api.post(
        [
            {"title": title, "source": "desk-d", "id": "key-1", "lang": "fr"},
            {"title": title, "source": "desk-e", "id": "key-2", "lang": "fr"},
        ]
    )
    story, moved = res[0]["story_id"], res[1]["headline_id"]
    assert res[1]["story_id"] == story
    # the key is in sessionStorage or nowhere: not in localStorage (which holds only the time the editor last
    # looked), not in a cookie
    stored = (
        f"[sessionStorage.getItem('{KEY_STORAGE}'), "
        f"Object.keys(localStorage).filter(k => k !== '{LOOKED_STORAGE}').length + "
        f"Object.values(localStorage).filter(v => v.includes('{KEY}')).length, document.cookie]"
    )
    move = f'#panel-versions li[data-headline-id="{moved}"] button.panel-move'

    def move_and_undo() -> None:
        page.click(move)
        page.wait_for_selector("#panel-result[data-kind=move]:not([hidden])")
        page.click("#panel-undo")
        page.wait_for_selector("#panel-result[data-kind=undo]:not([hidden])")
        assert page.locator("#panel-key-form").is_hidden()
        assert sorted(api.headline_ids(story)) == sorted(r["headline_id"] for r in res)

    open_dashboard(page, api)
    open_story(page, story)
    assert page.evaluate(stored) == [None, 0, ""]

    # a wrong key: the service's 401 shows, the key is forgotten and asked again; nothing moved
    page.click(move)
    page.fill("#panel-key", "not-the-key")
    page.click("#panel-key-form button[type=submit]")
    alert = page.locator("#panel-error[role=alert]")
    alert.wait_for(state="visible")
    assert "API key" in alert.text_content()
    assert page.locator("#panel-key-form").is_visible()
    assert page.evaluate(stored) == [None, 0, ""]
    assert len(api.headline_ids(story)) == 2

    # the right key: kept in sessionStorage, nowhere else, and not asked again for the next corrections
    page.fill("#panel-key", KEY)
    page.press("#panel-key", "Enter")
    page.wait_for_selector("#panel-result[data-kind=move]:not([hidden])")
    assert alert.is_hidden()
    assert page.evaluate(stored) == [KEY, 0, ""]
    page.click("#panel-undo")
    page.wait_for_selector("#panel-result[data-kind=undo]:not([hidden])")
    move_and_undo()

    # reloading the tab keeps it
    open_dashboard(page, api)
    assert page.evaluate(stored) == [KEY, 0, ""]
    open_story(page, story)
    move_and_undo()

    # another tab does not have it: it asks
    other = page.context.new_page()
    other.goto(api.url + DASH)
    other.wait_for_selector("#board[aria-busy=false] li.story")
    assert other.evaluate(stored) == [None, 0, ""]
    open_story(other, story)
    other.click(move)
    other.wait_for_selector("#panel-key-form:not([hidden])")
    assert page.recorder.dialogs == [] and page.recorder.errors == []


def test_story_panel_shows_markup_as_text_and_why_corrections_are_refused(page: Any, api: Api) -> None:
    res = api.post(
        [
            {
                "title": XSS_PANEL,
                "source": "<b>evil</b>",
                "id": "panel-xss-1",
                "lang": "fr",
                "url": "javascript:alert(3)",
            },
            {
                "title": XSS_PANEL,
                "source": "test-panel",
                "id": "panel-xss-2",
                "lang": "fr",
                "url": "https://example.com/rabat",
            },
            {"title": ARABIC, "source": "panel-ar", "id": "panel-ar-1"},
        ]
    )
    story, arabic = res[0]["story_id"], res[2]["story_id"]
    assert res[1]["story_id"] == story
    open_dashboard(page, api)
    open_story(page, story, keyboard=False)
    eventually(lambda: panel_matches_api(page, api, story))

    # (the story may hold other hostile headlines: test 4's, when it ran first)
    assert page.locator("#panel-canonical").text_content() == api.story(story).json()["canonical"]["title"]
    titles = page.locator("#panel-versions .panel-version-title")
    assert titles.all_text_contents().count(XSS_PANEL) == 2
    assert all(titles.nth(i).evaluate("e => e.children.length") == 0 for i in range(titles.count()))
    assert page.locator("#panel-canonical").evaluate("e => e.children.length") == 0
    assert "<b>evil</b>" in page.locator("#panel-versions .panel-version-source").all_text_contents()
    assert page.locator("#story-panel img, #story-panel script, #story-panel b").count() == 0
    # only the http(s) link is a link
    assert page.locator("#story-panel a[href^='javascript:']").count() == 0
    hostile, linked = (f'#panel-versions li[data-headline-id="{r["headline_id"]}"]' for r in res[:2])
    link = page.locator(f"{linked} a.panel-version-title")
    assert link.get_attribute("href") == "https://example.com/rabat"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert page.locator(f"{hostile} a").count() == 0
    page.wait_for_timeout(300)  # an onerror would have fired by now
    assert page.recorder.dialogs == []

    # This service has no TICKER_API_KEY: it takes no correction, and the panel says why.
    before = page.evaluate(PANEL)["versions"]
    page.locator("#panel-versions button.panel-move").first.click()
    page.fill("#panel-key", "some-key")
    page.press("#panel-key", "Enter")
    alert = page.locator("#panel-error[role=alert]")
    alert.wait_for(state="visible")
    assert "TICKER_API_KEY" in alert.text_content()
    assert page.evaluate(PANEL)["versions"] == before

    # Arabic headlines pick their direction (dir="auto") and say their language.
    page.keyboard.press("Escape")
    page.wait_for_selector("#story-panel", state="hidden")
    open_story(page, arabic)
    canonical = page.locator("#panel-canonical")
    assert canonical.text_content() == ARABIC
    assert (canonical.get_attribute("dir"), canonical.get_attribute("lang")) == ("auto", "ar")
    assert canonical.evaluate("e => getComputedStyle(e).direction") == "rtl"
    first = page.locator("#panel-versions .panel-version-title").first
    assert (first.get_attribute("dir"), first.get_attribute("lang")) == ("auto", "ar")
    assert page.recorder.errors == []


# ---- 9. the editor's board: paging, counts, search, "new since you looked", stable cards -------------
# JS: each column's count, its "N more" and the ids of its cards, in order.
COLUMNS = """() => [...document.querySelectorAll('#board section.topic')].map(s => ({
  id: s.dataset.topicId,
  label: s.querySelector('.topic-label').textContent,
  count: s.querySelector('.topic-count').textContent,
  total: Number(s.dataset.total),
  more: s.querySelector('.topic-more').closest('[hidden]') ? null : s.querySelector('.topic-more').textContent,
  stories: [...s.querySelectorAll('li.story')].map(li => li.dataset.storyId),
}))"""


def _column(page: Any, column_id: str) -> dict[str, Any]:
    [col] = [c for c in page.evaluate(COLUMNS) if c["id"] == column_id]
    return col


def _page_through(page: Any, column_id: str, per_page: int) -> list[str]:
    """Click the column's "N more" until it is gone; each click must add a page (the last may be shorter)."""
    button = page.locator(f'section.topic[data-topic-id="{column_id}"] button.topic-more')
    while button.is_visible():
        before = _column(page, column_id)
        remaining = before["total"] - len(before["stories"])
        assert before["more"] == f"{remaining} more", before
        button.click()
        want = len(before["stories"]) + min(per_page, remaining)
        eventually(lambda want=want: _loaded(page, column_id, want), timeout=10.0)
    return _column(page, column_id)["stories"]


def _loaded(page: Any, column_id: str, n: int) -> None:
    assert len(_column(page, column_id)["stories"]) == n


def test_paging_reaches_every_story_and_the_counts_match(page: Any, api: Api) -> None:
    api.refit()  # settle the topics before counting
    data = api.clusters()
    topic = max(data["topics"], key=lambda t: t["n_stories"])
    assert topic["n_stories"] > 5, "the sample should give a topic more stories than one page"
    assert data["unassigned_total"] > 2, "the sample should leave stories out of every topic"
    # two stories per column on the first load, three per "N more"
    open_dashboard(page, api, "/?interval=1&stories=2&unassigned=2&page=3")
    tid = str(topic["id"])

    col = _column(page, tid)
    assert col["stories"] == [str(s["id"]) for s in topic["stories"][:2]]
    # the count is the topic's stories, not what the page loaded; "N more" is the rest
    assert col["total"] == topic["n_stories"] and col["count"].startswith(f"{topic['n_stories']} stories")
    assert col["more"] == f"{topic['n_stories'] - 2} more"
    # every column counts like the API, and the header counts every story the service holds
    for c in page.evaluate(COLUMNS):
        want = (
            data["unassigned_total"]
            if c["id"] == "unassigned"
            else next(t["n_stories"] for t in data["topics"] if str(t["id"]) == c["id"])
        )
        assert c["total"] == want and c["count"].startswith(f"{want} stor"), (c, want)
    loaded = page.locator("#board li.story").count()
    assert page.locator("#filter-count").text_content() == f"{loaded} of {server_total(data)} stories"
    assert loaded < server_total(data)

    # paging reaches every story of the topic, newest first as the API lists them, none twice
    ids = _page_through(page, tid, 3)
    every = api.stories(topic_id=topic["id"])
    assert ids == [str(s["id"]) for s in every["stories"]]
    assert len(ids) == len(set(ids)) == every["total"] == topic["n_stories"]
    assert all(s["topic_id"] == topic["id"] for s in every["stories"])
    assert _column(page, tid)["more"] is None
    # the pages were asked of the server: topic_id, offset and limit
    asked = [
        urllib.parse.parse_qs(urllib.parse.urlsplit(u).query)
        for u in page.recorder.requests
        if urllib.parse.urlsplit(u).path == "/v1/stories"
    ]
    offsets = sorted(int(q["offset"][0]) for q in asked if q.get("topic_id") == [tid])
    assert offsets[:2] == [2, 5] and all(q["limit"] == ["3"] for q in asked if q.get("topic_id") == [tid])

    # the same for the stories in no topic
    ids = _page_through(page, "unassigned", 3)
    every = api.stories(unassigned="true")
    assert ids == [str(s["id"]) for s in every["stories"]]
    assert len(ids) == every["total"] == data["unassigned_total"]
    assert all(s["topic_id"] is None for s in every["stories"])
    loaded = page.locator("#board li.story").count()
    assert page.locator("#filter-count").text_content() == f"{loaded} of {server_total(data)} stories"
    assert page.recorder.errors == []


def test_search_asks_the_server_in_every_language(page: Any, api: Api) -> None:
    accented = "Séisme d'Al Haouz : les écoles rénovées de Amizmiz rouvrent leurs portes"
    arabic = "مهرجان موازين يعلن عن برنامج دورته الجديدة في الرباط"
    res = api.post(
        [
            {"title": accented, "source": "search-fr", "id": "search-acc-1", "lang": "fr"},
            {"title": arabic, "source": "search-ar", "id": "search-ar-1"},
            {"title": XSS_SCRIPT, "source": "search-xss", "id": "search-xss-1", "lang": "fr"},
        ]
    )
    open_dashboard(page, api)
    board_count = page.locator("#filter-count").text_content()

    # typed without accents, in capitals, one key at a time: one request once the typing pauses
    query = "SEISME amizmiz ecoles renovees"
    page.locator("#filter-search").press_sequentially(query, delay=30)
    eventually(lambda: _results(page, query), timeout=10.0)
    got = _results(page, query)
    assert accented in got["titles"] and res[0]["story_id"] in got["ids"]
    # exactly what the API answers for the same question, with its total
    want = api.stories(q=query)
    assert got["ids"] == [s["id"] for s in want["stories"]] and got["total"] == want["total"] >= 1
    assert page.locator("#search-count").text_content() == f"{want['total']} stor{'y' if want['total'] == 1 else 'ies'}"
    assert (
        page.locator("#filter-count").text_content()
        == f"{len(got['ids'])} of {want['total']} stor{'y' if want['total'] == 1 else 'ies'}"
    )
    searches = [
        urllib.parse.parse_qs(urllib.parse.urlsplit(u).query)["q"][0]
        for u in page.recorder.requests
        if urllib.parse.urlsplit(u).path == "/v1/stories" and "q=" in u
    ]
    assert searches[-1] == query
    assert len(searches) <= 2, f"not debounced: {searches}"

    # Arabic, right to left
    page.fill("#filter-search", "موازين الرباط")
    eventually(lambda: _results(page, "موازين الرباط"), timeout=10.0)
    got = _results(page, "موازين الرباط")
    assert arabic in got["titles"] and res[1]["story_id"] in got["ids"]
    assert got["ids"] == [s["id"] for s in api.stories(q="موازين الرباط")["stories"]]
    title = page.locator("#search-list .story-title").filter(has_text=arabic).first
    assert title.get_attribute("dir") == "rtl" and title.get_attribute("lang") == "ar"

    # markup in a headline found by the search stays text
    page.fill("#filter-search", "tramway T5 Casablanca")
    eventually(lambda: _results(page, "tramway T5 Casablanca"), timeout=10.0)
    assert XSS_SCRIPT in _results(page, "tramway T5 Casablanca")["titles"]
    assert page.locator("#search-results script, #search-results img").count() == 0
    assert all(e.evaluate("e => e.children.length") == 0 for e in page.locator("#search-list .story-title").all())

    # nothing matches: said so; clearing the box brings the board back as it was
    page.fill("#filter-search", "amizmiz zzzunknownword")
    eventually(lambda: _assert_no_result(page), timeout=10.0)
    page.fill("#filter-search", "")
    page.wait_for_selector("#search-results", state="hidden")
    assert page.locator("#board").is_visible()
    eventually(lambda: _count_is(page, board_count), timeout=5.0)
    assert page.recorder.dialogs == [] and page.recorder.errors == []


def _count_is(page: Any, text: str) -> None:
    assert page.locator("#filter-count").text_content() == text


def _unseen(page: Any) -> list[int]:
    return sorted(
        int(i)
        for i in page.evaluate(
            "() => [...document.querySelectorAll('#board li.story.story-unseen')].map(li => li.dataset.storyId)"
        )
    )


def _new_since(page: Any, n: int, ids: list[int]) -> None:
    out = page.locator("#new-since")
    assert out.text_content() == f"{n} new since you looked" and out.get_attribute("data-count") == str(n)
    assert _unseen(page) == sorted(ids)
    assert page.locator("#board li.story.story-unseen .unseen-badge").count() == len(ids)


def test_new_since_you_looked_counts_later_stories_and_survives_a_reload(page: Any, api: Api) -> None:
    open_dashboard(page, api)
    # first visit: what is on screen is seen; the time is kept in localStorage
    eventually(lambda: _new_since(page, 0, []), timeout=10.0)
    first = page.evaluate(f"localStorage.getItem('{LOOKED_STORAGE}')")
    assert first and _instant(first) <= datetime.now(timezone.utc) + timedelta(seconds=2)
    page.click("#mark-seen")
    looked = page.evaluate(f"localStorage.getItem('{LOOKED_STORAGE}')")
    assert looked and _instant(looked) >= _instant(first)
    assert page.locator("#new-since").get_attribute("data-looked-at") == looked
    time.sleep(1.2)  # "since" is to the second

    stamp = int(time.time())
    res = api.post(
        [
            {
                "title": "La gare de Kénitra accueille son premier train à grande vitesse de nuit",
                "source": "seen-a",
                "id": f"seen-1-{stamp}",
                "lang": "fr",
            },
            {
                "title": "El puerto de Agadir estrena una terminal de cruceros",
                "source": "seen-b",
                "id": f"seen-2-{stamp}",
                "lang": "es",
            },
            {
                "title": "Marrakech hosts the African drone racing championship",
                "source": "seen-c",
                "id": f"seen-3-{stamp}",
                "lang": "en",
            },
            # published two days ago, received now: first seen before the editor looked, so not new
            {
                "title": "Le barrage de Oued Ziz inauguré en présence du gouverneur",
                "source": "seen-d",
                "id": f"seen-4-{stamp}",
                "lang": "fr",
                "published_at": (datetime.now(timezone.utc) - timedelta(days=2)).replace(microsecond=0).isoformat(),
            },
        ]
    )
    fresh = [r["story_id"] for r in res[:3]]
    assert len(set(fresh)) == 3
    eventually(lambda: _new_since(page, 3, fresh), timeout=15.0)

    # a reload keeps the time the editor looked, hence the same three new stories
    open_dashboard(page, api)
    assert page.evaluate(f"localStorage.getItem('{LOOKED_STORAGE}')") == looked
    eventually(lambda: _new_since(page, 3, fresh), timeout=15.0)

    # "Mark as seen": nothing is new any more, after a reload too
    page.click("#mark-seen")
    eventually(lambda: _new_since(page, 0, []), timeout=10.0)
    assert _instant(page.evaluate(f"localStorage.getItem('{LOOKED_STORAGE}')")) > _instant(looked)
    open_dashboard(page, api)
    eventually(lambda: _new_since(page, 0, []), timeout=10.0)
    assert page.recorder.errors == []


def test_unassigned_first_unique_names_and_outlets(page: Any, api: Api) -> None:
    stamp = int(time.time())
    title = "Le Maroc et le Portugal signent un accord sur l'hydrogène vert"
    res = api.post(
        [
            {"title": title, "source": "outlet-a", "id": f"outlet-1-{stamp}", "lang": "fr"},
            {"title": title, "source": "outlet-b", "id": f"outlet-2-{stamp}", "lang": "fr"},
            {"title": title, "source": "outlet-a", "id": f"outlet-3-{stamp}", "lang": "fr"},
            {"title": title, "source": "outlet-c", "id": f"outlet-4-{stamp}", "lang": "fr"},
        ]
    )
    story = res[0]["story_id"]
    assert {r["story_id"] for r in res} == {story}
    open_dashboard(page, api)

    # a card says how many distinct outlets ran the story (four headlines, three outlets)
    card = page.locator(f'#board li.story[data-story-id="{story}"]')
    card.wait_for(state="attached")
    api_story = api.story(story).json()
    assert api_story["n_sources"] == 3 and api_story["size"] == 4
    eventually(lambda: _outlets(card, 3), timeout=10.0)
    assert card.locator(".story-size").text_content() == "×4"

    # "New, not yet grouped" is the first column; every name on the page is the API's and none is twice
    def check() -> None:
        data = api.clusters()
        cols = page.evaluate(COLUMNS)
        assert data["unassigned_total"] > 0
        assert cols[0]["id"] == "unassigned" and cols[0]["label"] == UNASSIGNED_LABEL
        assert all(c["id"] != "unassigned" for c in cols[1:])
        assert {c["id"]: c["label"] for c in cols[1:]} == {str(t["id"]): t["label"] for t in data["topics"]}
        labels = [c["label"] for c in cols]
        assert len(labels) == len(set(labels)), labels
        first = page.locator("#board section.topic").first.bounding_box()
        second = page.locator("#board section.topic").nth(1).bounding_box()
        assert first["x"] < second["x"] or first["y"] < second["y"]  # first on screen too (top left)

    eventually(check, timeout=15.0)
    assert page.locator("#board .topic-sublabel").count() == 0  # unique names need nothing to tell them apart


def _outlets(card: Any, n: int) -> None:
    assert card.locator(".story-outlets").text_content() == f"{n} outlets"
    assert card.get_attribute("data-n-sources") == str(n)


def test_a_card_keeps_its_place_when_a_new_batch_arrives(page: Any, api: Api) -> None:
    stamp = int(time.time())
    open_dashboard(page, api)
    page.wait_for_timeout(1_500)  # a few polls: the board has settled
    # the editor reads the first card of the first column ("New, not yet grouped"), the pointer resting on it
    board = page.evaluate(BOARD_SUMMARY)
    home = board[0]
    assert home["id"] == "unassigned" and len(home["stories"]) >= 2, home
    target_id, below_id = home["stories"][:2]
    card = page.locator(f'#board li.story[data-story-id="{target_id}"]')
    card.locator(".story-title").hover()
    box = card.bounding_box()
    below_story = api.story(below_id).json()
    below_title, below_lang = below_story["canonical"]["title"], below_story["canonical"]["lang"]

    # a batch: two new stories, and a new version of the story below the card (the API now lists it first)
    res = api.post(
        [
            {
                "title": "La Bourse de Casablanca termine la séance en hausse de 2 %",
                "source": "keep-c",
                "id": f"keep-3-{stamp}",
                "lang": "fr",
            },
            {
                "title": "Moroccan Royal Navy rescues 60 migrants off Tarfaya",
                "source": "keep-d",
                "id": f"keep-4-{stamp}",
                "lang": "en",
            },
            {"title": below_title, "source": "keep-e", "id": f"keep-5-{stamp}", "lang": below_lang},
        ]
    )
    new_ids = [str(r["story_id"]) for r in res[:2]]
    assert str(res[2]["story_id"]) == below_id, "the same title should join the story"
    size = below_story["size"] + 1
    api_cols = {c["id"]: c["stories"] for c in api_summary(api.clusters())}
    col_now = next(ids for ids in api_cols.values() if below_id in ids)
    if target_id in col_now:
        assert col_now.index(below_id) < col_now.index(target_id), "the API should list the updated story first"

    # the poll brings it, and holds it: "N updates — Show"; nothing on the board moved
    page.wait_for_function(
        """ids => {
        const d = window.TickerDashboard.state.data;
        const all = d.topics.flatMap(t => t.stories).concat(d.unassigned).map(s => String(s.id));
        return ids.every(id => all.includes(id));
    }""",
        arg=new_ids,
    )
    page.wait_for_selector("#updates:not([hidden])")
    assert int(page.locator("#updates").get_attribute("data-count")) >= 3
    assert page.locator("#updates-text").text_content().endswith("updates")
    page.wait_for_timeout(1_500)  # more polls
    assert page.evaluate(BOARD_SUMMARY) == board
    assert card.bounding_box() == box
    assert all(page.locator(f'#board li.story[data-story-id="{i}"]').count() == 0 for i in new_ids)

    # Show: the new stories come in at the start of their columns, highlighted; the cards that were there
    # keep their order (the updated story stays below the card, updated in place)
    page.click("#updates-show")
    page.wait_for_selector("#updates", state="hidden")
    for i in new_ids:
        page.locator(f'#board li.story[data-story-id="{i}"].story-new').wait_for(state="attached")
    after = page.evaluate(BOARD_SUMMARY)
    before_cols = {c["id"]: c["stories"] for c in board}
    kept = [c["id"] for c in after if c["id"] in before_cols]
    assert kept == [c["id"] for c in board if c["id"] in kept], "columns were reordered"
    for c in after:
        old = before_cols.get(c["id"], [])
        still = [i for i in c["stories"] if i in old]
        assert still == [i for i in old if i in still], f"cards of column {c['id']} were reordered"
        arrived = [i for i in c["stories"] if i in new_ids]
        if arrived and old:
            assert max(c["stories"].index(i) for i in arrived) < min(c["stories"].index(i) for i in still), c
    home_after = next(c["stories"] for c in after if target_id in c["stories"])
    if below_id in home_after:
        assert home_after.index(below_id) > home_after.index(target_id)
    eventually(lambda: _size_is(page, below_id, f"×{size}"), timeout=10.0)

    # when the pointer is elsewhere, the next batch goes on the board at once, still without reordering
    page.mouse.move(5, 5)
    later = api.post(
        [
            {
                "title": "Tanger accueille le sommet méditerranéen de l'eau",
                "source": "keep-f",
                "id": f"keep-6-{stamp}",
                "lang": "fr",
            }
        ]
    )
    page.locator(f'#board li.story[data-story-id="{later[0]["story_id"]}"]').wait_for(state="attached", timeout=10_000)
    assert page.locator("#updates").is_hidden()
    final = page.evaluate(BOARD_SUMMARY)
    for c in final:
        old = {x["id"]: x["stories"] for x in after}.get(c["id"], [])
        still = [i for i in c["stories"] if i in old]
        assert still == [i for i in old if i in still]
    assert page.recorder.errors == []


def _size_is(page: Any, story_id: str, text: str) -> None:
    assert page.locator(f'#board li.story[data-story-id="{story_id}"] .story-size').text_content() == text


# ---- feeds panel ----------------------------------------------------------------------------------
@contextlib.contextmanager
def _feed_server() -> Iterator[str]:
    """A local server with a good RSS feed (/ok) and a broken one (/broken, a 500)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    good = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Fès : la médina accueille le festival des musiques sacrées</title><guid>bf-1</guid></item>"
        "<item><title>Oujda : la nouvelle gare routière ouvre ses portes</title><guid>bf-2</guid></item>"
        "</channel></rss>"
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            status, body = (200, good) if self.path == "/ok" else (500, b"boom")
            self.send_response(status)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


FEEDS = """() => [...document.querySelectorAll('#feeds-list li.feed')].map(li => ({
  id: li.dataset.feedId, status: li.dataset.status,
  label: li.querySelector('.feed-status').textContent, source: li.querySelector('.feed-source').textContent,
  meta: li.querySelector('.feed-meta').textContent, error: li.querySelector('.feed-error')?.textContent ?? null,
}))"""


def test_feeds_panel_shows_each_feeds_health_and_hides_without_feeds(page: Any, api: Api) -> None:
    for f in api.http.get("/v1/feeds").json()["feeds"]:  # start from no feed, whatever ran before
        api.http.delete(f"/v1/feeds/{f['id']}")
    open_dashboard(page, api)
    page.wait_for_timeout(500)
    assert page.locator("#feeds-panel").is_hidden()
    with _feed_server() as url:
        ok = api.http.post("/v1/feeds", json={"url": url + "/ok", "source": XSS_IMG}).json()
        broken = api.http.post("/v1/feeds", json={"url": url + "/broken", "source": "broken-desk"}).json()
        try:
            # the service polls them at once; the panel shows them at its next poll
            def health() -> list[dict[str, Any]]:
                page.evaluate("() => window.TickerDashboard.pollFeeds(true)")
                shown = page.evaluate(FEEDS)
                assert [(f["id"], f["status"]) for f in shown] == [(str(ok["id"]), "ok"), (str(broken["id"]), "error")]
                return shown

            good, bad = eventually(health, timeout=20.0, interval=0.5)
            assert page.locator("#feeds-panel").is_visible()
            assert (good["label"], good["source"], good["error"]) == ("OK", XSS_IMG, None)  # markup shown as text
            assert good["meta"].startswith("2 stored · fetched ")
            assert (bad["label"], bad["source"], bad["error"]) == (
                "Error",
                "broken-desk",
                "HTTP 500 Internal Server Error",
            )
            assert page.locator("#feeds-summary").text_content() == "2 feeds · 1 failing"
            assert page.locator("#feeds-list img").count() == 0
        finally:
            for f in (ok, broken):
                api.http.delete(f"/v1/feeds/{f['id']}")
    page.evaluate("() => window.TickerDashboard.pollFeeds(true)")
    page.locator("#feeds-panel").wait_for(state="hidden")
    assert page.recorder.dialogs == [] and page.recorder.errors == []


# JS: what the feeds panel offers for each feed: its button, and why it is disabled.
FEED_ACTIONS = """() => [...document.querySelectorAll('#feeds-list li.feed')].map(li => ({
  id: li.dataset.feedId, status: li.dataset.status,
  button: li.querySelector('button.feed-toggle')?.textContent ?? null,
  action: li.querySelector('button.feed-toggle')?.dataset.action ?? null,
  error: li.querySelector('.feed-error')?.textContent ?? null,
}))"""
#: JS: the element that has the focus, as "<feed id> <button text>" when it is a feed's button
FOCUSED_FEED_BUTTON = (
    "document.activeElement.matches('#feeds-list button.feed-toggle') "
    "? document.activeElement.dataset.feedId + ' ' + document.activeElement.textContent : document.activeElement.id"
)


def _only_feed(api: Api, url: str) -> dict[str, Any]:
    """Delete every feed the service follows, then follow ``url``: the one feed the panel lists."""
    for f in api.http.get("/v1/feeds").json()["feeds"]:
        api.http.delete(f"/v1/feeds/{f['id']}")
    r = api.http.post("/v1/feeds", json={"url": url, "source": "pause-desk"})
    assert r.status_code == 201, r.text
    return r.json()


def _open_with_feed(page: Any, api: Api, feed_id: int, button: str) -> None:
    """Open the dashboard (live) and wait until the feeds panel shows the feed with ``button``."""
    page.goto(api.url + DASH)
    page.wait_for_selector("#status[data-state=live]")

    def shown() -> None:
        page.evaluate("() => window.TickerDashboard.pollFeeds(true)")
        assert [(f["id"], f["button"]) for f in page.evaluate(FEED_ACTIONS)] == [(str(feed_id), button)]

    eventually(shown, timeout=20.0, interval=0.5)
    assert page.locator("#feeds-panel").is_visible()


def _api_feed(api: Api, feed_id: int) -> dict[str, Any]:
    r = api.http.get(f"/v1/feeds/{feed_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _feed_patch(feed_id: int, key: str | None = None) -> Callable[[Any], bool]:
    """A predicate for page.expect_request: the page's PATCH of this feed (with this key, when given)."""

    def sent(r: Any) -> bool:
        ok = r.method == "PATCH" and r.url.endswith(f"/v1/feeds/{feed_id}")
        return ok and (key is None or r.headers.get("x-api-key") == key)

    return sent


def _feed_patched(feed_id: int, key: str | None = None) -> Callable[[Any], bool]:
    """The same, for page.expect_response."""
    return lambda r: _feed_patch(feed_id, key)(r.request)


def test_feeds_panel_pauses_and_resumes_a_feed_with_the_dashboards_key(keyed_page: Any, keyed_api: Api) -> None:
    page, api = keyed_page, keyed_api
    with _feed_server() as url:
        feed = _only_feed(api, url + "/ok")
        fid = feed["id"]
        button = page.locator(f'#feeds-list li.feed[data-feed-id="{fid}"] button.feed-toggle')
        try:
            _open_with_feed(page, api, fid, "Pause")
            assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None
            assert page.locator("#feeds-error").is_hidden()
            # from now on the panel's own polls fail (it keeps what it shows): only the PATCH's answer redraws it
            page.route("**/v1/feeds", lambda r: r.abort())

            # Pause: no key yet, so the service's 401 makes the dashboard ask for it, in the corrections' own form
            with page.expect_response(_feed_patched(fid)) as refused:
                button.click()
            assert refused.value.status == 401
            page.wait_for_selector("#story-panel[open][data-key-only] #panel-key-form:not([hidden])")
            assert page.evaluate("document.activeElement.id") == "panel-key"
            assert page.locator("#panel-title").text_content() == "API key"
            assert "feed" in page.locator("#panel-key-label").text_content()
            assert _api_feed(api, fid)["enabled"] is True  # nothing changed yet
            page.fill("#panel-key", KEY)
            with page.expect_response(_feed_patched(fid, KEY)) as answered:
                page.press("#panel-key", "Enter")
            assert answered.value.status == 200
            assert answered.value.request.post_data_json == {"enabled": False}
            page.wait_for_selector("#story-panel", state="hidden")

            # the service has it paused; the panel, redrawn from its answer, offers Resume and says why
            paused = _api_feed(api, fid)
            assert (paused["enabled"], paused["status"], paused["disabled_reason"]) == (
                False,
                "disabled",
                "paused by an operator",
            )
            listed = {f["id"]: f for f in api.http.get("/v1/feeds").json()["feeds"]}
            assert listed[fid]["enabled"] is False
            eventually(
                lambda: _assert_equal(
                    page.evaluate(FEED_ACTIONS),
                    [
                        {
                            "id": str(fid),
                            "status": "disabled",
                            "button": "Resume",
                            "action": "resume",
                            "error": "paused by an operator",
                        }
                    ],
                )
            )
            # paused is not failing
            assert page.locator("#feeds-summary").text_content() == "1 feed · 0 failing · 1 paused"
            # the focus is on the feed's (new) button, and the key is kept for the tab like the corrections' one
            assert page.evaluate(FOCUSED_FEED_BUTTON) == f"{fid} Resume"
            assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") == KEY

            # Resume, from the keyboard: the kept key goes at once (no form), and the feed is polled again at once
            fetches = paused["fetches"]
            with page.expect_response(_feed_patched(fid)) as answered:
                page.keyboard.press("Enter")
            assert answered.value.status == 200
            assert answered.value.request.headers.get("x-api-key") == KEY
            assert answered.value.request.post_data_json == {"enabled": True}
            eventually(lambda: _assert_equal(page.evaluate(FEED_ACTIONS)[0]["button"], "Pause"))
            resumed = _api_feed(api, fid)
            assert resumed["enabled"] is True and resumed["disabled_reason"] is None
            assert page.evaluate(FOCUSED_FEED_BUTTON) == f"{fid} Pause"
            assert page.locator("#story-panel").is_hidden()
            eventually(lambda: _assert_more(_api_feed(api, fid)["fetches"], fetches), timeout=20.0)
            assert page.locator("#feeds-error").is_hidden()
        finally:
            api.http.delete(f"/v1/feeds/{fid}")
    assert page.recorder.dialogs == [] and page.recorder.errors == []


def _assert_equal(got: Any, want: Any) -> None:
    assert got == want


def _assert_more(got: int, than: int) -> None:
    assert got > than


def test_feeds_panel_asks_for_the_key_and_shows_the_services_refusals(keyed_page: Any, keyed_api: Api) -> None:
    page, api = keyed_page, keyed_api
    with _feed_server() as url:
        feed = _only_feed(api, url + "/ok")
        fid = feed["id"]
        button = page.locator(f'#feeds-list li.feed[data-feed-id="{fid}"] button.feed-toggle')
        try:
            _open_with_feed(page, api, fid, "Pause")
            # without the key, Pause (from the keyboard) asks for it rather than failing silently
            button.focus()
            page.keyboard.press("Enter")
            page.wait_for_selector("#story-panel[open][data-key-only] #panel-key-form:not([hidden])")
            assert page.evaluate("document.activeElement.id") == "panel-key"
            assert page.locator("#panel-story").is_hidden()
            # closing the form changes nothing, and the focus is back on the feed's button
            page.keyboard.press("Escape")
            page.wait_for_selector("#story-panel", state="hidden")
            assert page.evaluate(FOCUSED_FEED_BUTTON) == f"{fid} Pause"
            assert _api_feed(api, fid)["enabled"] is True
            assert page.evaluate(FEED_ACTIONS)[0]["button"] == "Pause"

            # a wrong key: refused (the service's message shows in the panel), forgotten, and asked again
            button.click()
            page.fill("#panel-key", "not-the-key")
            with page.expect_response(_feed_patched(fid, "not-the-key")) as refused:
                page.press("#panel-key", "Enter")
            assert refused.value.status == 401
            page.wait_for_selector("#story-panel[open][data-key-only] #panel-key-form:not([hidden])")
            assert "refused" in page.locator("#panel-key-label").text_content()
            error = page.locator("#feeds-error[role=alert]")
            assert error.is_visible()
            assert "this endpoint needs the API key" in error.text_content()
            assert page.evaluate(f"sessionStorage.getItem('{KEY_STORAGE}')") is None
            assert _api_feed(api, fid)["enabled"] is True
            page.keyboard.press("Escape")
            page.wait_for_selector("#story-panel", state="hidden")

            # another refusal: the service's own words, as text. The feed is deleted behind the panel's back
            # (the panel's polls are held so that it still lists it), then paused with the right key: 404.
            page.evaluate(f"sessionStorage.setItem('{KEY_STORAGE}', '{KEY}')")
            page.route("**/v1/feeds", lambda r: r.abort())
            assert api.http.delete(f"/v1/feeds/{fid}").status_code == 204
            with page.expect_response(_feed_patched(fid)) as gone:
                button.click()
            assert gone.value.status == 404
            error.wait_for(state="visible")
            assert error.text_content() == f"feed {fid} does not exist"
            assert error.evaluate("e => e.children.length") == 0
            assert page.locator("#story-panel").is_hidden()
            assert page.evaluate(FEED_ACTIONS)[0]["button"] == "Pause"
        finally:
            api.http.delete(f"/v1/feeds/{fid}")
    assert page.recorder.dialogs == [] and page.recorder.errors == []
