"""Refits in a child process: the worker's contract (result, errors, death, cancel) and that a refit
computed there stores exactly what the same refit computed in the service's thread stores."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DATASETS, read_jsonl

from app.config import load_settings
from app.pipeline import HeadlineInput, Pipeline
from app.store import open_store
from app.topics.service import TopicService
from app.topics.worker import WorkerCancelled, WorkerError, run_in_child


# --- functions the child runs (module level: the child interpreter imports them by name) ----------
def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def _raises(message: str) -> None:
    raise ValueError(message)


def _dies(code: int) -> None:
    os._exit(code)


def _prints_then_answers(x: int) -> int:
    print("a library talking on stdout")
    os.write(1, b"and one writing to the descriptor\n")
    return x + 1


def _exits_7(*_: object) -> None:
    os._exit(7)


def _blocks_until_released(started: str, released: str, finished: str) -> None:
    """Says it started, then waits for a release that a passing test never gives (a bounded loop, so a
    broken cancel cannot leave it behind for ever); says so if it ever gets to the end."""
    Path(started + ".tmp").write_text(str(os.getpid()))
    os.replace(started + ".tmp", started)  # whole, or not there yet
    for _ in range(3000):  # 300 s at most
        if Path(released).exists():
            break
        time.sleep(0.1)
    Path(finished).write_text("finished")


def _workers() -> list[int]:
    """Our child processes running the worker module (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid():
                if b"app.topics.worker" in (d / "cmdline").read_bytes():
                    out.append(int(d.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


# --- the worker ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_the_call_runs_in_another_process_and_its_result_comes_back():
    pid, square = run_in_child(_pid_and_square, 12)
    assert square == 144
    assert pid != os.getpid()
    assert not _workers()


@pytest.mark.slow
def test_what_the_job_prints_does_not_corrupt_its_answer(capfd):
    assert run_in_child(_prints_then_answers, 41) == 42
    assert "a library talking on stdout" in capfd.readouterr().err  # it went to stderr


@pytest.mark.slow
def test_an_exception_in_the_child_is_raised_with_its_message():
    with pytest.raises(WorkerError, match="ValueError: no topics today"):
        run_in_child(_raises, "no topics today")


@pytest.mark.slow
def test_a_child_that_dies_is_reported_with_its_exit_code():
    with pytest.raises(WorkerError, match="exited with code 3"):
        run_in_child(_dies, 3)


@pytest.mark.slow
def test_cancel_kills_the_child_without_waiting_for_it(tmp_path):
    # The child blocks until released; only this test can release it, and it does so only after the
    # parent has answered (or when the parent never answers: then the test has failed). So the parent
    # can only raise WorkerCancelled with the child still blocked, i.e. by not waiting for the child.
    started, released, finished = (str(tmp_path / n) for n in ("started", "released", "finished"))
    cancel = threading.Event()
    outcome: list[BaseException | object] = []

    def parent() -> None:
        try:
            outcome.append(run_in_child(_blocks_until_released, started, released, finished, cancel=cancel))
        except BaseException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=parent, daemon=True)
    caller.start()
    deadline = time.monotonic() + 60
    while not Path(started).exists():  # the child is running the job (not just starting up)
        assert time.monotonic() < deadline and caller.is_alive(), f"the child never started the job: {outcome}"
        time.sleep(0.02)
    child_pid = int(Path(started).read_text())
    cancel.set()
    caller.join(30)  # a bound on the wait: a parent that waits for the child never gets here by itself
    answered = not caller.is_alive()
    if not answered:  # let the child (and so the parent) end before failing
        Path(released).write_text("")
        caller.join(60)
    assert answered, "run_in_child did not come back after cancel: it waits for the child"
    assert len(outcome) == 1 and isinstance(outcome[0], WorkerCancelled), outcome
    assert not Path(finished).exists(), "the child was waited for: it finished its job"
    assert not Path(f"/proc/{child_pid}").exists(), "the child is still there"
    assert not _workers()


# --- the refit -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def gnews_rows():
    path = DATASETS / "gnews_fr" / "dev.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is not there (../shared missing)")
    return read_jsonl(path)[:240]


def _topics_after_refit(encoder, rows, tmp_path, min_stories: int):
    settings = load_settings(env={}, data_dir=tmp_path, refit_process_min_stories=min_stories)
    store = open_store(settings, encoder.dim)
    try:
        pipeline = Pipeline(settings, store, encoder)
        pipeline.ingest(
            [HeadlineInput(title=r["title"], lang="fr", published_at=1.7e9 + i) for i, r in enumerate(rows)]
        )
        service = TopicService(settings, store, encoder)
        report = service.refit()
        topics = sorted((t.label, t.size, tuple(t.keywords), t.centroid.round(5).tobytes()) for t in store.topics())
        members = sorted((tid, tuple(sorted(sids))) for tid, sids in store.topic_members().items())
        return report, topics, members
    finally:
        store.close()


@pytest.mark.slow
def test_a_refit_in_a_child_stores_what_the_same_refit_in_the_thread_stores(encoder, gnews_rows, tmp_path):
    inline, topics_inline, members_inline = _topics_after_refit(encoder, gnews_rows, tmp_path / "a", -1)
    n = inline.n_stories
    # a window of exactly refit_process_min_stories stories goes to a child, one story fewer does not
    child, topics_child, members_child = _topics_after_refit(encoder, gnews_rows, tmp_path / "b", n)
    below, _, _ = _topics_after_refit(encoder, gnews_rows, tmp_path / "c", n + 1)
    assert not inline.in_child and inline.worker_peak_rss_mib is None
    assert child.in_child and child.worker_peak_rss_mib > 50  # numpy, sklearn and faiss loaded there
    assert not below.in_child and below.n_stories == n
    assert inline.n_topics >= 2 and (child.n_stories, child.n_topics) == (n, inline.n_topics)
    assert topics_child == topics_inline
    assert members_child == members_inline


@pytest.mark.slow
def test_a_failed_child_refit_keeps_the_previous_topics_and_says_why_over_http(make_client, gnews_rows, monkeypatch):
    c = make_client(refit_every_seconds=3600.0, refit_every_stories=100_000, api_key="k", refit_process_min_stories=0)
    auth = {"X-API-Key": "k"}
    body = {"headlines": [{"title": r["title"], "lang": "fr", "id": r["id"], "source": "gnews"} for r in gnews_rows]}
    assert c.post("/v1/headlines", json=body, headers=auth).status_code == 200
    r = c.post("/v1/clusters/refit", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["in_child"] is True and r.json()["worker_peak_rss_mib"] > 50
    before = c.get("/v1/clusters").json()
    assert before["topics"]
    metrics = c.get("/metrics").text
    assert "ticker_topic_refit_worker_peak_rss_mib" in metrics

    import app.topics.service as service

    monkeypatch.setattr(service, "compute", _exits_7)  # a child that dies mid-refit
    r = c.post("/v1/clusters/refit", headers=auth)
    assert r.status_code == 500
    assert "topic refit failed" in r.json()["detail"] and "exited with code 7" in r.json()["detail"]
    assert c.get("/v1/clusters").json()["topics"] == before["topics"]


def test_titles_travel_as_columns_and_come_back_as_rows():
    from app.topics.refit_job import Titles

    rows = [
        (7, "Sahara : la Mauritanie défend", "fr"),
        (7, "Mauritania defends", "en"),
        (9, "المغرب", "ar"),
        (9, "no language", None),
        (11, "a NUL\x00inside", "fr"),
        (11, "", None),
    ]
    cols = Titles.from_rows(rows)
    assert cols.story_ids.dtype == np.int64 and isinstance(cols.text, bytes)
    back = cols.rows()
    assert back[:4] == rows[:4] and back[5] == rows[5]
    assert back[4] == (11, "a NUL inside", "fr")  # the separator cannot be part of a title
    assert Titles.from_rows([]).rows() == []
