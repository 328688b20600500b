"""The chunk loop: a plan of chunks, and a runner that reads chunk k+1 and writes chunk k-1 while chunk k computes.

The loop knows nothing of ridge: ``read(chunk)`` runs on a reader thread, ``compute(chunk, input)`` on the calling
thread, ``write(chunk, output)`` on a writer thread, each handing on through a queue of one, so that at most one
chunk waits on each side (bounded memory) and the three overlap. Outputs are written in plan order. If the reader
or the computation fails (or is interrupted), the chunks already computed are written first, then the error is
raised: a chunk is marked done only by its write, so a resumed fit redoes exactly the chunks that were not.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_END = object()


@dataclass(frozen=True)
class Chunk:
    """One step of the plan: targets ``[start, stop)`` of ``group`` in pass ``stage`` ("score" or "solve"), the
    ``k``-th chunk of that group."""

    group: str
    stage: str
    k: int
    start: int
    stop: int


def plan(widths: dict[str, int], chunk_size: int, passes=("solve",)) -> list[Chunk]:
    """Every (group, pass, chunk) of a fit, in order, for groups of ``widths`` flattened targets."""
    return [Chunk(g, stage, k, a, min(a + chunk_size, t)) for g, t in widths.items() for stage in passes
            for k, a in enumerate(range(0, t, chunk_size))]


@dataclass
class LoopTimes:
    """Seconds the loop spent reading, computing and writing (each summed over chunks), and its wall time."""

    read: float = 0.0
    compute: float = 0.0
    write: float = 0.0
    wall: float = 0.0
    chunks: int = 0
    errors: list = field(default_factory=list)


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def run(chunks: list[Chunk], read: Callable, compute: Callable, write: Callable, overlap: bool = True,
        on_written: Callable | None = None) -> LoopTimes:
    """Run ``read``, ``compute`` and ``write`` over ``chunks`` (overlapped on two threads, or one after the other);
    ``on_written(chunk)`` follows each write. Returns the loop's times."""
    times, started = LoopTimes(), time.perf_counter()
    if not overlap:
        for c in chunks:
            t0 = time.perf_counter()
            x = read(c)
            t1 = time.perf_counter()
            y = compute(c, x)
            t2 = time.perf_counter()
            write(c, y)
            times.read, times.compute = times.read + t1 - t0, times.compute + t2 - t1
            times.write += time.perf_counter() - t2
            times.chunks += 1
            if on_written:
                on_written(c)
        times.wall = time.perf_counter() - started
        return times
    inputs, outputs, stop = queue.Queue(maxsize=1), queue.Queue(maxsize=1), threading.Event()

    def reader():
        for c in chunks:
            if stop.is_set():
                return
            t0 = time.perf_counter()
            try:
                x = read(c)
            except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which raises it
                x = _Failed(exc)
            times.read += time.perf_counter() - t0
            _put(inputs, (c, x), stop)
            if isinstance(x, _Failed):
                return
        _put(inputs, _END, stop)

    def writer():
        while True:
            item = outputs.get()
            if item is _END:
                return
            c, y = item
            t0 = time.perf_counter()
            try:
                write(c, y)
                if on_written:
                    on_written(c)
            except BaseException as exc:  # noqa: BLE001 - raised by the calling thread after the loop
                times.errors.append(exc)
                stop.set()
                return
            times.write += time.perf_counter() - t0
            times.chunks += 1

    threads = [threading.Thread(target=reader, daemon=True), threading.Thread(target=writer, daemon=True)]
    for t in threads:
        t.start()
    try:
        while not times.errors:
            item = inputs.get()
            if item is _END:
                break
            c, x = item
            if isinstance(x, _Failed):
                raise x.error
            t0 = time.perf_counter()
            y = compute(c, x)
            times.compute += time.perf_counter() - t0
            while not _put(outputs, (c, y), stop, timeout=0.1):
                if not threads[1].is_alive():
                    break
    finally:
        stop.set()
        while threads[1].is_alive() and not _put(outputs, _END, None, timeout=0.1):
            pass  # the writer finishes what was computed, then ends
        threads[1].join()
        while threads[0].is_alive():  # unblock a reader waiting to hand on a chunk
            try:
                inputs.get(timeout=0.1)
            except queue.Empty:
                pass
        threads[0].join()
    if times.errors:
        raise times.errors[0]
    times.wall = time.perf_counter() - started
    return times


def _put(q: queue.Queue, item, stop: threading.Event | None, timeout: float | None = None) -> bool:
    """Put ``item`` on ``q``, waiting; give up (False) after ``timeout``, or when ``stop`` is set."""
    while True:
        try:
            q.put(item, timeout=0.1 if timeout is None else timeout)
            return True
        except queue.Full:
            if timeout is not None or (stop is not None and stop.is_set()):
                return False
