"""The README's configuration table names every setting, and no setting it does not have."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest
from conftest import ROOT

from app.config import PREFIX, ConfigError, Settings, load_settings


def test_readme_lists_every_setting():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(TICKER_[A-Z_]+)`", readme))
    settings = {PREFIX + f.name.upper() for f in fields(Settings) if f.name != "extra"}
    assert settings - documented == set(), "settings missing from the README"
    assert documented - settings - {"TICKER_TEST_PG_DSN", "TICKER_URL", "TICKER_SAMPLE_DIR"} == set()


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
