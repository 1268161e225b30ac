"""Every ``TICKER_`` setting in one place: its default, its parsing and its validation.

The table in docs/configuration.md is written from ``Settings`` below; keep the two in step.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

PREFIX = "TICKER_"


class ConfigError(ValueError):
    """A TICKER_ variable could not be parsed or is out of range."""


def _split_csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    # --- storage -------------------------------------------------------------------------
    data_dir: Path = Path("./data")
    #: "sqlite" (embedded default) or a PostgreSQL DSN ("postgresql://...")
    database_url: str = "sqlite"
    #: embedded store: stored rows from which the vector search is approximate (faiss IVF); 0 = always exact
    vector_ann_min_rows: int = 8192
    #: PostgreSQL: pooled connections per replica (keep replicas x this under the server's max_connections)
    pg_pool_max_size: int = 8
    #: PostgreSQL: seconds a request waits for a pooled connection before failing
    pg_pool_timeout: float = 30.0
    #: PostgreSQL: HNSW candidate list size (recall vs latency; at least TICKER_CANDIDATE_K)
    pg_ef_search: int = 100
    #: PostgreSQL: a time window holding at most this many headlines is searched exactly, not by the index
    pg_exact_scan_max_rows: int = 3000
    # --- encoder -------------------------------------------------------------------------
    #: "use-m3" (multilingual USE v3, offline, default) or "st:<model name or local path>"
    encoder: str = "use-m3"
    #: worker threads encoding slices of a batch in parallel, each on a one-thread BLAS; 0 = one per CPU
    encoder_threads: int = 0
    encoder_batch_size: int = 256
    # --- ingestion limits ----------------------------------------------------------------
    max_title_chars: int = 1000
    max_batch_size: int = 1000
    max_body_bytes: int = 2_000_000
    languages: tuple[str, ...] = ("fr", "es", "en", "ar")
    # --- story matching ------------------------------------------------------------------
    window_hours: float = 72.0
    #: combined match score needed to join a story; unset = the tuned default in app/stories/score.py
    match_threshold: float | None = None
    #: how many nearest headlines are scored as candidates
    candidate_k: int = 20
    #: cosine under which a candidate is not even scored; unset = the tuned default
    candidate_min_cosine: float | None = None
    #: editors' corrections from which the threshold is refitted for this deployment (every
    #: ``teach_every`` more); 0 = never (the fitted default, or TICKER_MATCH_THRESHOLD, stays)
    teach_min_corrections: int = 20
    teach_every: int = 5
    #: stored headlines whose matching view (story, time, compact features: ~4.3 KB each) is kept in
    #: memory, the newest read in at start-up; 0 = none (every candidate read from the store)
    feature_cache_size: int = 50_000
    # --- retention -----------------------------------------------------------------------
    #: forget a story (with all its headlines) this many days after its last headline; 0 = keep everything
    retention_days: float = 0.0
    retention_every_seconds: float = 3600.0
    # --- topics --------------------------------------------------------------------------
    topic_window_hours: float = 24.0 * 7
    topic_min_cluster_size: int = 5
    topic_min_samples: int = 3
    topic_knn: int = 16
    topic_assign_threshold: float = 0.45
    #: weight of the taxonomy profile in the space topics are clustered in (0: embeddings alone)
    topic_guide_weight: float = 0.5
    refit_every_stories: int = 200
    refit_every_seconds: float = 300.0
    #: at most one background refit per this many seconds, however fast stories arrive
    refit_min_seconds: float = 30.0
    #: a refit over at least this many stories is computed in a child process (its GIL holds and
    #: garbage-collection passes then never stall a dedup check); 0 = always, -1 = never
    refit_process_min_stories: int = 2000
    taxonomy_path: str = ""
    # --- access --------------------------------------------------------------------------
    api_key: str = field(default="", repr=False)  # never in logs or tracebacks
    #: require the API key for read endpoints too
    protect_reads: bool = False
    cors_origins: tuple[str, ...] = ()
    dedup_rate_per_minute: int = 600
    # --- connections (the body deadline is the app's; the rest reach uvicorn through `python -m app`) ----
    #: proxies (IP addresses, CIDR networks) whose X-Forwarded-For/-Proto are believed; none: the peer is the client
    trusted_proxies: tuple[str, ...] = ()
    #: seconds a request's whole body may take to arrive, from the end of its head (408 after)
    body_timeout_seconds: float = 15.0
    #: seconds a connection may take to send a request's head, from its opening or the previous response
    header_timeout_seconds: float = 10.0
    #: largest request head (request line and headers), bytes (431 above)
    max_header_bytes: int = 65536
    #: seconds an idle keep-alive connection stays open after a response
    keep_alive_seconds: int = 5
    # --- feed polling (app/feeds/, docs/feeds.md) -----------------------------------------------
    #: poll the registered RSS/Atom/JSON feeds in this process (off: feeds are stored and listed, not fetched)
    feeds_poll: bool = True
    #: fetch feed URLs (and redirects) that resolve to loopback, private, link-local or other non-public addresses
    feeds_allow_private: bool = False
    #: largest feed document read, bytes: a larger one is cut there and recorded as an error
    feeds_max_bytes: int = 5_000_000
    #: seconds one fetch may take, redirects and the whole body included
    feeds_timeout_seconds: float = 20.0
    #: a feed's poll interval when POST /v1/feeds names none ...
    feeds_default_interval_seconds: float = 900.0
    #: ... the shortest and longest one it may name
    feeds_min_interval_seconds: float = 60.0
    feeds_max_interval_seconds: float = 86_400.0
    #: longest wait between two polls of a failing feed (the backoff doubles up to this)
    feeds_max_backoff_seconds: float = 21_600.0
    #: redirects followed in one fetch
    feeds_max_redirects: int = 5
    #: most feeds registered (POST /v1/feeds answers 409 beyond)
    feeds_max: int = 1000
    #: feeds fetched at once by one process
    feeds_workers: int = 4
    #: seconds a process holds a feed while polling it; a process that dies hands it over after this
    feeds_lease_seconds: float = 120.0
    # --- start-up ------------------------------------------------------------------------
    #: ingest sample_data/ at start-up when the store is empty (the README's run command sets it)
    load_sample_data: bool = False
    log_level: str = "info"

    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "ticker.sqlite3"

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgres://", "postgresql://"))


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


#: optional numbers: None means "the tuned default of the module that owns the number"
_OPTIONAL_FLOATS = {"match_threshold", "candidate_min_cosine"}


def _parse(name: str, raw: str, default: Any) -> Any:
    try:
        if name in _OPTIONAL_FLOATS:
            return float(raw) if raw.strip() else None
        if isinstance(default, bool):
            low = raw.strip().lower()
            if low in _BOOL_TRUE:
                return True
            if low in _BOOL_FALSE:
                return False
            raise ValueError("expected one of 1/0, true/false, yes/no, on/off")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, Path):
            return Path(raw)
        if isinstance(default, tuple):
            return _split_csv(raw)
        return raw
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}{name.upper()}={raw!r}: {exc}") from None


def _validate(s: Settings) -> None:
    positive = [
        "encoder_batch_size",
        "max_title_chars",
        "max_batch_size",
        "max_body_bytes",
        "candidate_k",
        "topic_min_cluster_size",
        "topic_min_samples",
        "topic_knn",
        "refit_every_stories",
        "dedup_rate_per_minute",
        "pg_pool_max_size",
        "pg_ef_search",
        "body_timeout_seconds",
        "header_timeout_seconds",
        "max_header_bytes",
        "keep_alive_seconds",
        "feeds_max_bytes",
        "feeds_timeout_seconds",
        "feeds_min_interval_seconds",
        "feeds_max",
        "feeds_workers",
        "feeds_lease_seconds",
        "feeds_max_backoff_seconds",
    ]
    for name in positive:
        if getattr(s, name) <= 0:
            raise ConfigError(f"{PREFIX}{name.upper()} must be > 0, got {getattr(s, name)}")
    for name in ("teach_min_corrections", "teach_every"):
        if getattr(s, name) < 0:
            raise ConfigError(f"{PREFIX}{name.upper()} must be >= 0, got {getattr(s, name)}")
    if s.feature_cache_size < 0:
        raise ConfigError(f"{PREFIX}FEATURE_CACHE_SIZE must be >= 0 (0 = no cache), got {s.feature_cache_size}")
    if s.vector_ann_min_rows < 0:
        raise ConfigError(
            f"{PREFIX}VECTOR_ANN_MIN_ROWS must be >= 0 (0 = exact search only), got {s.vector_ann_min_rows}"
        )
    if s.encoder_threads < 0:
        raise ConfigError(f"{PREFIX}ENCODER_THREADS must be >= 0 (0 = one per CPU), got {s.encoder_threads}")
    if not 0.0 <= s.topic_guide_weight <= 10.0:
        raise ConfigError(f"{PREFIX}TOPIC_GUIDE_WEIGHT must be between 0 and 10, got {s.topic_guide_weight}")
    if s.pg_ef_search < s.candidate_k:
        raise ConfigError(f"{PREFIX}PG_EF_SEARCH ({s.pg_ef_search}) must be >= {PREFIX}CANDIDATE_K ({s.candidate_k})")
    if s.refit_min_seconds < 0:
        raise ConfigError(f"{PREFIX}REFIT_MIN_SECONDS must be >= 0, got {s.refit_min_seconds}")
    if s.pg_exact_scan_max_rows < 0:
        raise ConfigError(f"{PREFIX}PG_EXACT_SCAN_MAX_ROWS must be >= 0, got {s.pg_exact_scan_max_rows}")
    for name in ("window_hours", "topic_window_hours", "refit_every_seconds", "pg_pool_timeout"):
        if getattr(s, name) <= 0:
            raise ConfigError(f"{PREFIX}{name.upper()} must be > 0, got {getattr(s, name)}")
    for name in ("match_threshold", "candidate_min_cosine", "topic_assign_threshold"):
        value = getattr(s, name)
        if value is not None and not -1.0 <= value <= 10.0:
            raise ConfigError(f"{PREFIX}{name.upper()} out of range: {getattr(s, name)}")
    if not s.languages:
        raise ConfigError(f"{PREFIX}LANGUAGES must name at least one language")
    if s.retention_days < 0:
        raise ConfigError(f"{PREFIX}RETENTION_DAYS must be >= 0 (0 = keep everything), got {s.retention_days}")
    if s.retention_days > 0 and s.retention_days * 24.0 < max(s.window_hours, s.topic_window_hours):
        raise ConfigError(
            f"{PREFIX}RETENTION_DAYS={s.retention_days:g} would delete stories that matching or topics still read: "
            f"it must cover {PREFIX}WINDOW_HOURS ({s.window_hours:g} h) and {PREFIX}TOPIC_WINDOW_HOURS "
            f"({s.topic_window_hours:g} h), so at least {max(s.window_hours, s.topic_window_hours) / 24.0:g} days"
        )
    if s.retention_every_seconds <= 0:
        raise ConfigError(f"{PREFIX}RETENTION_EVERY_SECONDS must be > 0, got {s.retention_every_seconds}")
    for proxy in s.trusted_proxies:
        try:
            # strict: "10.0.0.1/8" (host bits set) is refused rather than guessed at
            ipaddress.ip_network(proxy)
        except ValueError as exc:
            raise ConfigError(
                f"{PREFIX}TRUSTED_PROXIES: {proxy!r} is not an IP address or CIDR network: {exc}"
            ) from None
    if s.feeds_max_redirects < 0:
        raise ConfigError(f"{PREFIX}FEEDS_MAX_REDIRECTS must be >= 0, got {s.feeds_max_redirects}")
    if not s.feeds_min_interval_seconds <= s.feeds_default_interval_seconds <= s.feeds_max_interval_seconds:
        raise ConfigError(
            f"{PREFIX}FEEDS_DEFAULT_INTERVAL_SECONDS ({s.feeds_default_interval_seconds:g}) must lie between "
            f"{PREFIX}FEEDS_MIN_INTERVAL_SECONDS ({s.feeds_min_interval_seconds:g}) and "
            f"{PREFIX}FEEDS_MAX_INTERVAL_SECONDS ({s.feeds_max_interval_seconds:g})"
        )
    if s.feeds_lease_seconds <= s.feeds_timeout_seconds:
        # a lease that ran out while its holder still fetched would let a second replica poll the same feed
        raise ConfigError(
            f"{PREFIX}FEEDS_LEASE_SECONDS ({s.feeds_lease_seconds:g}) must be longer than "
            f"{PREFIX}FEEDS_TIMEOUT_SECONDS ({s.feeds_timeout_seconds:g})"
        )
    if s.database_url != "sqlite" and not s.is_postgres:
        raise ConfigError(f"{PREFIX}DATABASE_URL must be 'sqlite' or a postgresql:// DSN, got {s.database_url!r}")


def load_settings(env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Build Settings from ``TICKER_*`` variables (``env`` defaults to os.environ), then overrides."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "extra":
            continue
        key = PREFIX + f.name.upper()
        if key in env:
            values[f.name] = _parse(f.name, env[key], f.default)
    values.update(overrides)
    settings = Settings(**values)
    _validate(settings)
    return settings
