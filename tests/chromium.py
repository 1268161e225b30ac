"""Debian's Chromium as the browser tests and scripts/screenshot.py launch it (one list of flags).

Keep in step with scripts/install_browser.sh. --no-sandbox because CI runs as root; the networking
flags stop Chromium's own background connections, which this machine's closed network refuses.
"""

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
