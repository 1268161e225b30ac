from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATASETS = SHARED / "datasets"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


#: what each CPU-dependent test checked on this machine, printed at the end of the run
_CPU_PATHS: list[tuple[str, str]] = []


@pytest.fixture
def cpu_path(request) -> Callable[[str], None]:
    """A test whose expectations depend on the CPU says here which path it checked; the run's summary
    lists them with the CPU's flags, so a green run on one machine says what it did not cover."""
    return lambda what: _CPU_PATHS.append((request.node.nodeid, what))


def pytest_terminal_summary(terminalreporter) -> None:
    if not _CPU_PATHS:
        return
    from embeddings.usem import cpu_features

    cpu = cpu_features()
    terminalreporter.section("CPU-dependent paths checked")
    terminalreporter.write_line(
        f"CPU: {cpu['model'] or cpu['machine']}; flags: {' '.join(cpu['flags']) or 'none listed'}"
    )
    for nodeid, what in _CPU_PATHS:
        terminalreporter.write_line(f"{nodeid}: {what}")


@pytest.fixture(scope="session")
def encoder():
    """The default encoder, loaded once per test session (about 2 s)."""
    from embeddings import load_encoder

    return load_encoder("use-m3")


@pytest.fixture(scope="session")
def seed_gold() -> list[dict[str, Any]]:
    path = DATASETS / "seed_ticker" / "gold.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is not there (../shared missing)")
    return read_jsonl(path)


def started_client(model: Any, data_dir: Path, /, **overrides: Any) -> Any:
    """A started TestClient of the app on ``data_dir`` with the encoder ``model`` (None: the settings'
    own); keyword arguments override settings. The caller closes it (``__exit__``)."""
    from fastapi.testclient import TestClient

    from app.config import load_settings
    from app.main import create_app

    overrides.setdefault("data_dir", data_dir)
    settings = load_settings(env={}, **overrides)
    app = create_app(settings, encoder=model, wait_ready=True)
    client = TestClient(app)
    client.__enter__()
    state = app.state.ticker
    assert state.ready.is_set(), state.startup_error
    return client


@pytest.fixture
def make_client(tmp_path: Path, encoder) -> Iterator[Callable[..., Any]]:
    """Build a TestClient on a fresh data dir; keyword arguments override settings."""
    clients: list[Any] = []

    def build(*, use_encoder: bool = True, **overrides: Any) -> Any:
        clients.append(started_client(encoder if use_encoder else None, tmp_path / "data", **overrides))
        return clients[-1]

    yield build
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture(scope="session", autouse=True)
def no_server_outlives_the_session() -> Iterator[None]:
    """Every ``python -m app`` a test started is stopped by the end: a leaked one keeps a port, a database
    and an encoder's memory on the machine long after the run."""
    yield
    from server import STARTED

    alive = [p for p in STARTED if p.poll() is None]
    for p in alive:
        p.kill()
    assert not alive, f"{len(alive)} server process(es) outlived their tests: {[p.args for p in alive]}"
