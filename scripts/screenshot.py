"""Screenshots for the README: the dashboard on the sample data, and the plugin demo warning on a duplicate.

    python scripts/screenshot.py [--out docs] [--width 1400] [--height 900]

Starts the real service (uvicorn subprocess on a free loopback port, a throw-away data dir,
TICKER_LOAD_SAMPLE_DATA=1), waits for /readyz and for topics, then drives Debian's chromium headless
through Playwright (scripts/install_browser.sh installs both) and writes
  docs/dashboard.png     the dashboard at 1400x900
  docs/plugin-demo.png   the mock CMS page after typing, in English, a story stored only in French/Spanish
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (one list of flags with the tests)
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
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def shoot(url: str, out: Path, width: int, height: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, timeout=60_000)
        try:
            context = browser.new_context(viewport={"width": width, "height": height}, color_scheme="light",
                                          locale="fr-FR", timezone_id="Africa/Casablanca")
            page = context.new_page()
            page.set_default_timeout(30_000)

            page.goto(url + "/?stories=3")  # two rows of topics fit in 900 px
            page.wait_for_selector("#status[data-state=live]")
            page.wait_for_selector("#board[aria-busy=false] section.topic li.story")
            page.wait_for_timeout(300)  # fonts and layout settle
            page.screenshot(path=str(out / "dashboard.png"))

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
    args = ap.parse_args(argv)
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
            shoot(url, args.out, args.width, args.height)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
    for name in ("dashboard.png", "plugin-demo.png"):
        path = args.out / name
        print(f"screenshot: {path} ({path.stat().st_size} B)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
