"""The PostgreSQL backend's machinery: options, the pgvector wire format, the connection pool, write
transactions (an advisory lock serialises them across replicas), the refit lock and the meta table."""

from __future__ import annotations

import struct
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import psycopg
from psycopg.adapt import Dumper, Loader
from psycopg.pq import Format
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool

from .pg_migrations import LOCK_REFIT, LOCK_WRITE, _search_path, migrate
from .sql_store import SQLStore


@dataclass(frozen=True)
class PgOptions:
    """Tunables of the PostgreSQL backend (defaults suit one replica on a small machine)."""

    pool_min_size: int = 1
    #: per replica; keep replicas × this under the server's max_connections
    pool_max_size: int = 8
    #: seconds a caller waits for a free pooled connection before failing
    pool_timeout: float = 30.0
    #: HNSW candidate list size: recall vs. latency (must be >= the k asked for)
    ef_search: int = 100
    #: pgvector >= 0.8: keep scanning the graph until k rows pass the time filter
    iterative_scan: str = "relaxed_order"
    #: pgvector >= 0.8: upper bound of tuples one iterative scan visits
    max_scan_tuples: int = 20000
    #: a time window holding at most this many headlines is searched exactly, without the index
    #: (measured on 512-d: exact costs ~3 µs a row, so 3,000 rows ≈ the index's 15-20 ms, at recall 1)
    exact_scan_max_rows: int = 3000


# --- pgvector wire format ------------------------------------------------------------------
# Binary ``vector``: uint16 dim, uint16 unused, dim × big-endian float32. Written here rather than
# using the pgvector package's adapters, which register for every numpy array and load to lists.


class Vec:
    """Marks a numpy array to be sent as a pgvector ``vector``."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray) -> None:
        self.array = np.asarray(array, dtype=np.float32).reshape(-1)


class _VecDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Vec) -> bytes:
        a = obj.array
        return struct.pack(">HH", a.size, 0) + a.astype(">f4").tobytes()


class _VecLoader(Loader):
    format = Format.BINARY

    def load(self, data: Any) -> np.ndarray:
        return np.frombuffer(bytes(data), dtype=">f4", offset=4).astype(np.float32)


class _VecTextLoader(Loader):
    format = Format.TEXT

    def load(self, data: Any) -> np.ndarray:
        text = bytes(data).decode()
        return np.array(text[1:-1].split(","), dtype=np.float32) if len(text) > 2 else np.zeros(0, np.float32)


def _register_vector(conn: psycopg.Connection, oid: int) -> None:
    dumper = type("VecDumper", (_VecDumper,), {"oid": oid})
    conn.adapters.register_dumper(Vec, dumper)
    conn.adapters.register_loader(oid, _VecLoader)
    conn.adapters.register_loader(oid, _VecTextLoader)


def _version_at_least(version: str, minimum: tuple[int, ...]) -> bool:
    parts = []
    for p in version.split("."):
        digits = "".join(ch for ch in p if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts) >= minimum


class PostgresBase(SQLStore):
    """What every part of ``PostgresStore`` works with (``pg_topics``, ``pg_corrections`` and ``pg_feeds``
    add methods to it)."""

    backend = "postgres"
    shared_writers = True
    _mark = "%s"

    def __init__(self, dsn: str, dim: int, *, schema: str | None = None, options: PgOptions | None = None) -> None:
        """``schema``: work in this schema (created if missing); else the DSN's search_path decides."""
        self.dim = int(dim)
        self.options = options or PgOptions()
        if self.options.ef_search < 1 or self.options.pool_max_size < 1:
            raise ValueError("ef_search and pool_max_size must be >= 1")
        self._local = threading.local()
        with psycopg.connect(dsn, autocommit=False) as boot:
            migrate(boot, self.dim, schema)
            if schema:
                boot.execute("SELECT set_config('search_path', %s, false)", (_search_path(schema),))
            row = boot.execute(
                "SELECT current_schema(), hashtext(current_schema()), "
                "(SELECT extversion FROM pg_extension WHERE extname = 'vector')"
            ).fetchone()
            boot.commit()
            info = TypeInfo.fetch(boot, "vector")
            boot.commit()
        assert row is not None and info is not None
        self.schema: str = row[0]
        self._schema_key: int = int(row[1])
        self._vector_oid = info.oid
        self._iterative = _version_at_least(row[2] or "0", (0, 8))
        self._schema_opt = schema
        self._pool = ConnectionPool(
            dsn,
            min_size=self.options.pool_min_size,
            max_size=self.options.pool_max_size,
            timeout=self.options.pool_timeout,
            # prepare_threshold=None: no server-side prepared statements, so every nearest() is
            # planned with its actual time range (a generic plan could pick HNSW for a window
            # that a btree scan answers exactly, or the reverse).
            kwargs={"autocommit": True, "prepare_threshold": None},
            configure=self._configure,
            name=f"ticker-store-{self.schema}",
            open=False,
        )
        self._pool.open(wait=True, timeout=self.options.pool_timeout)

    def _configure(self, conn: psycopg.Connection) -> None:
        _register_vector(conn, self._vector_oid)
        settings = {"hnsw.ef_search": str(self.options.ef_search)}
        if self._iterative:
            settings["hnsw.iterative_scan"] = self.options.iterative_scan
            settings["hnsw.max_scan_tuples"] = str(self.options.max_scan_tuples)
        if self._schema_opt:
            settings["search_path"] = _search_path(self._schema_opt)
        for name, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", (name, value))

    def close(self) -> None:
        self._pool.close()

    # --- transactions --------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        local = self._local
        if getattr(local, "conn", None) is not None:  # nested: join the outer transaction
            yield
            return
        with self._pool.connection() as conn:
            local.conn, local.dirty = conn, False
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_WRITE, self._schema_key))
                    yield
                    if local.dirty:
                        conn.execute(
                            "INSERT INTO meta (key, value) VALUES ('data_version', '1') "
                            "ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text"
                        )
            finally:
                local.conn, local.dirty = None, False

    @contextmanager
    def _write(self) -> Iterator[psycopg.Connection]:
        with self.transaction():
            self._local.dirty = True
            yield self._local.conn

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """This thread's transaction connection if one is open, else a pooled one."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
        else:
            with self._pool.connection() as pooled:
                yield pooled

    def _q(self, query: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple]:
        with self._conn() as conn:
            return conn.execute(query, params, binary=True).fetchall()

    @contextmanager
    def refit_leader(self) -> Iterator[bool]:
        """True for the one process holding the database-wide refit lock; it is released after."""
        conn: psycopg.Connection = self._pool.getconn()
        returned = False
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (LOCK_REFIT, self._schema_key)).fetchone()
            if not (got and got[0]):
                self._pool.putconn(conn)  # not needed while the caller does its fallback
                returned = True
                yield False
                return
            try:
                yield True
            finally:
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_REFIT, self._schema_key))
                except psycopg.Error:
                    # A session lock must never go back to the pool: drop the connection with it.
                    conn.close()
        finally:
            if not returned:
                self._pool.putconn(conn)

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction(), self._conn() as c:
            c.execute(
                "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
