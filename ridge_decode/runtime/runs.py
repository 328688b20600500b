"""One output folder, one run at a time: the folder's lock and the atomic commit of a run's files.

A run that writes a folder ``<parent>/<name>`` (a fit, a prediction, an evaluation):

1. takes ``<parent>/.<name>.lock`` (``FolderLock``): created exclusively, it holds the host, the process id, the
   start time, the run's id and, under SLURM, the job and array task. A second run on the folder stops at once,
   naming the holder; a lock left by a process that no longer runs on this host, or by this same SLURM task before
   it was requeued (on any node), is taken over, and the takeover is reported;
2. writes its files into ``<parent>/.<name>.next`` (``staging``), where a resumable file may wait for the next
   run;
3. commits (``commit``): the staging folder is renamed to ``.<name>.gen-<run id>`` and exchanged with ``<name>``
   in one ``renameat2(RENAME_EXCHANGE)`` call, so that a kill at any instant leaves either the old run or the new
   one in ``<name>``, whole. Where the exchange is not available, two renames are used, and the one missing
   instant in between is recovered by the next run (``recover``).
"""

from __future__ import annotations

import ctypes
import datetime
import errno
import json
import os
import re
import shutil
import socket
import sys
import uuid
from pathlib import Path

from ..errors import ForeignFolderError, IncompleteOutputError, OutputError
from .machine import io_error, writable

LOCK_SUFFIX, NEXT_SUFFIX, GEN_INFIX, OLD_INFIX = ".lock", ".next", ".gen-", ".old-"
RENAME_EXCHANGE, AT_FDCWD = 2, -100  # linux/fs.h, fcntl.h


def new_run_id() -> str:
    """A run's id: UTC time to the second and 8 random hex digits (sortable, unique)."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:8]


MARKER = ".ridge_decode_run.json"
# how a run written before the marker existed is recognised: the JSON file it always wrote and keys it always held
LEGACY = {"fit": ("summary.json", ("groups", "config")), "predict": ("summary.json", ("fit_source", "model")),
          "evaluate": ("metrics.json", ("metrics", "recon_dir")), "aggregate": ("metrics.json", ("aggregate_of",)),
          "maps": ("maps.json", ("maps", "source")), "decode": ("config.json", ("decoder", "predictions")),
          "simulate": ("synthetic.json", ("seed", "subjects"))}
NAMES = {"fit": "a fit", "predict": "a prediction", "evaluate": "an evaluation", "aggregate": "an evaluation mean",
         "maps": "brain maps", "decode": "a decode", "simulate": "a synthetic root"}


def run_kind(folder) -> str | None:
    """The kind of ridge_decode run ``folder`` holds (its marker, else its recorded summary), or None."""
    folder = Path(folder)
    try:
        marked = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        marked = None
    if isinstance(marked, dict) and marked.get("kind") in LEGACY:
        return marked["kind"]
    for kind, (name, keys) in LEGACY.items():
        try:
            recorded = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(recorded, dict) and all(k in recorded for k in keys):
            return kind
    return None


def _what_is_there(folder: Path, kind: str | None, entries: list[Path]) -> str:
    if kind is not None:
        return f"{NAMES[kind]} written by ridge_decode"
    shown = []
    for p in entries[:6]:
        inner = run_kind(p) if p.is_dir() else None
        shown.append(p.name + ("/" if p.is_dir() else "") + (f" ({NAMES[inner]})" if inner else ""))
    more = f" and {len(entries) - 6} more" if len(entries) > 6 else ""
    return f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'} that ridge_decode did not write " \
           f"({', '.join(shown)}{more})"


def claim(folder, kind: str, what: str = "--out") -> Path:
    """``folder`` if a run of ``kind`` may write it: absent, empty, or holding a ridge_decode run of ``kind``.
    Anything else is a ``ForeignFolderError`` (exit 2) naming what is there; nothing is touched."""
    folder = Path(folder)
    if folder.is_symlink() and not folder.exists():
        raise ForeignFolderError(f"{what} {folder} is a link to nothing ({os.readlink(folder)}): give a folder, or "
                                 "remove the link")
    if not folder.exists():
        return folder
    if not folder.is_dir():
        raise ForeignFolderError(f"{what} {folder} is a file; expected a folder (or nothing there yet)")
    try:  # the marker's own temporary file (a decode's shard writing it at this instant) is no foreign entry
        entries = sorted(p for p in folder.iterdir() if not (p.name.startswith(f".{MARKER}.")
                                                             and p.name.endswith(".part")))
    except OSError as exc:
        raise (io_error(exc, folder, what) or exc) from exc
    if not entries:
        return folder
    found = run_kind(folder)
    if found == kind:
        extra = [p for p in entries if p.name not in _committed(folder)]
        if extra:  # the new run replaces the whole folder: what the earlier run did not write would be lost
            shown = ", ".join(p.name + ("/" if p.is_dir() else "") for p in extra[:6])
            more = f" and {len(extra) - 6} more" if len(extra) > 6 else ""
            raise ForeignFolderError(
                f"{what} {folder} holds {NAMES[kind]} written by ridge_decode and {len(extra)} entr"
                f"{'y' if len(extra) == 1 else 'ies'} it did not write ({shown}{more}): a new run replaces the whole "
                f"folder, so it is left untouched. Move those entries out, or choose another {what}")
        return folder
    raise ForeignFolderError(
        f"{what} {folder} holds {_what_is_there(folder, found, entries)}, not {NAMES[kind]}: it is left untouched. "
        f"{NAMES[kind].capitalize()} is written only into a new or empty folder, or over an earlier one of its "
        f"own; choose another {what}")


def _committed(folder: Path) -> set[str] | _Any:
    """The names a marked run's commit wrote into ``folder`` (its marker's ``files``), or every name where the run
    records none (a decode writes its images one by one; a run from before the record)."""
    try:
        files = json.loads((folder / MARKER).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        files = None
    return _Any() if files is None else {*files, MARKER}


class _Any:
    """A set that holds every name."""

    def __contains__(self, name) -> bool:
        return True


def write_marker(folder, kind: str, run_id: str, files=None) -> None:
    """``<folder>/.ridge_decode_run.json``: the kind of run the folder holds, its id and, where given, the names
    its commit wrote (``claim`` refuses a folder that holds others)."""
    from .io import atomic_path

    record = {"kind": kind, "run_id": run_id, "written_by": "ridge_decode"}
    if files is not None:
        record["files"] = sorted(files)
    with atomic_path(Path(folder) / MARKER) as tmp:  # shards of a decode may write it at once
        tmp.write_text(json.dumps(record))


def _rename(a, b) -> None:
    """``os.rename``: the one call the commit is made of (the tests interrupt it at each step)."""
    os.rename(a, b)


def _sibling(folder: Path, infix: str, tag: str = "") -> Path:
    return folder.parent / f".{folder.name}{infix}{tag}"


def staging(folder) -> Path:
    """Where a run of ``folder`` writes before its commit: ``<parent>/.<name>.next``."""
    return _sibling(Path(folder), NEXT_SUFFIX)


SLURM_TASK = ("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_JOB_ID")


def slurm_task() -> str | None:
    """This process's SLURM task (``<array job>_<array task>``, else the job id), or None outside SLURM: what a
    requeued task keeps, on whichever node it restarts."""
    array, task, job = (os.environ.get(k) for k in SLURM_TASK)
    if array and task:
        return f"{array}_{task}"
    return job or None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class FolderLock:
    """The exclusive lock of an output folder, as a context manager; ``run_id`` names the run that holds it.

    ``echo`` receives the takeover report of a stale lock. With ``kind``, the folder is claimed for a run of that
    kind once the lock is held (``claim``), and the commit marks it so.
    """

    def __init__(self, folder, echo=print, what: str = "--out", tag: str = "", kind: str | None = None):
        self.folder, self.echo, self.what, self.kind = Path(folder), echo, what, kind
        # ``tag`` locks one part of a folder that several runs share (a decode shard, a feature family)
        self.path = _sibling(self.folder, f".{tag}{LOCK_SUFFIX}" if tag else LOCK_SUFFIX)
        self.tag = tag
        self.run_id = new_run_id()
        self.info = {"host": socket.gethostname(), "pid": os.getpid(), "run_id": self.run_id,
                     "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                     "command": " ".join(Path(a).name if k == 0 else a for k, a in enumerate(sys.argv)),
                     "slurm_task": slurm_task()}

    def __enter__(self) -> FolderLock:
        writable(self.folder.parent, self.what)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                self._stale_or_raise()
                continue
            except OSError as exc:
                raise (io_error(exc, self.folder, self.what) or exc) from exc
            with os.fdopen(fd, "w") as f:
                json.dump(self.info, f)
            try:
                if not self.tag:
                    recover(self.folder)
                if self.kind is not None:
                    claim(self.folder, self.kind, self.what)
            except BaseException:
                self.__exit__()
                raise
            return self
        raise OutputError(f"{self.what} {self.folder}: could not take its lock {self.path} (it keeps changing)")

    def _stale_or_raise(self) -> None:
        try:
            held = json.loads(self.path.read_text())
        except (OSError, ValueError):
            held = {}
        dead_here = (held.get("host") == self.info["host"] and isinstance(held.get("pid"), int)
                     and not _alive(held["pid"]))
        # a requeued SLURM task restarts with its job and array task ids, on any node: its old lock is its own
        requeued = self.info["slurm_task"] is not None and held.get("slurm_task") == self.info["slurm_task"]
        if dead_here or requeued:
            stale = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}")
            try:
                os.rename(self.path, stale)  # one taker wins; the others find the lock gone or new
            except FileNotFoundError:
                return
            stale.unlink(missing_ok=True)
            why = (f"it is this SLURM task ({held['slurm_task']}), requeued" if requeued and not dead_here
                   else "no longer runs")
            self.echo(f"took over the lock of {self.folder}: its holder (pid {held['pid']} on {held['host']}, "
                      f"started {held.get('started')}) {why}")
            return
        who = (f"pid {held.get('pid')} on {held.get('host')} since {held.get('started')} "
               f"({held.get('command') or 'unknown command'})") if held else "a run that is starting"
        raise OutputError(f"{self.what} {self.folder} is in use by {who}: wait for it to finish, or choose another "
                          f"{self.what}. If that run is dead (on another host), delete {self.path}")

    def check(self) -> None:
        """Stop (an ``OutputError``) when the lock is no longer this run's: it was removed or taken over."""
        try:
            held = json.loads(self.path.read_text())
        except (OSError, ValueError):
            held = {}
        if held.get("run_id") != self.run_id:
            other = f"pid {held.get('pid')} on {held.get('host')}" if held else "nobody (the lock file was removed)"
            raise OutputError(f"the lock of {self.folder} ({self.path}) was lost during this run: it is now held by "
                              f"{other}. Nothing was committed; this run's files stay in {staging(self.folder)}")

    def __exit__(self, *exc) -> None:
        try:
            if json.loads(self.path.read_text()).get("run_id") == self.run_id:
                self.path.unlink()
        except (OSError, ValueError):
            pass


def recover(folder) -> None:
    """Finish what a killed commit left: ``<name>`` missing between two renames is restored from its old generation
    (else the new one); leftover generations beside a whole folder are removed. Called with the lock held."""
    folder = Path(folder)
    gens, olds = _generations(folder, GEN_INFIX), _generations(folder, OLD_INFIX)
    if not folder.exists() and (olds or gens):
        _rename((olds or gens)[-1], folder)
    for leftover in _generations(folder, GEN_INFIX) + _generations(folder, OLD_INFIX):
        shutil.rmtree(leftover, ignore_errors=True)


RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")  # new_run_id's form


def _generations(folder: Path, infix: str) -> list[Path]:
    """``.<name><infix><run id>`` beside ``folder``: a commit's own, never a user's folder of a like name."""
    prefix = f".{folder.name}{infix}"
    return sorted(p for p in folder.parent.glob(prefix + "*") if RUN_ID.fullmatch(p.name[len(prefix):]))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2``); False where the call or the file system lacks it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def commit(folder, lock: FolderLock, names) -> Path:
    """Make the staging folder's ``names`` the folder's content in one step; returns the folder.

    The staging folder is renamed to a generation named by the run's id, which is exchanged with the folder; the
    previous run's folder then goes. Anything in staging besides ``names`` (a finished ``.part``) is removed.
    """
    folder, stage = Path(folder), staging(folder)
    missing = [n for n in names if not (stage / n).exists()]
    if missing:
        raise IncompleteOutputError(f"{stage} lacks {missing}: nothing was committed")
    lock.check()
    for p in stage.iterdir():
        if p.name not in names:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    if lock.kind is not None:
        write_marker(stage, lock.kind, lock.run_id, files={Path(n).parts[0] for n in names})
    gen = _sibling(folder, GEN_INFIX, lock.run_id)
    _rename(stage, gen)
    if not folder.exists():
        _rename(gen, folder)
        return folder
    old = _sibling(folder, OLD_INFIX, lock.run_id)
    if _exchange(gen, folder):
        _rename(gen, old)  # gen now holds the previous run
    else:
        _rename(folder, old)
        _rename(gen, folder)  # a kill between these two renames is repaired by recover()
    shutil.rmtree(old, ignore_errors=True)
    return folder
