"""The service as a user runs it: a uvicorn subprocess on 127.0.0.1, its own data directory.

The subprocess is ``python -m app bench.server:create --factory`` (uvicorn configured as the service is
served): the real ``create_app`` with the settings read from ``TICKER_*`` like ``app.main:app``, except that
the encoder is wrapped in a ``TimedEncoder`` whose running total of encode seconds the benchmark reads from
``GET /_bench/encoder-clock``, so it can tell how much of a request is the model. (It used to be a file
written after every encode call: 1.5 ms a call on this VM, which the dedup check latency then included.)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from .common import ROOT, EncoderClock, proc_memory

API_KEY = "bench-key"


def create():  # uvicorn factory, runs in the server process
    from app.config import load_settings
    from app.main import create_app
    from embeddings import load_encoder

    from .common import TimedEncoder

    settings = load_settings()
    inner = load_encoder(settings.encoder, threads=settings.encoder_threads, batch_size=settings.encoder_batch_size)
    timed = TimedEncoder(inner)
    app = create_app(settings, encoder=timed, freeze_gc=True)  # as the served app.main:app does

    @app.get("/_bench/encoder-clock", include_in_schema=False)
    async def encoder_clock() -> dict[str, Any]:
        return timed.clock.as_dict()

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``with Server(data_dir) as srv:`` starts the service, waits for /readyz, stops it on exit."""

    def __init__(
        self,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        ready_timeout: float = 180.0,
        cpus: set[int] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        #: CPUs the server process may run on (None: all); its encoder then starts one worker per CPU
        self.cpus = cpus
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.data_dir / "server.log"
        self.extra_env = env or {}
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.startup_seconds = 0.0

    def settings_env(self) -> dict[str, str]:
        """The TICKER_ settings the server runs with (also used to build in-process twins)."""
        return {
            "TICKER_DATA_DIR": str(self.data_dir),
            "TICKER_API_KEY": API_KEY,
            # One client sends thousands of checks in a row: lift the per-client bucket out of the way.
            "TICKER_DEDUP_RATE_PER_MINUTE": str(10**9),
            "TICKER_LOAD_SAMPLE_DATA": "0",
            "TICKER_LOG_LEVEL": "warning",
            **self.extra_env,
        }

    def start(self) -> "Server":
        """Launch the process without waiting (``with`` then waits for readiness)."""
        if self.proc is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.settings_env()}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        cmd = [
            sys.executable,
            "-m",
            "app",
            "bench.server:create",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self._t0 = time.perf_counter()
        self._log = self.log_path.open("wb")
        cpus = self.cpus
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=pin)
        return self

    def __enter__(self) -> "Server":
        self.start()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - self._t0
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        with httpx.Client(timeout=5.0) as c:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode}: {self.tail()}")
                try:
                    r = c.get(self.url + "/readyz")
                    if r.status_code == 200:
                        return
                    if r.json().get("status") == "failed":
                        raise RuntimeError(f"server start-up failed: {r.text}")
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        raise TimeoutError(f"server not ready after {self.ready_timeout}s: {self.tail()}")

    def tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def encoder_clock(self) -> EncoderClock:
        r = httpx.get(self.url + "/_bench/encoder-clock", timeout=30.0)
        r.raise_for_status()
        return EncoderClock(**r.json())

    def memory(self) -> dict[str, Any]:
        """Current and peak resident set of the server process, MiB."""
        return proc_memory(self.proc.pid) if self.proc else {}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if getattr(self, "_log", None) is not None:
            self._log.close()

    def __exit__(self, *exc: object) -> None:
        self.stop()
