"""Resolve the entries of ``data_manifest.yaml`` to local paths, and say exactly what is missing.

The data root is chosen in a documented order, as nilearn does: the ``data_root`` argument (``--data-root``),
else the ``RIDGE_DECODE_DATA`` environment variable, else the manifest's ``data_root_default``. Model weights
live under a weights root: the argument, else ``RIDGE_DECODE_WEIGHTS``, else ``<data root>/weights``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

# DataFileError and DataFormatError are re-exported: callers have always imported them from here
from ..errors import DataFileError, DataFormatError, InputError, UnknownEntryError, WeightsFileError  # noqa: F401

DATA_ENV = "RIDGE_DECODE_DATA"
WEIGHTS_ENV = "RIDGE_DECODE_WEIGHTS"
MANIFEST_ENV = "RIDGE_DECODE_MANIFEST"
SIMULATE_HINT = (
    "To run without NSD, simulate a subject in the NSD layout and point at it:\n"
    "    python scripts/simulate.py --out data/synthetic\n"
    "    python scripts/fit.py --subject 1 --data-root data/synthetic"
)


@dataclass(frozen=True)
class Entry:
    """One manifest entry: a file or folder, relative to the data root (nsd) or the weights root (weights)."""

    key: str
    kind: str
    path: str
    per: str = "dataset"
    format: str | None = None
    dtype: str | None = None
    shape: tuple | None = None
    dataset: str | None = None
    size_bytes: int | None = None
    size_exact: bool = True
    source: str | None = None
    description: str = ""
    alternative_to: str | None = None
    # where fetch-weights gets a weight entry: a hub repository ({repo, revision, local_dir}) or a release URL
    hub: dict | None = None
    url: str | None = None
    hash_prefix: str | None = None  # the start of a release file's sha256 (torchvision's file names)
    sha256: str | None = None
    files: dict | None = None  # a hub entry's files: repository path -> {size_bytes, sha256}
    license: str | None = None
    gated: bool = False
    extra: dict = field(default_factory=dict)

    def relpath(self, subject: int | None = None, session: int | None = None) -> str:
        """The path template filled with ``subject`` and ``session`` where the entry needs them."""
        if self.per in ("subject", "session") and subject is None:
            raise InputError(f"manifest entry {self.key!r} is per {self.per}: a subject is needed")
        if self.per == "session" and session is None:
            raise InputError(f"manifest entry {self.key!r} is per session: a session is needed")
        return self.path.format(subject=subject or 0, session=session or 0)


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest: entries plus per-subject facts (sessions, voxel counts, grids)."""

    entries: dict[str, Entry]
    subjects: dict[int, dict[str, Any]]
    source_root: str
    data_root_default: str
    access: str
    trials_per_session: int
    n_images: int
    n_shared: int

    def __getitem__(self, key: str) -> Entry:
        try:
            return self.entries[key]
        except KeyError:
            raise UnknownEntryError(f"no entry {key!r} in data_manifest.yaml; known: {sorted(self.entries)}") from None

    def of_kind(self, kind: str) -> list[Entry]:
        """Entries of one kind ("nsd" or "weights"), in manifest order."""
        return [e for e in self.entries.values() if e.kind == kind]

    def subject_info(self, subject: int) -> dict[str, Any]:
        """Sessions, voxel count and grid of an NSD subject; a clear error for an unknown subject."""
        if subject not in self.subjects:
            raise InputError(f"unknown subject {subject!r} (--subject, --subjects): NSD has subjects "
                             f"{min(self.subjects)}..{max(self.subjects)}")
        return self.subjects[subject]

    def where_to_get(self, entry: Entry, subject: int | None = None, session: int | None = None,
                     root: str | os.PathLike | None = None) -> str:
        """A one-paragraph instruction for obtaining ``entry`` (into ``root``, the data or weights root, if known)."""
        if entry.kind == "nsd":
            rel = entry.relpath(subject if subject is not None else 1, session if session is not None else 1)
            # a dataset-wide file (design, stimuli, captions) comes with any subject's files
            fetch = f"python scripts/fetch_nsd.py --subject {subject or 1} --dest {root or '<data root>'}"
            return (
                f"It comes from {self.source_root}/{rel}. {self.access.strip()}\n"
                f"Fetch it with: {fetch}\n{SIMULATE_HINT}"
            )
        return (f"Fetch it with: python scripts/fetch_weights.py --only {entry.key} --weights-root "
                f"{root or '<weights root>'} (from {entry.source.rstrip('.')}); weights are never downloaded at run "
                "time")


def _manifest_path(path: str | os.PathLike | None) -> Path:
    if path is not None:
        return Path(path)
    if os.environ.get(MANIFEST_ENV):
        return Path(os.environ[MANIFEST_ENV])
    return Path(__file__).resolve().parents[1] / "data_manifest.yaml"


def load_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """Parse ``data_manifest.yaml`` (default: the one shipped with the package, or ``$RIDGE_DECODE_MANIFEST``)."""
    return _load_manifest_cached(str(_manifest_path(path).resolve()))


@lru_cache(maxsize=4)
def _load_manifest_cached(path: str) -> Manifest:
    raw = yaml.safe_load(Path(path).read_text())
    known = set(Entry.__dataclass_fields__) - {"key", "extra"}
    entries = {}
    for key, spec in raw["entries"].items():
        spec = dict(spec)
        extra = {k: spec.pop(k) for k in list(spec) if k not in known}
        if spec.get("shape") is not None:
            spec["shape"] = tuple(spec["shape"])
        entries[key] = Entry(key=key, extra=extra, **spec)
    return Manifest(
        entries=entries,
        subjects={int(k): v for k, v in raw["subjects"].items()},
        source_root=raw["source_root"],
        data_root_default=raw["data_root_default"],
        access=raw["access"],
        trials_per_session=int(raw["trials_per_session"]),
        n_images=int(raw["n_images"]),
        n_shared=int(raw["n_shared"]),
    )


def _a_folder(path: Path, named_by: str, what: str) -> Path:
    """``path`` unless it is a file: an ``InputError`` that says what named it, before any advice about what is
    missing inside it."""
    if path.is_file():
        raise InputError(f"{named_by} names {path}, a file; it must name a folder ({what})")
    return path


def resolve_data_root(data_root: str | os.PathLike | None = None, manifest: Manifest | None = None) -> Path:
    """The data root: the argument, else ``$RIDGE_DECODE_DATA``, else the manifest default."""
    what = "an NSD or synthetic root"
    if data_root is not None:
        return _a_folder(Path(data_root), "the data root (--data-root)", what)
    if os.environ.get(DATA_ENV):
        return _a_folder(Path(os.environ[DATA_ENV]), f"${DATA_ENV}", what + "; unset it, or point it at one")
    return Path((manifest or load_manifest()).data_root_default)


def resolve_weights_root(
    weights_root: str | os.PathLike | None = None, data_root: str | os.PathLike | None = None
) -> Path:
    """The weights root: the argument, else ``$RIDGE_DECODE_WEIGHTS``, else ``<data root>/weights``."""
    what = "the weights root, which fetch-weights fills"
    if weights_root is not None:
        return _a_folder(Path(weights_root), "the weights root (--weights-root)", what)
    if os.environ.get(WEIGHTS_ENV):
        return _a_folder(Path(os.environ[WEIGHTS_ENV]), f"${WEIGHTS_ENV}", what + "; unset it, or point it at one")
    return resolve_data_root(data_root) / "weights"


def unreadable(path: Path) -> Path | None:
    """The first file or folder at or under ``path`` that this user cannot read (None when all can be, or when
    ``path`` does not exist): a folder that cannot be listed would otherwise look empty."""
    path = Path(path)
    if not os.path.lexists(path):
        return None
    if not os.access(path, os.R_OK | (os.X_OK if path.is_dir() else 0)):
        return path
    if path.is_dir():
        errors: list[OSError] = []
        for folder, dirs, files in os.walk(path, onerror=errors.append):
            for name in dirs + files:
                p = Path(folder) / name
                if not os.access(p, os.R_OK | (os.X_OK if p.is_dir() else 0)):
                    return p
        if errors:
            return Path(errors[0].filename)
    return None


def entry_path(
    key: str,
    root: str | os.PathLike,
    subject: int | None = None,
    session: int | None = None,
    manifest: Manifest | None = None,
) -> Path:
    """Local path of a manifest entry under ``root`` (no existence check)."""
    manifest = manifest or load_manifest()
    return Path(root) / manifest[key].relpath(subject, session)


def require(
    key: str,
    root: str | os.PathLike,
    subject: int | None = None,
    session: int | None = None,
    manifest: Manifest | None = None,
) -> Path:
    """Local path of a manifest entry, or a :class:`DataFileError` naming the file and how to get it."""
    manifest = manifest or load_manifest()
    path = entry_path(key, root, subject, session, manifest)
    denied = unreadable(path)
    if denied is not None:
        raise (WeightsFileError if manifest[key].kind == "weights" else DataFileError)(
            f"{denied}: permission denied (manifest entry {key!r}): make it readable, e.g. chmod -R a+rX {path}")
    if not path.exists():
        entry = manifest[key]
        raise (WeightsFileError if entry.kind == "weights" else DataFileError)(
            f"Missing {entry.description.split('.')[0].strip() or key} (manifest entry {key!r}):\n"
            f"    {path}\n{manifest.where_to_get(entry, subject, session, root)}"
        )
    return path
