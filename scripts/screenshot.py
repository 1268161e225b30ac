"""Screenshots for the README: the dashboard on the sample data, and the plugin demo warning on a duplicate.

    python scripts/screenshot.py [--out docs] [--width 1400] [--height 900] [--only dashboard|plugin-demo ...]

Starts the real service (uvicorn subprocess on a free loopback port, a throw-away data dir,
TICKER_LOAD_SAMPLE_DATA=1), waits for /readyz and for topics, then drives Debian's chromium headless
through Playwright (scripts/install_browser.sh installs both) and writes
  docs/dashboard.png     the dashboard at 1400x900: three stories per column, each with its "N more"; the
                         editor "last looked" 20 minutes before the newest sample headline (set in the page's
                         localStorage, as the "Mark as seen" button would), so the stories since are marked new
  docs/plugin-demo.png   the mock CMS page after typing, in English, a story stored only in French/Spanish
--only writes just the named screenshot(s).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (one list of flags with the tests)

SHOTS = ("dashboard", "plugin-demo")
#: how long before the newest sample headline the editor last looked, in the dashboard's screenshot
LOOKED_MINUTES_BEFORE = 20
# The English version of a sample story stored in French and Spanish only: the plugin must call it a translation.
DUPLICATE = "Sultana Khaya breaks her silence and denies any split with the Polisario"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, check, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} not there after {timeout:.0f} s")


def start_service(data_dir: Path, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "TICKER_DATA_DIR": str(data_dir),
        "TICKER_LOAD_SAMPLE_DATA": "1",
        "TICKER_API_KEY": "",
        "TICKER_PROTECT_READS": "0",
        "HF_HUB_OFFLINE": "1",
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def looked_at(url: str) -> str:
    """ISO time LOOKED_MINUTES_BEFORE the newest story's first headline: the dashboard's "last looked"."""
    newest = httpx.get(url + "/v1/stories", params={"limit": 1}, timeout=10).json()["stories"][0]["first_seen"]
    t = datetime.fromisoformat(newest.replace("Z", "+00:00")) - timedelta(minutes=LOOKED_MINUTES_BEFORE)
    return t.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def shoot(url: str, out: Path, width: int, height: int, only: tuple[str, ...] = SHOTS) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height},
                color_scheme="light",
                locale="fr-FR",
                timezone_id="Africa/Casablanca",
            )
            page = context.new_page()
            page.set_default_timeout(30_000)

            if "dashboard" in only:
                # the time the editor last looked, where the page keeps it (before the page's script reads it)
                context.add_init_script(f"localStorage.setItem('ticker.lookedAt', {json.dumps(looked_at(url))})")
                # three stories per column: two rows of topics fit in 900 px, each with its "N more"
                page.goto(url + "/?stories=3&unassigned=3")
                page.wait_for_selector("#status[data-state=live]")
                page.wait_for_selector("#board[aria-busy=false] section.topic li.story")
                page.wait_for_selector("#new-since[data-count]")
                page.mouse.move(0, 0)
                page.wait_for_timeout(300)  # fonts and layout settle
                page.screenshot(path=str(out / "dashboard.png"))

            if "plugin-demo" not in only:
                return
            page.goto(url + "/plugin-demo")
            page.wait_for_function("window.TickerDedup && document.querySelector('.ticker-dedup-box')")
            page.fill("#headline", DUPLICATE)
            page.wait_for_selector(".ticker-dedup-box[data-state=duplicate] .ticker-dedup-match")
            page.press("#headline", "Home")  # show the headline from its start, not its end
            page.wait_for_timeout(200)
            page.screenshot(path=str(out / "plugin-demo.png"))
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the service and its topics")
    ap.add_argument("--only", action="append", choices=SHOTS, help="write only this screenshot (repeatable)")
    args = ap.parse_args(argv)
    only = tuple(args.only or SHOTS)
    if not CHROMIUM.exists():
        print(f"screenshot: {CHROMIUM} missing (run scripts/install_browser.sh)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="ticker-shot-") as tmp:
        proc = start_service(Path(tmp), port)
        try:

            def ready() -> bool:
                if proc.poll() is not None:
                    raise RuntimeError(f"the service exited with {proc.returncode}")
                return httpx.get(url + "/readyz", timeout=2).status_code == 200

            wait_for("/readyz", ready, args.timeout)
            wait_for("topics", lambda: bool(httpx.get(url + "/v1/clusters", timeout=10).json()["topics"]), args.timeout)
            shoot(url, args.out, args.width, args.height, only)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    for name in only:
        path = args.out / f"{name}.png"
        print(f"screenshot: {path} ({path.stat().st_size} B)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
