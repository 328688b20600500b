"""One downloader for every file the package fetches over HTTP(S): checked, resumable, never kept broken.

A file arrives in ``<name>.part`` beside its final path, by HTTP ranges, resumed from what a cut run left (a server
that ignores the range restarts it), and gets its final name only once its size and sha256 are the recorded ones.
A file already at the final path that is not the recorded one (truncated, edited, an HTML page saved by another
tool) is named and fetched again. An HTML page is never data, whatever its status: a server's login, error or
"file moved" page is refused before a byte of it is written. Used by the real-data fetchers
(``fetch-macaque-v4``, ``fetch-kay2008``) and by ``fetch-weights`` for its transfers.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from ..errors import DataFileError, OutputError
from ..runtime.machine import require_space

CHUNK_BYTES = 8 * 2**20
TIMEOUT_S = 60
ATTEMPTS = 3  # a cut connection is resumed this many times in one run; after that the run stops and the next resumes
HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")


class DownloadError(DataFileError):
    """A file could not be downloaded, or its bytes are not the recorded file; the message names the file, the URL
    and what to do."""


def sha256_file(path) -> str:
    """The sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_BYTES):
            h.update(chunk)
    return h.hexdigest()


def problem(path, size: int | None = None, sha256: str | None = None) -> str | None:
    """What is wrong with the file at ``path`` against its recorded ``size`` (bytes) and ``sha256`` (hex); None when
    nothing is (or nothing is recorded)."""
    found = Path(path).stat().st_size
    if size is not None and found != size:
        return f"{found} bytes; expected {size}"
    if sha256 is not None and (digest := sha256_file(path)) != sha256:
        return f"sha256 {digest}; expected {sha256}"
    return None


def fetch_file(url: str, path, *, size: int | None = None, sha256: str | None = None, headers: dict | None = None,
               hint: str = "", option: str = "--dest", progress: bool = True, echo=print) -> Path:
    """Download ``url`` to ``path``, checked against ``size`` and ``sha256``; a file already there and matching is
    kept (nothing is requested). Returns ``path``.

    Raises :class:`DownloadError` (unreachable, an HTTP error, an HTML page, a cut that did not resume, the wrong
    bytes: the ``.part`` of wrong bytes is removed) or :class:`~ridge_decode.errors.OutputError` (the folder is not
    writable or has no room; ``option`` names the flag that chose it). ``hint`` ends each download message (e.g.
    where to get the file by hand).
    """
    path = Path(path)
    if path.is_file():
        wrong = problem(path, size, sha256)
        if wrong is None:
            return path
        echo(f"{path} is damaged ({wrong}): fetching it again")
        _writable(path.parent, option, lambda: path.unlink())
    part = transfer(url, path, headers=headers, size=size, hint=hint, option=option, progress=progress)
    wrong = problem(part, size, sha256)
    if wrong is not None:
        part.unlink()
        raise DownloadError(f"{url} gave {path.name} with {wrong}: the download was removed; run the same command "
                            "again, and if it repeats, the source no longer serves the recorded file" + _tail(hint))
    os.replace(part, path)
    return path


def transfer(url: str, path, *, headers: dict | None = None, size: int | None = None, hint: str = "",
             option: str = "--dest", progress: bool = True) -> Path:
    """The bytes of ``url`` into ``<path>.part`` (resumed from what it holds), complete; returns the ``.part``
    path, which the caller checks and renames. ``size`` (bytes, when known) bounds the resume and the free-space
    check."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    _writable(path.parent, option, lambda: path.parent.mkdir(parents=True, exist_ok=True))
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:  # not a prefix of this file: start over
        _writable(path.parent, option, part.unlink)
        offset = 0
    if size is not None:
        require_space(path.parent, size - offset, f"downloading {path.name}", option=option)
    got, total = offset, size
    for _ in range(ATTEMPTS):
        if total is not None and got >= total:
            break
        got, total, complete = _get(url, part, got, headers or {}, size, hint, option, progress)
        if complete:
            return part
    if total is not None and got >= total:
        return part
    raise DownloadError(f"download of {path.name} from {url} stopped at {got} of {total} bytes (the connection "
                        f"closed, {ATTEMPTS} tries); run the same command again to resume" + _tail(hint))


def _get(url, part: Path, offset: int, headers: dict, size, hint: str, option: str, progress: bool):
    """One request from byte ``offset``; returns (bytes now in the part, the file's total or None, complete)."""
    request = urllib.request.Request(url, headers=dict(headers) | ({"Range": f"bytes={offset}-"} if offset else {}))
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_S)  # noqa: S310 - http(s) URLs of the manifest
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the part is not a prefix the server can continue: start over
            _writable(part.parent, option, part.unlink)
            return 0, size, False
        raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}" + _tail(hint)) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"cannot reach {url} ({reason}): check the network" + _tail(hint)) from None
    with response:
        if offset and response.status != 206:  # the server ignored the range: start over
            offset = 0
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length is not None and length.isdigit() else size
        got = offset
        try:
            first = response.read(min(CHUNK_BYTES, 4096))
        except (OSError, http.client.HTTPException):
            return got, total, False
        if _is_html(response.headers.get("Content-Type", ""), first):
            raise DownloadError(f"{url} served an HTML page (Content-Type {response.headers.get('Content-Type')!r}, "
                                f"status {response.status}), not the file: the address no longer serves the data "
                                "(a login, error or moved page); nothing was kept" + _tail(hint))
        mode = "ab" if offset else "wb"
        try:
            with open(part, mode) as out, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                               desc=part.name[:-5], disable=not progress) as bar:
                chunk = first
                while chunk:
                    out.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
                    try:
                        chunk = response.read(CHUNK_BYTES)
                    except (OSError, http.client.HTTPException):  # a cut connection: what arrived stays in the part
                        return got, total, False
        except OSError as exc:
            raise output_error(part.parent, option, exc) from None
    return got, total, total is None or got >= total


def _is_html(content_type: str, head: bytes) -> bool:
    if content_type.split(";")[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    return head.lstrip()[:15].lower().startswith(HTML_MARKERS)


def _writable(folder: Path, option: str, action):
    """``action()``; a folder we may not write (read-only, no permission, full) becomes one OutputError."""
    try:
        return action()
    except OSError as exc:
        raise output_error(folder, option, exc) from None


WRITE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC)  # a folder we may not write, or a full disk


def output_error(folder: Path, option: str, exc: OSError) -> OutputError:
    """One line for a write that failed in ``folder`` (chosen by ``option``): read-only, no permission, or full."""
    if exc.errno == errno.ENOSPC:
        return OutputError(f"{option} {folder}: the disk is full (what arrived is kept in the .part file); free "
                           "space there and run the same command again, or choose another " + option)
    return OutputError(f"{option} {folder}: cannot write there ({exc.strerror or exc}): choose a folder you can "
                       f"write, or fix its permissions")


def _tail(hint: str) -> str:
    return f"; {hint}" if hint else ""
