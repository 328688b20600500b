"""Small file utilities shared by every stage: atomic writes, JSON, versions, peak memory."""

from __future__ import annotations

import contextlib
import copy
import errno
import functools
import json
import math
import os
import platform
import resource
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .. import __version__
from .machine import full_disk, io_error
from .pinned import pinned_set


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash or an exception leaves the destination untouched (never half written). ``suffix`` ends the
    temporary name, for writers that choose the format by extension (e.g. ".nii.gz").
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # as open() would: mkstemp's 0600 would hide shared caches from a lab
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def resumable_h5(path: str | os.PathLike, plan: str, *, matches: Callable | None = None,
                 mismatch: str = "was made for other inputs or settings") -> Iterator[tuple[Any, bool]]:
    """The ``.part`` protocol of every long writer (a ridge fit, a feature extraction), written once.

    Yields ``(file, resumed)``: ``<path>.part`` opened for writing. A ``.part`` whose ``plan`` attribute equals
    ``plan`` (and that ``matches(file)`` accepts) is reopened, ``resumed`` True, to continue where it stopped; any
    other, or an unreadable one, is discarded with a warning and a new one is created. The writer marks what is
    done inside the file, flushed, so a crash loses only unfinished work. When the block exits cleanly with
    ``file.attrs["complete"]`` set, the file is closed and renamed onto ``path``; otherwise it stays as ``.part``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with disk_reserve(path.parent) as release:
        yield from _resumable_h5(path, plan, matches, mismatch, release)


RESERVE_BYTES = 4 << 20  # kept free beside a long HDF5 write: enough for HDF5 to flush its caches and close


@contextlib.contextmanager
def disk_reserve(folder: Path) -> Iterator[Callable[[], None]]:
    """Keep ``RESERVE_BYTES`` of ``folder``'s disk in a file of its own while the block writes; yields the function
    that frees it. HDF5 cannot close a file whose flush failed for lack of space (the process ends in a segfault),
    so a writer that meets a full disk frees the reserve first, then closes its file whole, resumable. A disk too
    full for the reserve itself is an ``OutputError`` before anything is written."""
    reserve = Path(folder) / f".reserve-{os.getpid()}-{threading.get_ident()}"
    try:
        fd = os.open(reserve, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            except (AttributeError, OSError) as exc:
                if isinstance(exc, OSError) and exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                os.write(fd, b"\0" * RESERVE_BYTES)  # a file system without fallocate
        finally:
            os.close(fd)
    except OSError as exc:
        reserve.unlink(missing_ok=True)
        error = io_error(exc, folder, "the output folder")
        raise (error or exc) from exc

    def release() -> None:
        reserve.unlink(missing_ok=True)

    try:
        yield release
    finally:
        release()


def _resumable_h5(path: Path, plan: str, matches, mismatch: str, release):
    part = Path(str(path) + ".part")
    f = None
    if part.exists():
        try:
            f = h5py.File(part, "a")
            if f.attrs.get("plan") != plan or (matches is not None and not matches(f)):
                warnings.warn(f"{part} {mismatch}; starting over", stacklevel=3)
                f.close()
                f = None
        except BlockingIOError:  # HDF5's lock: another process has it open now, which is not damage
            raise
        except OSError:
            warnings.warn(f"{part} is unreadable (interrupted while writing?); starting over", stacklevel=3)
            f = None
    resumed = f is not None
    if f is None:
        f = h5py.File(part, "w")
        f.attrs["plan"] = plan
        f.attrs["complete"] = False
    try:
        yield f, resumed
        complete = bool(f.attrs.get("complete", False))
        f.flush()  # a write that fails here raises; on close, HDF5 would only print it and leave the file cut short
    except BaseException as exc:
        if full_disk(exc) is not None:
            release()  # room for HDF5 to close the file whole: the batches marked done stay resumable
        raise
    finally:
        f.close()
    if complete:
        os.replace(part, path)


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _to_jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # NaN and infinity are not JSON: a value that could not be computed is null
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented strict JSON, atomically. numpy scalars and arrays are converted; NaN and
    infinities become ``null`` (writers that can say why a value is missing put the reason beside it)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_to_jsonable(obj), indent=2, allow_nan=False) + "\n")
    return Path(path)


def versions() -> dict:
    """Versions of Python and of the packages that shape numerical results (read from metadata, not imported),
    and the pinned set they came from (``ridge_decode.runtime.pinned.pinned_set``)."""
    return copy.deepcopy(_versions())


# Read once per process: the installed set does not change while it runs, and comparing it with the pinned set
# parses every installed package's metadata (about 0.1 s), which each feature file, model and result would pay again.
@functools.cache
def _versions() -> dict:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("numpy", "scipy", "scikit-learn", "himalaya", "torch", "h5py", "nibabel", "diffusers",
                 "transformers"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    # this package's own version from its source: an editable install's metadata keeps the version it was installed
    # at (a checkout installed at 0.1.0 and now at 0.2.0 reported 0.1.0)
    out["ridge_decode"] = __version__
    out["pinned_set"] = pinned_set()
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def file_signature(path: str | os.PathLike) -> dict[str, int | str]:
    """Size in bytes and modification time (ns) of a file: what a cache compares to detect changed inputs."""
    st = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
