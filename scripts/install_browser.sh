#!/usr/bin/env bash
# Headless browser for UI tests: Debian's chromium (/usr/bin/chromium) driven by the Python
# `playwright` package. Browsers can't be downloaded here, so no `playwright install`: tests
# launch /usr/bin/chromium through executable_path with the flags in CHROMIUM_ARGS below.
#
# Usage: scripts/install_browser.sh [VENV]      (VENV defaults to the repo's .venv)
# Idempotent: installs only what is missing, then runs a headless screenshot check (~1-2 s).
# Env:   PLAYWRIGHT_SPEC=playwright             pip requirement (pin it here if needed)
#        BROWSER_SKIP_CHECK=1                   skip the screenshot check
set -euo pipefail

CHROMIUM=/usr/bin/chromium
# Keep in step with tests/test_infra_smoke.py. --no-sandbox because CI runs as root.
CHROMIUM_ARGS='--no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-quic --no-first-run --disable-sync'

log() { echo "install_browser: $*" >&2; }
die() { echo "install_browser: ERROR: $*" >&2; exit 1; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="${1:-$repo/.venv}"
py="$venv/bin/python"
[ -x "$py" ] || die "no Python at $py: create the venv first (python3.11 -m venv $venv) or pass its path"

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

started=$(date +%s.%N)

# fonts-dejavu-core covers Latin and Arabic, so headlines render as text, not boxes, in screenshots.
missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium)
is_installed fonts-dejavu-core || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "${missing[*]} missing and not root: run as root, or apt-get install ${missing[*]}"
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed (is the Debian mirror reachable?)"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
        die "apt-get install ${missing[*]} failed"
    [ -x "$CHROMIUM" ] || die "chromium installed but $CHROMIUM is missing"
fi

if ! "$py" -c 'import playwright.sync_api' 2>/dev/null; then
    log "pip install ${PLAYWRIGHT_SPEC:-playwright} into $venv"
    "$py" -m pip install -q --disable-pip-version-check "${PLAYWRIGHT_SPEC:-playwright}" >&2 ||
        die "pip install ${PLAYWRIGHT_SPEC:-playwright} failed"
fi

if [ "${BROWSER_SKIP_CHECK:-0}" = 1 ]; then
    log "ready (check skipped): $("$CHROMIUM" --version 2>/dev/null)"
    exit 0
fi

# The check: headless launch, load a data: URL, read its text back, take a screenshot.
shot=$(mktemp /tmp/browser-check.XXXXXX.png)
trap 'rm -f "$shot"' EXIT
CHROMIUM="$CHROMIUM" CHROMIUM_ARGS="$CHROMIUM_ARGS" SHOT="$shot" timeout 120 "$py" - <<'PY' >&2 ||
import os
import time
import urllib.parse

from playwright.sync_api import sync_playwright

expected = "ticker ok — خبر عاجل"
url = "data:text/html;charset=utf-8," + urllib.parse.quote(f"<h1 id=t>{expected}</h1>")
t0 = time.perf_counter()
with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path=os.environ["CHROMIUM"],
        headless=True,
        args=os.environ["CHROMIUM_ARGS"].split(),
        timeout=60_000,
    )
    try:
        page = browser.new_page(viewport={"width": 400, "height": 120})
        page.goto(url, timeout=30_000)
        got = page.inner_text("#t")
        png = page.screenshot(path=os.environ["SHOT"])
        version = browser.version
    finally:
        browser.close()
assert got == expected, f"page text {got!r} != {expected!r}"
assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000, "screenshot is not a PNG"
print(f"install_browser: chromium {version} headless ok: text read back, {len(png)} B screenshot, "
      f"{time.perf_counter() - t0:.2f}s")
PY
    die "headless check failed: $CHROMIUM with playwright from $venv could not load a data: URL and screenshot it"

elapsed=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
log "ready in ${elapsed}s: $CHROMIUM + playwright $("$py" -c 'import importlib.metadata as m; print(m.version("playwright"))') in $venv"
