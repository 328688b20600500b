"""Download a subject's NSD files from the public bucket (or any fsspec URL), resumably and atomically.

The source root defaults to the manifest's ``source_root`` (``s3://natural-scenes-dataset``, read
anonymously with s3fs: ``pip install "ridge_decode[fetch]"``). Tests use a ``file://`` root: the same code
path with another fsspec protocol.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import InputError
from .manifest import load_manifest

CHUNK_BYTES = 8 * 2**20
NSD_BETAS_FORMATS = ("hdf5", "nifti")


@dataclass(frozen=True)
class FetchItem:
    """One file to fetch: its manifest key, path relative to the roots, and expected size in bytes."""

    key: str
    relpath: str
    size_bytes: int | None
    size_exact: bool


def plan(subject: int, sessions: int | None = None, betas_format: str = "hdf5") -> list[FetchItem]:
    """Exactly the files ``subject`` needs (design, stimuli, captions, ROI, betas), with manifest sizes."""
    manifest = load_manifest()
    info = manifest.subject_info(subject)
    if betas_format not in NSD_BETAS_FORMATS:
        raise InputError(f"betas_format must be one of {NSD_BETAS_FORMATS}; got {betas_format!r}")
    n = info["sessions"] if sessions is None else sessions
    if not 1 <= n <= info["sessions"]:
        raise InputError(f"subject {subject} has sessions 1..{info['sessions']}; asked for {n}")
    items = []
    for key in ("expdesign", "stim_info", "stimuli", "captions_train", "captions_val", "nsdgeneral", "ncsnr"):
        e = manifest[key]
        items.append(FetchItem(key, e.relpath(subject, 1), e.size_bytes, e.size_exact))
    e = manifest[f"betas_{betas_format}"]
    for s in range(1, n + 1):
        items.append(FetchItem(e.key, e.relpath(subject, s), e.size_bytes, e.size_exact))
    return items


def format_plan(items: list[FetchItem]) -> str:
    """A table of the files and sizes to fetch, with the total."""
    lines = [f"{'size':>10}  file"]
    total = 0
    for it in items:
        size = it.size_bytes or 0
        total += size
        mark = "" if it.size_exact else "~"
        lines.append(f"{mark + human_size(size):>10}  {it.relpath}")
    lines.append(f"{'~' + human_size(total):>10}  total ({len(items)} files; ~ marks sizes estimated from shapes)")
    return "\n".join(lines)


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000.0
    return str(n)


def _filesystem(source_root: str):
    # heavy (fsspec): imported where used
    import fsspec

    protocol = source_root.split("://", 1)[0] if "://" in source_root else "file"
    if protocol == "s3":
        try:
            import s3fs  # noqa: F401
        except ImportError as exc:
            raise ImportError('fetching from S3 needs s3fs: pip install "ridge_decode[fetch]"') from exc
        return fsspec.filesystem("s3", anon=True), source_root.split("://", 1)[1]
    return fsspec.filesystem(protocol), source_root.split("://", 1)[-1]


def fetch(
    items: list[FetchItem], dest: str | Path, source_root: str | None = None, progress: bool = True
) -> list[Path]:
    """Download ``items`` under ``dest``. Files already complete are skipped; a partial ``.part`` resumes.

    Each file is written to ``<name>.part`` and renamed only once its size equals the source's.
    """
    source_root = source_root or load_manifest().source_root
    fs, base = _filesystem(source_root)
    dest = Path(dest)
    done = []
    for it in items:
        remote = f"{base.rstrip('/')}/{it.relpath}"
        local = dest / it.relpath
        size = fs.size(remote)
        if local.exists() and local.stat().st_size == size:
            done.append(local)
            continue
        local.parent.mkdir(parents=True, exist_ok=True)
        part = local.with_name(local.name + ".part")
        offset = part.stat().st_size if part.exists() else 0
        if offset > size:
            part.unlink()
            offset = 0
        with fs.open(remote, "rb") as src, open(part, "ab") as out, tqdm(
            total=size, initial=offset, unit="B", unit_scale=True, desc=local.name, disable=not progress
        ) as bar:
            src.seek(offset)
            while chunk := src.read(CHUNK_BYTES):
                out.write(chunk)
                bar.update(len(chunk))
        if part.stat().st_size != size:
            raise OSError(f"download of {remote} stopped at {part.stat().st_size} of {size} bytes; run again to resume")
        os.replace(part, local)
        done.append(local)
    return done
