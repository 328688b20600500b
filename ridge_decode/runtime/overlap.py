"""Run ``read``, ``compute`` and ``write`` over a list of items, overlapped: item k+1 is read (on a reader thread)
and item k-1 written (on a writer thread) while item k computes on the calling thread.

Each side hands on through a queue of one, so at most one item waits on each side (bounded memory). Outputs are
written in order. If the reader or the computation fails (or is interrupted), the items already computed are
written first, then the error is raised: an item is marked done only by its own write, so a resumed job redoes
exactly the items that were not. It knows nothing of what the items are: the ridge engine's chunk loop and the
feature extraction's batches both run on it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

_END = object()


@dataclass
class LoopTimes:
    """Seconds spent reading, computing and writing (each summed over items), and the wall time."""

    read: float = 0.0
    compute: float = 0.0
    write: float = 0.0
    wall: float = 0.0
    chunks: int = 0
    errors: list = field(default_factory=list)


class _Failed:
    def __init__(self, error: BaseException):
        self.error = error


def run(chunks: list, read: Callable, compute: Callable, write: Callable, overlap: bool = True,
        on_written: Callable | None = None) -> LoopTimes:
    """Run ``read``, ``compute`` and ``write`` over ``chunks`` (overlapped on two threads, or one after the other);
    ``on_written(item)`` follows each write. Returns the seconds spent in each, and the wall time."""
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
