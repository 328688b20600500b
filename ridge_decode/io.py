"""Small file utilities shared by every stage: atomic writes, JSON, versions, peak memory."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np


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
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _to_jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically. numpy scalars and arrays are converted."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_to_jsonable(obj), indent=2) + "\n")
    return Path(path)


def versions() -> dict:
    """Versions of Python and of the packages that shape numerical results (read from metadata, not imported),
    and the pinned set they came from (``ridge_decode.pins.pinned_set``)."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in ("ridge_decode", "numpy", "scipy", "scikit-learn", "himalaya", "torch", "h5py", "nibabel",
                 "diffusers", "transformers"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[name] = metadata.version(name)
    from .pins import pinned_set

    out["pinned_set"] = pinned_set()
    return out


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def file_signature(path: str | os.PathLike) -> dict[str, int | str]:
    """Size in bytes and modification time (ns) of a file: what a cache compares to detect changed inputs."""
    st = Path(path).stat()
    return {"path": str(Path(path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
