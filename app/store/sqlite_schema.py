"""The SQLite backend's schema: its migrations, one per version, and how a database is brought up to date."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 5

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE headlines (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL,
        norm TEXT NOT NULL,
        text_hash TEXT NOT NULL,
        lang TEXT,
        source TEXT,
        source_key TEXT NOT NULL,
        ext_id TEXT,
        url TEXT,
        published_at REAL,
        received_at REAL NOT NULL,
        ts REAL NOT NULL,
        story_id INTEGER NOT NULL,
        match TEXT,
        score REAL,
        matched_headline_id INTEGER,
        features TEXT NOT NULL,
        embedding BLOB NOT NULL
    );
    CREATE UNIQUE INDEX headlines_external ON headlines(source_key, ext_id) WHERE ext_id IS NOT NULL;
    CREATE INDEX headlines_hash ON headlines(text_hash, ts);
    CREATE INDEX headlines_story ON headlines(story_id);
    CREATE INDEX headlines_ts ON headlines(ts);
    CREATE INDEX headlines_received ON headlines(received_at);
    CREATE TABLE stories (
        id INTEGER PRIMARY KEY,
        canonical_headline_id INTEGER,
        canonical_ts REAL,
        first_seen REAL NOT NULL,
        last_seen REAL NOT NULL,
        size INTEGER NOT NULL DEFAULT 0,
        topic_id INTEGER,
        languages TEXT NOT NULL DEFAULT '[]',
        sources TEXT NOT NULL DEFAULT '[]',
        centroid_sum BLOB,
        updated_at REAL NOT NULL
    );
    CREATE INDEX stories_last_seen ON stories(last_seen);
    CREATE INDEX stories_topic ON stories(topic_id);
    CREATE TABLE topics (
        id INTEGER PRIMARY KEY,
        label TEXT NOT NULL,
        label_score REAL NOT NULL,
        keywords TEXT NOT NULL,
        centroid BLOB NOT NULL,
        size INTEGER NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE TABLE topic_events (
        id INTEGER PRIMARY KEY,
        at REAL NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # A story's members in time order come straight off these (a page of a story, each language's
    # first headline for the listings), instead of sorting every member of a story re-run all day.
    2: """
    CREATE INDEX headlines_story_ts ON headlines(story_id, ts);
    CREATE INDEX headlines_story_lang ON headlines(story_id, lang, ts, received_at);
    DROP INDEX headlines_story;
    """,
    # Editors' corrections: what they did (and how to undo it), merged stories, stories kept apart.
    3: """
    ALTER TABLE stories ADD COLUMN merged_into INTEGER;
    CREATE TABLE corrections (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL,
        undo TEXT NOT NULL,
        actor TEXT,
        at REAL NOT NULL,
        undone_at REAL,
        undone_by TEXT
    );
    CREATE TABLE story_apart (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (a, b));
    """,
    # Story search (GET /v1/stories?q=): each headline's title folded for search (``search_fold``, the
    # same Python function at insert, registered with the connection for this backfill), in an index
    # with its story so that a search scans the index, not the rows (each holds a 2 KB embedding).
    # A topic's category, and its keywords' languages (a JSON list beside ``keywords``). Stories by topic, newest first, with what the clusters view counts (size,
    # first_seen, languages) in the index itself: a topic's page is a few index entries, and the
    # topics' counts never read the rows (each holds a 2 KB centroid).
    4: """
    ALTER TABLE headlines ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
    UPDATE headlines SET search_text = search_fold(title);
    CREATE INDEX headlines_search ON headlines(search_text, story_id);
    ALTER TABLE topics ADD COLUMN category TEXT;
    ALTER TABLE topics ADD COLUMN keyword_langs TEXT NOT NULL DEFAULT '[]';
    DROP INDEX stories_topic;
    CREATE INDEX stories_topic ON stories(topic_id, last_seen, size, first_seen, languages);
    """,
    # Followed feeds (app/feeds/) and their polling state. AUTOINCREMENT: a deleted feed's id is never
    # given to another (metrics and logs name feeds by id). The lease (leased_by, lease_until) lets one
    # process poll a feed at a time, as on PostgreSQL.
    5: """
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        url TEXT NOT NULL UNIQUE,
        source TEXT NOT NULL,
        lang TEXT,
        interval_seconds REAL NOT NULL,
        created_at REAL NOT NULL,
        next_poll_at REAL NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        disabled_reason TEXT,
        etag TEXT,
        last_modified TEXT,
        last_fetch_at REAL,
        last_status INTEGER,
        last_error TEXT,
        last_error_at REAL,
        consecutive_errors INTEGER NOT NULL DEFAULT 0,
        fetches INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0,
        items_seen INTEGER NOT NULL DEFAULT 0,
        items_stored INTEGER NOT NULL DEFAULT 0,
        leased_by TEXT,
        lease_until REAL
    );
    CREATE INDEX feeds_due ON feeds(enabled, next_poll_at);
    """,
}


def migrate(c: sqlite3.Connection, path: str, version: int = SCHEMA_VERSION) -> None:
    """Bring the database on ``c`` up to schema ``version``, one migration per transaction; a database
    of a newer schema than that is refused."""
    c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = c.execute("SELECT MAX(version) FROM schema_version").fetchone()
    current = row[0] or 0
    if current > version:
        raise RuntimeError(f"database {path} has schema version {current}, newer than this code ({version})")
    for step in range(current + 1, version + 1):
        c.execute("BEGIN IMMEDIATE")
        try:
            for stmt in MIGRATIONS[step].split(";"):
                if stmt.strip():
                    c.execute(stmt)
            c.execute("INSERT INTO schema_version(version) VALUES (?)", (step,))
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
