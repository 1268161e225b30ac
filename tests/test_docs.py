"""The documentation holds: docs/configuration.md names every setting and no setting there is not, the
README's and the docs' relative links lead to files and headings that exist, and the settings parse."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import fields
from pathlib import Path

import pytest
from conftest import ROOT

from app.config import PREFIX, ConfigError, Settings, load_settings

#: environment variables the pages may name that are not settings (the CLI's, the tests', the Docker image's)
NOT_SETTINGS = {"TICKER_TEST_PG_DSN", "TICKER_URL", "TICKER_SAMPLE_DIR"}


def undocumented(page: str) -> tuple[set[str], set[str]]:
    """Settings that head no table row of the page, and names in it that are neither settings nor known."""
    heads = " ".join(line.split("|")[1] for line in page.splitlines() if line.startswith("| `TICKER_"))
    documented = set(re.findall(r"`(TICKER_[A-Z_]+)`", heads))
    named = set(re.findall(r"`(TICKER_[A-Z_]+)`", page))
    settings = {PREFIX + f.name.upper() for f in fields(Settings) if f.name != "extra"}
    return settings - documented, named - settings - NOT_SETTINGS


def test_the_configuration_page_lists_every_setting():
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing, unknown = undocumented(page)
    assert missing == set(), "settings missing from docs/configuration.md's tables"
    assert unknown == set(), "docs/configuration.md names variables that are not settings"
    # the check itself: a row taken out, or a name that is no setting, is found
    without = "\n".join(line for line in page.splitlines() if not line.startswith("| `TICKER_WINDOW_HOURS`"))
    assert undocumented(without)[0] == {"TICKER_WINDOW_HOURS"}
    assert undocumented(page + "\n`TICKER_NO_SUCH_THING`\n")[1] == {"TICKER_NO_SUCH_THING"}
    assert "docs/configuration.md" in (ROOT / "README.md").read_text(encoding="utf-8")


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\[([^]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, re.M):
        slug = github_anchor(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


#: the pages whose every relative link is checked: the README and the pages it sends a reader to first
LINKED_PAGES = [
    "README.md",
    "docs/api.md",
    "docs/architecture.md",
    "docs/configuration.md",
    "docs/dashboard.md",
    "docs/operations.md",
    "docs/performance.md",
    "docs/quality.md",
]


def broken_links(path: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked here
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and (dest.suffix != ".md" or anchor not in anchors(dest)):
            broken.append(f"{target}: no such heading in {dest.name}")
    return broken


@pytest.mark.parametrize("page", LINKED_PAGES)
def test_relative_links_resolve(page):
    assert broken_links(ROOT / page) == []


def test_the_link_check_finds_a_broken_link(tmp_path):
    (tmp_path / "other.md").write_text("# Other\n\n## Two words, `code`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md) [ok](other.md#two-words-code) [ok](#here) [ok](https://example.com/x)\n\n## Here\n"
        "[bad](missing.md) [bad](other.md#nowhere) [bad](#nowhere)\n",
        encoding="utf-8",
    )
    assert broken_links(page) == [
        "missing.md: no such file",
        "other.md#nowhere: no such heading in other.md",
        "#nowhere: no such heading in page.md",
    ]


def test_settings_parse_and_validate():
    s = load_settings(
        env={
            "TICKER_WINDOW_HOURS": "24",
            "TICKER_LANGUAGES": "fr, ar",
            "TICKER_PROTECT_READS": "yes",
            "TICKER_MATCH_THRESHOLD": "0.7",
        }
    )
    assert s.window_hours == 24.0 and s.languages == ("fr", "ar") and s.protect_reads is True
    assert s.match_threshold == 0.7
    with pytest.raises(ConfigError, match="TICKER_MAX_BATCH_SIZE"):
        load_settings(env={"TICKER_MAX_BATCH_SIZE": "lots"})
    with pytest.raises(ConfigError, match="TICKER_MAX_BATCH_SIZE"):
        load_settings(env={"TICKER_MAX_BATCH_SIZE": "0"})
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(env={"TICKER_DATABASE_URL": "mysql://x"})
    assert load_settings(env={}).encoder_threads == 0  # one worker per CPU
    with pytest.raises(ConfigError, match="TICKER_ENCODER_THREADS"):
        load_settings(env={"TICKER_ENCODER_THREADS": "-1"})
    with pytest.raises(ConfigError, match="TICKER_PG_EF_SEARCH"):
        load_settings(env={"TICKER_PG_EF_SEARCH": "10", "TICKER_CANDIDATE_K": "20"})
    with pytest.raises(ConfigError, match="TICKER_PG_POOL_MAX_SIZE"):
        load_settings(env={"TICKER_PG_POOL_MAX_SIZE": "0"})
    assert load_settings(env={"TICKER_FEATURE_CACHE_SIZE": "0"}).feature_cache_size == 0
    with pytest.raises(ConfigError, match="TICKER_FEATURE_CACHE_SIZE"):
        load_settings(env={"TICKER_FEATURE_CACHE_SIZE": "-5"})
    assert load_settings(env={}).retention_days == 0  # keep everything unless told
    assert load_settings(env={"TICKER_RETENTION_DAYS": "30"}).retention_days == 30.0
    with pytest.raises(ConfigError, match="TICKER_RETENTION_DAYS"):
        load_settings(env={"TICKER_RETENTION_DAYS": "-1"})
    # shorter than the topics' window (7 days): topics would lose stories they still cluster
    with pytest.raises(ConfigError, match="TICKER_RETENTION_DAYS=5 .* at least 7 days"):
        load_settings(env={"TICKER_RETENTION_DAYS": "5"})
    assert load_settings(env={"TICKER_RETENTION_DAYS": "5", "TICKER_TOPIC_WINDOW_HOURS": "96"}).retention_days == 5.0


def test_postgres_settings_reach_the_backend(monkeypatch):
    pytest.importorskip("psycopg")
    from app.store import open_store, postgres

    seen = {}

    class Recorder:
        def __init__(self, dsn, dim, *, schema=None, options=None):
            seen.update(dsn=dsn, dim=dim, options=options)

    monkeypatch.setattr(postgres, "PostgresStore", Recorder)
    s = load_settings(
        env={
            "TICKER_DATABASE_URL": "postgresql://db/ticker",
            "TICKER_PG_POOL_MAX_SIZE": "3",
            "TICKER_PG_POOL_TIMEOUT": "5",
            "TICKER_PG_EF_SEARCH": "64",
            "TICKER_PG_EXACT_SCAN_MAX_ROWS": "0",
        }
    )
    open_store(s, 512)
    o = seen["options"]
    assert seen["dsn"] == "postgresql://db/ticker" and seen["dim"] == 512
    assert (o.pool_max_size, o.pool_timeout, o.ef_search, o.exact_scan_max_rows) == (3, 5.0, 64, 0)
