"""The machine's faults as one-line messages: a full disk, a read-only folder, no permission, no GPU.

Each check names the path or the option and what to do, through :class:`ridge_decode.errors.OutputError` and
:class:`ridge_decode.errors.DeviceError`, so that the command group prints one line (exit 1) and never a
traceback from h5py or himalaya.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ..errors import DeviceError, OutputError

GPU_BACKENDS = ("torch_cuda", "cupy")  # himalaya's backends that need a CUDA device

def writable(folder, what: str = "--out") -> Path:
    """Create ``folder`` if needed and check that files can be made in it; an ``OutputError`` naming ``what``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise (io_error(exc, folder, what) or OutputError(f"{what} {folder}: cannot write there ({exc})")) from exc
    return folder


def io_error(exc: OSError, path, what: str = "--out") -> OutputError | None:
    """One line for an operating-system error on an output: a full disk, a read-only folder, no permission (None
    for any other error: a bug or a damaged file, which keeps its own message). h5py reports the errno of a failed
    write only in its text."""
    code = exc.errno
    text = str(exc)
    if code is None or code == errno.EIO:
        code = next((c for c, words in ((errno.ENOSPC, "No space left"), (errno.EROFS, "Read-only file system"),
                                        (errno.EACCES, "Permission denied")) if words in text), None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return OutputError(f"{what} {path}: the disk is full (No space left on device): free space there, or choose "
                           f"another {what}")
    if code == errno.EROFS:
        return OutputError(f"{what} {path} is on a read-only file system: choose another {what}")
    if code in (errno.EACCES, errno.EPERM):
        return OutputError(f"{what} {path}: permission denied: choose a folder you can write, with {what}")
    return None


FULL_DISK_WORDS = ("No space left on device", "errno = 28", "Disk quota exceeded", "errno = 122")


def full_disk(exc: BaseException) -> str | None:
    """The file a write failed on for lack of space, when ``exc`` (or an error it was raised from or during) is a
    full disk: an ``OSError`` ENOSPC or EDQUOT, or h5py's ``RuntimeError``/``OSError`` that reports the errno only
    in its text. The file's name, or "" where none is given; None for any other error."""
    import re

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        text = str(exc)
        if (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)) or \
                any(w in text for w in FULL_DISK_WORDS):
            name = getattr(exc, "filename", None) or next(iter(re.findall(r"filename = '([^']*)'", text)), "")
            return str(name)
        exc = exc.__cause__ or exc.__context__
    return None


def full_disk_error(exc: BaseException, what: str = "") -> OutputError | None:
    """One line for a write that failed on a full disk (see ``full_disk``), naming the file; None otherwise."""
    name = full_disk(exc)
    if name is None:
        return None
    where = name or what or "an output"
    return OutputError(f"the disk is full (No space left on device) while writing {where}: what was finished is kept; "
                       "free space there (or choose another output folder), and run the same command again: it "
                       "resumes")


def require_space(folder, nbytes: int, what: str, option: str = "--out") -> None:
    """Stop before writing when ``folder``'s disk has less free space than the ``nbytes`` a run plans to write."""
    free = shutil.disk_usage(Path(folder)).free
    if free < nbytes:
        raise OutputError(f"{option} {folder}: {free / 1e6:.1f} MB free; {what} needs about {nbytes / 1e6:.1f} MB: "
                          f"free space there, or choose another {option}")


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (False without torch)."""
    try:
        # heavy (torch), and optional: imported where used
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def require_device(device: str, option: str = "--device") -> str:
    """``device`` as given, once it is known to exist here: ``cuda`` (or ``cuda:k``, or a CUDA backend of himalaya's,
    ``torch_cuda``) needs a CUDA GPU."""
    if (str(device).startswith("cuda") or device in GPU_BACKENDS) and not cuda_available():
        raise DeviceError(f"{option} {device}: no CUDA GPU is available on this machine (torch.cuda.is_available() "
                          f"is False): use {option} cpu, or run where a GPU is")
    return device

