"""Run one function call in a fresh child process and bring its result back.

Used for large topic refits (``refit_job.compute``): the child holds its own GIL, its own garbage
collector and its own memory, so the service's threads (dedup checks, ingest) do not wait behind it
and the refit's peak allocation goes back to the system when the child exits.

The child is a new interpreter (``python -m app.topics.worker``), never a fork: the service runs
threads (uvicorn, the encoder's workers, OpenMP pools) that a fork would copy in whatever state they
are in. Nor is it multiprocessing's "spawn": that re-imports the parent's ``__main__`` in the child,
and a script that embeds the service without a ``__main__`` guard then runs again there (it did, in
a benchmark script: the parent hung writing the job to a child busy re-running the script). The
child imports only what the function's module needs (~1.5 s and ~180 MB for the topic modules),
which is why small refits stay in the service's own thread (``Settings.refit_process_min_stories``).

Protocol: the parent writes ``(function, args)`` to the child's stdin as length-prefixed frames (a
pickle and its out-of-band buffers, see ``_frames``) and reads one pickle ``(ok, result or error
text)`` from its stdout; the child's stderr is the service's.
"""

from __future__ import annotations

import gc
import os
import pickle
import struct
import subprocess
import sys
import threading
import traceback
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

__all__ = ["WorkerError", "WorkerCancelled", "collector_paused", "run_in_child"]

T = TypeVar("T")

_LEN = struct.Struct("<Q")

#: how often the parent looks at its cancel event while it waits (s)
POLL_SECONDS = 0.2


class WorkerError(RuntimeError):
    """The child failed: it raised (the message carries its traceback) or died (its exit code)."""


class WorkerCancelled(RuntimeError):
    """The cancel event was set while the child was working; the child was terminated."""


@contextmanager
def collector_paused(pause: bool = True) -> Iterator[None]:
    """No automatic garbage-collection pass meanwhile (a full one holds the GIL over the whole heap).
    Only for short stretches that make many objects which die by reference count anyway."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def run_in_child(
    fn: Callable[..., T], *args: Any, cancel: threading.Event | None = None, name: str = "ticker-worker"
) -> T:
    """``fn(*args)`` in a child interpreter; ``fn`` must be importable by name (module level) and its
    arguments and result must pickle. Raises ``WorkerError`` when the child raises or dies,
    ``WorkerCancelled`` when ``cancel`` is set first (the child is killed, so a service stops without
    waiting for a refit)."""
    frames = _frames((fn, args))
    env = dict(os.environ)
    # the child finds what the parent finds: the project, and modules imported from elsewhere (tests)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.topics.worker", name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin, stdout = proc.stdin, proc.stdout
    answer: list[bytes] = []

    def write() -> None:
        # a thread of its own: the job is larger than a pipe holds (~95 MB at 40k stories), and
        # Popen.communicate cannot be retried after a timeout with input still to send
        try:
            for frame in frames:
                stdin.write(frame)
        except (BrokenPipeError, ValueError):  # the child died or was killed: reported below
            pass
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                pass

    def read() -> None:
        answer.append(stdout.read())

    threads = [
        threading.Thread(target=write, name=f"{name}-in", daemon=True),
        threading.Thread(target=read, name=f"{name}-out", daemon=True),
    ]
    for t in threads:
        t.start()
    try:
        while threads[1].is_alive():
            threads[1].join(POLL_SECONDS)
            if threads[1].is_alive() and cancel is not None and cancel.is_set():
                raise WorkerCancelled(f"{name}: cancelled")
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for t in threads:
            t.join()
        stdout.close()
    out = answer[0] if answer else b""
    if proc.returncode != 0 or not out:
        raise WorkerError(f"{name}: the child process exited with code {proc.returncode} before answering")
    ok, result = pickle.loads(out)
    if not ok:
        raise WorkerError(f"{name}: {result}")
    return result


def _frames(obj: Any) -> list[bytes | memoryview]:
    """``obj`` as frames for the child's stdin: its pickle, with the large contiguous buffers (numpy
    arrays, bytes) left out of band and written as they are. An in-band pickle copies them inside one
    C call that holds the GIL: ~47 ms for the 80 MB of story vectors at 40k stories, against ~0.7."""
    buffers: list[pickle.PickleBuffer] = []
    with collector_paused():  # pickling makes memo entries by the thousand; none outlives the call
        main = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    parts: list[bytes | memoryview] = [main, *(b.raw() for b in buffers)]
    out: list[bytes | memoryview] = [_LEN.pack(len(parts))]
    for part in parts:
        out += [_LEN.pack(memoryview(part).nbytes), part]
    return out


def _read_frames(stream: Any) -> list[bytearray]:
    def exactly(n: int) -> bytearray:
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = stream.readinto(view[got:])
            if not k:
                raise EOFError(f"the job ended after {got} of {n} bytes")
            got += k
        return buf

    (count,) = _LEN.unpack(exactly(_LEN.size))
    return [exactly(_LEN.unpack(exactly(_LEN.size))[0]) for _ in range(count)]


def _main() -> int:
    # The answer gets the real stdout to itself; anything the job prints goes to stderr (the service's
    # log) instead of into the pickle.
    sys.stdout.flush()
    answer_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    main, *buffers = _read_frames(sys.stdin.buffer)
    fn, args = pickle.loads(main, buffers=buffers)
    try:
        answer = (True, fn(*args))
    except BaseException as exc:  # reported to the parent, which raises WorkerError
        answer = (False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
    with answer_out:
        answer_out.write(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
