#!/usr/bin/env bash
# Quality figures of the default configuration on the shared labelled sets (the tables in docs/quality.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
D="${SHARED:-../shared}/datasets"
run() { printf '%-58s ' "$*"; "$PY" -m app.eval "$@" | tail -n 1; }
run stories "$D/seed_ticker/gold.jsonl" --gold story
run stories "$D/sib200/dev.jsonl" --gold parallel_id --langs en,fr,es,ar
run stories "$D/sib200/dev.jsonl" --gold parallel_id --langs en,fr,es,ar,ary
run stories "$D/gnews_fr/dev.jsonl" --gold label
run stories "$D/uci_news/dev.jsonl" --gold story
for word in kardashian china ukraine apple google; do
  run stories "$D/uci_news/dev.jsonl" --gold story --contains "$word"
done
run topics "$D/masakhanews/dev.jsonl" --gold label
run topics "$D/seed_ticker/gold.jsonl" --gold topic
run topics "$D/gnews_fr/dev.jsonl" --gold topic
