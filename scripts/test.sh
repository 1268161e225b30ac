#!/usr/bin/env bash
# Runs the whole suite: ruff (lint and format) and mypy, then pytest. Starts a throw-away PostgreSQL (with pgvector) on loopback for the
# PostgreSQL tests, runs pytest against both backends, and stops the cluster whatever happens.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
PY="${VENV:-.venv}/bin/python"

pgdir=$(mktemp -d /tmp/ticker-pg.XXXXXX)
chmod 755 "$pgdir"
cleanup() { bash scripts/pg_test_cluster.sh stop "$pgdir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
if dsn=$(bash scripts/pg_test_cluster.sh start "$pgdir"); then
  export TICKER_TEST_PG_DSN="$dsn"
else
  echo "test.sh: could not start PostgreSQL; the PostgreSQL tests will be skipped" >&2
  [ "${CI:-}" = "true" ] && { echo "test.sh: in CI the PostgreSQL tests must run" >&2; exit 1; }
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
# lint, format and types first: seconds, and a failure there says more than a failing test
"$PY" -m ruff check .
"$PY" -m ruff format --check .
"$PY" -m mypy
"$PY" -m pytest -q -p no:cacheprovider "$@"
