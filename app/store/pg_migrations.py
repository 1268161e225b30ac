"""Versioned schema migrations for the PostgreSQL backend, applied at start-up.

Each migration is SQL text (``{dim}`` is replaced by the embedding dimension) applied once, in
order, inside one transaction that first takes a database-wide advisory lock: replicas that start
together queue on the lock, and the second finds the work done. ``schema_migrations`` records
what was applied. A database newer than the code is refused rather than guessed at.

To change the schema, append a new version; never edit an applied one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import psycopg
from psycopg import sql

from ..ingest.fold import search_fold

log = logging.getLogger("ticker.store")

#: Advisory lock "class" keys (first int4 of the two-key form), one per purpose. The second key
#: is a hash of the schema name, so deployments in different schemas of one database don't
#: block each other. Migrations use 0 as second key: CREATE EXTENSION is database-wide.
LOCK_MIGRATE = 0x7463_6B00  # "tck\0"
LOCK_WRITE = 0x7463_6B01
LOCK_REFIT = 0x7463_6B02
LOCK_FEEDS = 0x7463_6B03


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str
    #: Python work after the SQL, in the same transaction (a backfill that needs a Python function)
    then: Callable[[psycopg.Connection], None] | None = None


#: rows per statement of migration 3's backfill
_BACKFILL_BATCH = 2000


def _fill_search_text(conn: psycopg.Connection) -> None:
    """Migration 3: the folded search text of the headlines stored before it (``search_fold``, as
    ``insert_headline`` fills it), then a trigram index over it where pg_trgm can be had."""
    last = -1
    while True:
        rows = conn.execute(
            "SELECT id, title FROM headlines WHERE id > %s ORDER BY id LIMIT %s", (last, _BACKFILL_BATCH)
        ).fetchall()
        if not rows:
            break
        last = int(rows[-1][0])
        conn.execute(
            "UPDATE headlines SET search_text = v.s FROM unnest(%s::bigint[], %s::text[]) AS v(id, s)"
            " WHERE headlines.id = v.id",
            ([int(r[0]) for r in rows], [search_fold(r[1]) for r in rows]),
        )
    _trigram_index(conn)


def _trigram_index(conn: psycopg.Connection) -> None:
    # A search's words are substrings (LIKE '%word%'): a btree cannot help, a pg_trgm GIN index can. The
    # extension is database-wide: made in public (where the vector type usually is) rather than in this
    # deployment's schema, so that dropping a schema never takes it from the others. Without it (not
    # installed, or not allowed) searches scan the headlines: correct, slower.
    try:
        with conn.transaction():  # a savepoint: a failure here leaves the migration whole
            if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'").fetchone() is None:
                if conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").fetchone() is None:
                    log.warning("pg_trgm is not available: story searches will scan the headlines")
                    return
                public = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'public'").fetchone()
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" WITH SCHEMA public" if public else ""))
            row = conn.execute(
                "SELECT n.nspname FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace"
                " JOIN pg_am a ON a.oid = c.opcmethod WHERE c.opcname = 'gin_trgm_ops' AND a.amname = 'gin'"
            ).fetchone()
            if row is None:
                log.warning("pg_trgm has no gin_trgm_ops: story searches will scan the headlines")
                return
            conn.execute(
                sql.SQL("CREATE INDEX headlines_search ON headlines USING gin (search_text {}.gin_trgm_ops)").format(
                    sql.Identifier(row[0])
                )
            )
    except psycopg.Error as exc:
        log.warning("no trigram index for story searches (%s): they will scan the headlines", exc)


# The HNSW index is built on a halfvec (16-bit) cast of the full-precision column: half the
# index memory, and halfvec indexes accept up to 4000 dimensions (vector: 2000). The table keeps
# float32 so embeddings read back exactly as written; nearest() re-ranks with the exact cosine.
# Vectors are stored inline (STORAGE MAIN) rather than TOASTed (pgvector's default, EXTERNAL): an
# exact scan over a time window and the re-rank read each vector, and a TOAST fetch per row made
# a 5,000-row window scan take 90 ms instead of a few. toast_tuple_target = 8160 stops PostgreSQL
# from then moving the titles out of line to squeeze a 2 KB-vector row under its 2 KB default.
MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "headlines, stories, topics, topic events, meta",
        """
        CREATE EXTENSION IF NOT EXISTS vector;
        CREATE TABLE headlines (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            title text NOT NULL,
            norm text NOT NULL,
            text_hash text NOT NULL,
            lang text,
            source text,
            source_key text NOT NULL,
            ext_id text,
            url text,
            published_at double precision,
            received_at double precision NOT NULL,
            ts double precision NOT NULL,
            story_id bigint NOT NULL,
            match text,
            score double precision,
            matched_headline_id bigint,
            features text NOT NULL,
            embedding vector({dim}) NOT NULL
        ) WITH (toast_tuple_target = 8160);
        ALTER TABLE headlines ALTER COLUMN embedding SET STORAGE MAIN;
        CREATE UNIQUE INDEX headlines_external ON headlines (source_key, ext_id) WHERE ext_id IS NOT NULL;
        CREATE INDEX headlines_hash ON headlines (text_hash, ts);
        CREATE INDEX headlines_story ON headlines (story_id, ts);
        CREATE INDEX headlines_ts ON headlines (ts);
        CREATE INDEX headlines_embedding ON headlines
            USING hnsw ((embedding::halfvec({dim})) halfvec_cosine_ops) WITH (m = 16, ef_construction = 64);
        CREATE TABLE stories (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            canonical_headline_id bigint,
            canonical_ts double precision,
            first_seen double precision NOT NULL,
            last_seen double precision NOT NULL,
            size integer NOT NULL DEFAULT 0,
            topic_id bigint,
            languages text[] NOT NULL DEFAULT '{{}}',
            sources text[] NOT NULL DEFAULT '{{}}',
            centroid_sum vector({dim}),
            updated_at double precision NOT NULL
        ) WITH (toast_tuple_target = 8160);
        ALTER TABLE stories ALTER COLUMN centroid_sum SET STORAGE MAIN;
        CREATE INDEX stories_last_seen ON stories (last_seen);
        CREATE INDEX stories_topic ON stories (topic_id);
        CREATE TABLE topics (
            id bigint PRIMARY KEY,
            label text NOT NULL,
            label_score double precision NOT NULL,
            keywords text[] NOT NULL,
            centroid vector({dim}) NOT NULL,
            size integer NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL
        );
        ALTER TABLE topics ALTER COLUMN centroid SET STORAGE MAIN;
        CREATE TABLE topic_events (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            at double precision NOT NULL,
            payload text NOT NULL
        );
        CREATE TABLE meta (key text PRIMARY KEY, value text NOT NULL);
        """,
    ),
    # Editors' corrections. A merge is recorded on the merged story itself, so retention deletes it
    # with the story; story_apart keeps the smaller id as ``a`` so that one pair has one row.
    Migration(
        2,
        "editors' corrections: stories.merged_into, corrections, story_apart",
        """
        ALTER TABLE stories ADD COLUMN merged_into bigint;
        CREATE TABLE corrections (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            kind text NOT NULL,
            payload jsonb NOT NULL,
            undo jsonb NOT NULL,
            actor text,
            at double precision NOT NULL,
            undone_at double precision,
            undone_by text
        );
        CREATE TABLE story_apart (
            a bigint NOT NULL,
            b bigint NOT NULL,
            PRIMARY KEY (a, b)
        );
        """,
    ),
    # Story search (GET /v1/stories?q=): each headline's title folded for search by the same Python
    # function ``insert_headline`` uses (``search_fold``), backfilled by ``_fill_search_text``, which also
    # adds the trigram index. A topic's category, and its keywords' languages beside ``keywords``. Stories by topic newest first: a topic's page of the
    # clusters view is its first few entries.
    Migration(
        3,
        "story search: headlines.search_text (backfilled, trigram index); topics.category and keyword_langs; stories by topic and time",
        """
        ALTER TABLE headlines ADD COLUMN search_text text NOT NULL DEFAULT '';
        ALTER TABLE topics ADD COLUMN category text;
        ALTER TABLE topics ADD COLUMN keyword_langs text[] NOT NULL DEFAULT '{{}}';
        CREATE INDEX stories_topic_recent ON stories (topic_id, last_seen DESC, id DESC);
        DROP INDEX stories_topic;
        """,
        then=_fill_search_text,
    ),
    # Followed feeds (app/feeds/) and their polling state. The lease (leased_by, lease_until) is taken by a
    # conditional UPDATE, so one replica polls a feed at a time and a dead replica's feeds are taken over
    # once its lease runs out. Identity ALWAYS-by-default never gives a deleted feed's id again.
    Migration(
        4,
        "followed feeds: feeds (URL, source, polling state, lease)",
        """
        CREATE TABLE feeds (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            url text NOT NULL UNIQUE,
            source text NOT NULL,
            lang text,
            interval_seconds double precision NOT NULL,
            created_at double precision NOT NULL,
            next_poll_at double precision NOT NULL,
            enabled boolean NOT NULL DEFAULT true,
            disabled_reason text,
            etag text,
            last_modified text,
            last_fetch_at double precision,
            last_status integer,
            last_error text,
            last_error_at double precision,
            consecutive_errors integer NOT NULL DEFAULT 0,
            fetches bigint NOT NULL DEFAULT 0,
            errors bigint NOT NULL DEFAULT 0,
            items_seen bigint NOT NULL DEFAULT 0,
            items_stored bigint NOT NULL DEFAULT 0,
            leased_by text,
            lease_until double precision
        );
        CREATE INDEX feeds_due ON feeds (next_poll_at) WHERE enabled;
        """,
    ),
)

LATEST = MIGRATIONS[-1].version


def _statements(text: str) -> list[str]:
    # Migration SQL holds no semicolons inside literals or bodies; keep it that way.
    return [s.strip() for s in text.split(";") if s.strip()]


def migrate(conn: psycopg.Connection, dim: int, schema: str | None = None) -> list[int]:
    """Bring the schema up to ``LATEST``; returns the versions applied now (empty if none).

    ``schema``: create it if missing and work in it; else the first existing schema of the
    connection's search_path. ``conn`` must not be in autocommit mode.
    """
    applied: list[int] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_MIGRATE,))
        if schema:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute("SELECT set_config('search_path', %s, true)", (_search_path(schema),))
        if conn.execute("SELECT current_schema()").fetchone()[0] is None:  # type: ignore[index]
            raise RuntimeError("no schema of the search_path exists; create one or pass schema=")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
        current = int(row[0])  # type: ignore[index]
        if current > LATEST:
            raise RuntimeError(f"database schema version {current} is newer than this code ({LATEST})")
        for m in MIGRATIONS:
            if m.version <= current:
                continue
            for stmt in _statements(m.sql.format(dim=int(dim))):
                conn.execute(stmt)
            if m.then is not None:
                m.then(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)", (m.version, m.description)
            )
            applied.append(m.version)
        stored = conn.execute("SELECT value FROM meta WHERE key = 'embedding_dim'").fetchone()
        if stored is None:
            conn.execute("INSERT INTO meta (key, value) VALUES ('embedding_dim', %s)", (str(dim),))
        elif int(stored[0]) != dim:
            raise RuntimeError(
                f"database holds {stored[0]}-d embeddings but the encoder gives {dim}-d; "
                "use another database/schema or the encoder it was built with"
            )
    return applied


def _search_path(schema: str) -> str:
    # public stays on the path: that is where CREATE EXTENSION vector usually put the type.
    return f'"{schema.replace(chr(34), chr(34) * 2)}", public'
