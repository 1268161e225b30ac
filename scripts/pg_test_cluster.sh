#!/usr/bin/env bash
# shellcheck disable=SC2015  # `A && B || die` is meant: die unless both hold
# A throw-away PostgreSQL cluster for tests: initdb in DIR, loopback only, a free port, trust
# auth, database ticker_test with the vector extension. Nothing outside DIR is touched.
#
# Usage:
#   DSN=$(scripts/pg_test_cluster.sh start DIR)   # prints the DSN on stdout (logs go to stderr)
#   scripts/pg_test_cluster.sh dsn DIR            # the DSN of the running cluster in DIR
#   scripts/pg_test_cluster.sh stop DIR           # stops it and removes DIR
#
# `start` on a DIR whose cluster is running just prints its DSN; a leftover DIR whose server is
# gone is wiped and made anew. `stop` on a missing DIR succeeds. DIR must be empty, absent, or one
# this script made (it leaves a marker file), so a wrong path is never deleted.
#
# PostgreSQL refuses to run as root, so as root the server runs as $PG_TEST_USER (default
# `postgres`, created as a system user if missing) and DIR is chowned to it. That user must be
# able to reach DIR: pytest's tmp_path (/tmp/pytest-of-root is 0700) is not; use e.g.
# `mktemp -d` + chmod 755, or a dir under /tmp.
#
# Env: PG_MAJOR=15  PG_TEST_DB=ticker_test  PG_TEST_USER=postgres  PG_TEST_PORT=<fixed port>
#      PG_TEST_VECTOR=1 (0: don't create the vector extension)
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PG_BIN="/usr/lib/postgresql/${PG_MAJOR}/bin"
DB="${PG_TEST_DB:-ticker_test}"
SUPERUSER=postgres          # the database role; independent of the OS user running the server
MARKER=.ticker_pg_test_cluster
START_TIMEOUT_S=30

log() { echo "pg_test_cluster: $*" >&2; }
die() { echo "pg_test_cluster: ERROR: $*" >&2; exit 1; }

usage() { die "usage: $0 start|stop|dsn DIR"; }
[ $# -eq 2 ] || usage
cmd=$1
DIR=$2
[ -n "$DIR" ] && [ "$DIR" != / ] || die "refusing DIR='$DIR'"
DIR=$(realpath -m -- "$DIR")
DATA="$DIR/data"
# The server's user may not be able to enter the caller's cwd (e.g. /root); initdb/pg_ctl warn then.
cd /

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# The OS user that owns and runs the server.
if [ "$(id -u)" = 0 ]; then
    RUN_USER="${PG_TEST_USER:-postgres}"
    as_user() { runuser -u "$RUN_USER" -- "$@"; }
else
    RUN_USER=$(id -un)
    as_user() { "$@"; }
fi

ours() { [ -f "$DIR/$MARKER" ]; }

# pg_ctl status only checks that the pid in postmaster.pid exists, which a killed but not yet
# reaped postmaster still does; so also ask the server itself.
running() {
    [ -f "$DATA/postmaster.pid" ] && as_user "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1 &&
        [ -f "$DIR/dsn" ] &&
        "$PG_BIN/pg_isready" -q -t 5 -d "$(cat "$DIR/dsn")" >/dev/null 2>&1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' ||
        die "python3 is needed to find a free port (or set PG_TEST_PORT)"
}

ensure_run_user() {
    [ "$(id -u)" = 0 ] || return 0
    if ! id "$RUN_USER" >/dev/null 2>&1; then
        log "creating system user $RUN_USER to run the server (PostgreSQL refuses root)"
        useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$RUN_USER" ||
            die "could not create user $RUN_USER"
    fi
}

# Every ancestor of DIR must be enterable by the server's user, or initdb fails obscurely.
check_reachable() {
    local parent
    parent=$(dirname "$DIR")
    if ! as_user test -x "$parent" -a -r "$parent" 2>/dev/null; then
        remove_dir
        die "user $RUN_USER cannot enter $parent (check the modes of its ancestors, e.g. pytest's 0700 /tmp/pytest-of-root); pick a DIR it can reach"
    fi
}

remove_dir() {
    ours || die "$DIR was not made by this script (no $MARKER); not removing it"
    rm -rf -- "$DIR"
}

psql_admin() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U "$SUPERUSER" -d "$2" -c "$3" >&2
}

start() {
    local t0 port attempt
    t0=$(now)
    if [ -e "$DIR" ] && ours && running; then
        log "already running in $DIR"
        cat "$DIR/dsn"
        return 0
    fi
    [ -x "$PG_BIN/initdb" ] || die "$PG_BIN/initdb not found: apt-get install postgresql-${PG_MAJOR} (or run scripts/install_pgvector.sh)"
    if [ "${PG_TEST_VECTOR:-1}" = 1 ] && [ ! -f "$("$PG_BIN/pg_config" --sharedir)/extension/vector.control" ]; then
        die "pgvector is not installed for PostgreSQL ${PG_MAJOR}: run scripts/install_pgvector.sh (as root)"
    fi
    if [ -e "$DIR" ]; then
        if ours; then
            log "leftover cluster in $DIR is not running; making it anew"
            [ -f "$DATA/postmaster.pid" ] && as_user "$PG_BIN/pg_ctl" -D "$DATA" -m immediate stop >/dev/null 2>&1 || true
            remove_dir
        elif [ -n "$(ls -A -- "$DIR")" ]; then
            die "$DIR exists, is not empty and was not made by this script"
        fi
    fi
    ensure_run_user
    mkdir -p -- "$DIR"
    touch "$DIR/$MARKER"
    if [ "$(id -u)" = 0 ]; then chown -R "$RUN_USER:" "$DIR"; fi
    chmod 700 "$DIR"
    check_reachable

    # --no-sync and the settings below trade durability for speed: this cluster is thrown away.
    as_user "$PG_BIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust -E UTF8 --locale=C.UTF-8 \
        --no-sync --no-instructions >"$DIR/initdb.log" 2>&1 ||
        { tail -n 20 "$DIR/initdb.log" >&2; die "initdb failed (full log: $DIR/initdb.log)"; }

    # A port picked now may be taken before the server binds it; retry a few times then.
    for attempt in 1 2 3 4 5; do
        port="${PG_TEST_PORT:-$(free_port)}"
        cat >"$DATA/postgresql.auto.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
log_min_messages = warning
EOF
        if [ "$(id -u)" = 0 ]; then chown "$RUN_USER:" "$DATA/postgresql.auto.conf"; fi
        if as_user "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t "$START_TIMEOUT_S" start >/dev/null 2>&1; then
            break
        fi
        if [ -n "${PG_TEST_PORT:-}" ] || [ "$attempt" = 5 ] || ! grep -q 'could not bind' "$DIR/server.log" 2>/dev/null; then
            tail -n 20 "$DIR/server.log" >&2 2>/dev/null || true
            die "server did not start (log: $DIR/server.log)"
        fi
        log "port $port was taken; trying another"
    done

    psql_admin "$port" postgres "CREATE DATABASE \"$DB\"" || die "CREATE DATABASE $DB failed"
    if [ "${PG_TEST_VECTOR:-1}" = 1 ]; then
        psql_admin "$port" "$DB" "CREATE EXTENSION IF NOT EXISTS vector" ||
            die "CREATE EXTENSION vector failed (is pgvector built for PostgreSQL ${PG_MAJOR}?)"
    fi
    echo "postgresql://${SUPERUSER}@127.0.0.1:${port}/${DB}" >"$DIR/dsn"
    log "started in $(since "$t0")s (data $DATA, log $DIR/server.log)"
    cat "$DIR/dsn"
}

stop() {
    local t0
    t0=$(now)
    if [ ! -e "$DIR" ]; then
        log "$DIR does not exist; nothing to stop"
        return 0
    fi
    ours || die "$DIR was not made by this script (no $MARKER); not touching it"
    if [ -f "$DATA/postmaster.pid" ]; then
        # immediate: no checkpoint, the data is about to be deleted anyway
        if ! as_user "$PG_BIN/pg_ctl" -D "$DATA" -m immediate -w -t "$START_TIMEOUT_S" stop >/dev/null 2>&1; then
            if running; then die "could not stop the server in $DATA (log: $DIR/server.log)"; fi
        fi
    fi
    remove_dir
    log "stopped and removed $DIR in $(since "$t0")s"
}

dsn() {
    [ -e "$DIR" ] && ours || die "no test cluster in $DIR"
    running || die "the test cluster in $DIR is not running"
    cat "$DIR/dsn"
}

case "$cmd" in
    start) start ;;
    stop) stop ;;
    dsn) dsn ;;
    *) usage ;;
esac
