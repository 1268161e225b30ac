"""Dedup checks go before ingest.

A check is a newsroom waiting on a publish button, an ingest batch is a feed that can wait a few
milliseconds, and an ingest batch holds the GIL for most of its time (matching is Python): every return of
a check's threads from native code waited behind it. So while a check is under way, an ingest batch waits
before its next step, headline or part of descriptions, ``CHECKS_FIRST_MAX_WAIT`` at most at a time and no
more than ``CHECKS_FIRST_SHARE`` of its own time.

In-process, 3,000-7,000 stored, checks back to back while another thread ingested at full speed, p50 /
p99: batches of 1,000, 10.0-13.3 / 112-128 ms without this, 5.9-6.8 / 51-57 ms with it; batches of 100,
10.7-13.3 / 38-49 and 6.0-6.3 / 38-42 ms (4.6-5.5 / 7-13 ms with nothing else running). Ingest meanwhile
ran ~25-40 % slower.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

#: while dedup checks are under way, an ingest batch waits for them before its next headline or step,
#: up to this long at a time ...
CHECKS_FIRST_MAX_WAIT = 0.05
#: ... and for no more than this share of its own time, so that a stream of checks slows ingest down
#: without stopping it
CHECKS_FIRST_SHARE = 0.5


class ChecksGate:
    """The dedup checks under way, and the ingest batches waiting for them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._in_flight = 0
        self._waiting = 0
        #: times an ingest batch has waited for checks since start
        self.waits = 0

    @property
    def in_flight(self) -> int:
        """Checks under way now."""
        return self._in_flight

    @property
    def waiting(self) -> int:
        """Ingest batches waiting for checks now."""
        return self._waiting

    @contextmanager
    def checking(self) -> Iterator[None]:
        """A check is under way meanwhile."""
        with self._cond:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= 1
                if not self._in_flight:
                    self._cond.notify_all()

    def pacer(self) -> Callable[[], None]:
        """What one ingest batch calls before each step, headline and part of descriptions."""
        return _Pacer(self)

    def _wait(self) -> None:
        with self._cond:
            self._waiting += 1
            self.waits += 1
            try:
                self._cond.wait_for(lambda: not self._in_flight, timeout=CHECKS_FIRST_MAX_WAIT)
            finally:
                self._waiting -= 1


class _Pacer:
    """While checks are under way, wait until they are done, unless this batch has already spent
    ``CHECKS_FIRST_SHARE`` of its time waiting."""

    def __init__(self, gate: ChecksGate) -> None:
        self.gate = gate
        self.started = time.perf_counter()
        self.waited = 0.0

    def __call__(self) -> None:
        # read without the lock: a check that starts right after waits one headline more
        if not self.gate.in_flight:
            return
        now = time.perf_counter()
        if self.waited >= CHECKS_FIRST_SHARE * (now - self.started):
            return
        self.gate._wait()
        self.waited += time.perf_counter() - now


def no_pause() -> None:
    """The pacer of a batch that must not wait for checks."""
    return None
