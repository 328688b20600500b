"""Download the model weights the manifest declares, pinned and checked, resumably and atomically.

Hub entries are resolved by ``huggingface_hub`` one file at a time (only the files the package loads, never a
whole repository), at the revision the manifest pins to a commit, into ``local_dir`` under the weights root;
``HF_ENDPOINT``, ``HF_HUB_OFFLINE`` and ``HF_TOKEN`` work as huggingface_hub documents them. Their bytes, and
the URL entries' (torchvision's and SwAV's release files), arrive in ``<name>.part`` by HTTP ranges, resumed
from what a cut run left, and are renamed only once complete (the package's one downloader,
``sources/download.py``). Every file is checked against a sha256: the manifest's, else a release file's hash
prefix, else the hub's own digest (an LFS file's ETag is its sha256; a small file's is its git blob sha1).
What was fetched is recorded in ``<weights root>/fetched_weights.json`` (size and sha256 of each file, and the
commit it came from), so that ``check-data --weights`` on a second machine can be held to the first.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import RidgeDecodeError
from ..runtime.machine import require_space
from ..sources.download import DownloadError, sha256_file, transfer
from ..sources.fetch_nsd import human_size
from ..sources.manifest import Entry, Manifest, load_manifest

RECORD = "fetched_weights.json"
RECORD_FORMAT = "ridge_decode.fetched_weights/1"
CHUNK_BYTES = 8 * 2**20
COMMIT = re.compile(r"[0-9a-f]{40}")
SHA256 = re.compile(r"[0-9a-f]{64}")
APPROX_TOLERANCE = 0.10  # a size the manifest rounds is held to within 10% (a truncated or wrong file is not)
APPROX_MIN_BYTES = 10**6  # below this, a rounded size says nothing: only the file's presence is checked


class FetchError(RidgeDecodeError):
    """A weight could not be fetched or does not match its digest; the message says what to do."""


@dataclass(frozen=True)
class WeightFile:
    """One file of a weight entry: where it lands under the weights root, its expected size and digests, and where
    it comes from (a hub repository file at a commit, or a URL)."""

    key: str
    relpath: str
    size_bytes: int | None
    size_exact: bool
    sha256: str | None = None
    hash_prefix: str | None = None
    repo: str | None = None
    revision: str | None = None
    filename: str | None = None  # the path inside the repository
    local_dir: str | None = None
    url: str | None = None

    @property
    def origin(self) -> str:
        return f"{self.repo}@{self.revision}" if self.repo else str(self.url)


def entry_files(entry: Entry) -> list[WeightFile]:
    """The files of weight entry ``entry`` (every file the package loads from it)."""
    if entry.hub:
        hub = entry.hub
        return [WeightFile(entry.key, f"{hub['local_dir']}/{name}", (spec or {}).get("size_bytes"), entry.size_exact,
                           (spec or {}).get("sha256"), None, hub["repo"], hub["revision"], name, hub["local_dir"])
                for name, spec in (entry.files or {}).items()]
    if entry.url:
        return [WeightFile(entry.key, entry.path, entry.size_bytes, entry.size_exact, entry.sha256, entry.hash_prefix,
                           url=entry.url)]
    return []


def plan(keys, manifest: Manifest | None = None) -> list[WeightFile]:
    """The files of the weight entries ``keys`` (manifest order), each once."""
    manifest = manifest or load_manifest()
    weights = {e.key: e for e in manifest.of_kind("weights")}
    unknown = [k for k in keys if k not in weights]
    if unknown:
        raise FetchError(f"--only: no weight entry {', '.join(map(repr, unknown))} in data_manifest.yaml; "
                         f"known: {', '.join(weights)}")
    seen, out = set(), []
    for key in (k for k in weights if k in set(keys)):
        for wf in entry_files(weights[key]):
            if wf.relpath not in seen:
                seen.add(wf.relpath)
                out.append(wf)
    return out


def format_plan(files: list[WeightFile], manifest: Manifest | None = None) -> str:
    """Each entry (where it comes from, at which commit, its license and gating), its files and sizes, the total."""
    manifest = manifest or load_manifest()
    sizes = {wf.relpath: ("" if wf.size_exact else "~") + human_size(wf.size_bytes or 0) for wf in files}
    width = max(map(len, sizes.values()), default=0)
    lines = []
    for key in dict.fromkeys(wf.key for wf in files):
        e = manifest[key]
        origin = f"{e.hub['repo']} at commit {e.hub['revision']}" if e.hub else e.url
        gate = "gated: accept its terms on the hub, then set HF_TOKEN" if e.gated else "not gated"
        lines += [f"{key}: {origin}", f"    license: {e.license or 'not stated'}; {gate}"]
        lines += [f"    {sizes[wf.relpath]:>{width}}  {wf.relpath}" for wf in files if wf.key == key]
    total = sum(wf.size_bytes or 0 for wf in files)
    approx = not all(wf.size_exact for wf in files)
    lines.append(f"total {'~' if approx else ''}{human_size(total)} in {len(files)} files"
                 + (" (~: sizes rounded from public listings)" if approx else ""))
    return "\n".join(lines)


def git_blob_sha1(path: Path) -> str:
    """The git blob sha1 of a file: the hub's ETag of a file not stored with LFS."""
    h = hashlib.sha1(f"blob {Path(path).stat().st_size}\0".encode())
    h.update(Path(path).read_bytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------------------------- the record
def read_record(path: Path) -> dict[str, dict]:
    """``relpath -> {entry, size_bytes, sha256, origin}`` from a record file (a weights root's, or another
    machine's); empty when there is none."""
    path = Path(path)
    path = path / RECORD if path.is_dir() else path
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text())
        return dict(raw["files"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise FetchError(f"{path}: not a weights record ({RECORD_FORMAT}): {exc}; delete it, and run "
                         "`ridge-decode fetch-weights` again to rebuild it") from exc


def record(weights_root: Path, rows: dict[str, dict]) -> Path:
    """Merge ``rows`` (relpath -> {entry, size_bytes, sha256, origin}) into the weights root's record, atomically."""
    path = Path(weights_root) / RECORD
    files = read_record(path) | rows
    tmp = path.with_name(f".{RECORD}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"format": RECORD_FORMAT, "files": dict(sorted(files.items()))}, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def record_folder(weights_root: Path, key: str, folder: Path, origin: str) -> Path:
    """Record every file under ``folder`` (or the file ``folder``) as weight entry ``key``, with its digest."""
    root, folder = Path(weights_root), Path(folder)
    paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    return record(root, {str(p.relative_to(root)): {"entry": key, "size_bytes": p.stat().st_size,
                                                    "sha256": sha256_file(p), "origin": origin} for p in paths})


# ------------------------------------------------------------------------------------------------ checking
def check_file(wf: WeightFile, weights_root: Path, verify: bool, known: dict[str, dict]) -> str | None:
    """What is wrong with ``wf`` under ``weights_root`` (None: nothing). Sizes are always compared (to the record
    ``known``, else the manifest); with ``verify``, the sha256 too. Messages name the fix."""
    path = Path(weights_root) / wf.relpath
    fix = f"delete {path} and run `ridge-decode fetch-weights --only {wf.key}` again"
    if not path.is_file():
        return f"{wf.relpath} is missing: run `ridge-decode fetch-weights --only {wf.key}`"
    size, rec = path.stat().st_size, known.get(wf.relpath)
    expected = rec["size_bytes"] if rec else wf.size_bytes
    exact = bool(rec) or wf.size_exact
    if size == 0:
        return f"{wf.relpath} is empty: {fix}"
    if expected and exact and size != expected:
        return f"{wf.relpath} has {size} bytes; expected {expected} ({'the record' if rec else 'the manifest'}): {fix}"
    if expected and not exact and expected >= APPROX_MIN_BYTES and abs(size - expected) > APPROX_TOLERANCE * expected:
        return f"{wf.relpath} has {size} bytes; the manifest expects about {expected}: {fix}"
    if verify:
        want = wf.sha256 or (rec or {}).get("sha256")
        if want or wf.hash_prefix:
            found = sha256_file(path)
            if want and found != want:
                return f"{wf.relpath} (entry {wf.key}): sha256 {found}; expected {want}: {fix}"
            if wf.hash_prefix and not found.startswith(wf.hash_prefix):
                return (f"{wf.relpath} (entry {wf.key}): sha256 {found}; expected one starting {wf.hash_prefix} "
                        f"(the release's hash prefix): {fix}")
    return None


def verify_level(wf: WeightFile, known: dict[str, dict]) -> str:
    """What a file's sha256 is checked against: the manifest, the record, a hash prefix, or nothing."""
    if wf.sha256:
        return "manifest sha256"
    if wf.relpath in known:
        return "recorded sha256"
    return "hash prefix" if wf.hash_prefix else "size only"


# ------------------------------------------------------------------------------------------------ fetching
def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def fetch(files: list[WeightFile], weights_root, endpoint: str | None = None, token: str | None = None,
          progress: bool = True, echo=print) -> list[Path]:
    """Fetch ``files`` under ``weights_root``; those already there and matching are kept. Returns their paths.

    Raises a one-line :class:`FetchError` when the hub cannot be reached, a repository is gated or absent, the disk
    has no room for what remains, a download is cut (run again: it resumes), or a digest differs.
    """
    root = Path(weights_root)
    root.mkdir(parents=True, exist_ok=True)
    known = read_record(root)
    todo = [wf for wf in files if check_file(wf, root, False, known) is not None or wf.relpath not in known]
    if todo and _offline():
        names = ", ".join(wf.relpath for wf in todo[:3]) + (" ..." if len(todo) > 3 else "")
        raise FetchError(f"HF_HUB_OFFLINE is set and {len(todo)} files are not under {root} yet ({names}): unset "
                         "HF_HUB_OFFLINE to download them, or copy them there and run `ridge-decode check-data "
                         "--weights --verify`")
    remaining = sum(max((wf.size_bytes or 0) - _partial_bytes(root, wf), 0) for wf in todo)
    if todo:
        require_space(root, remaining, f"fetching {len(todo)} weight files", option="--weights-root")
    endpoint = endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    for i, wf in enumerate(todo, 1):
        echo(f"[{i}/{len(todo)}] {wf.relpath}  ({wf.origin})")
        if wf.url and (root / wf.relpath).is_file():  # there but not recorded (copied by hand): checked as fetched
            path, hub_digest = root / wf.relpath, None
        elif wf.repo:
            path, hub_digest = _fetch_hub(wf, root, endpoint, token, progress)
        else:
            path, hub_digest = _fetch_url(wf, root, progress), None
        found = _check_digest(wf, path, hub_digest)
        if path != root / wf.relpath:  # a download's .part: its final name only once its digest is checked
            os.replace(path, root / wf.relpath)
        record(root, {wf.relpath: {"entry": wf.key, "size_bytes": (root / wf.relpath).stat().st_size,
                                   "sha256": found, "origin": wf.origin}})
    return [root / wf.relpath for wf in files]


def _partial_bytes(root: Path, wf: WeightFile) -> int:
    """Bytes of ``wf`` already on disk: the file itself, or what a cut download left in its ``.part``."""
    for path in (root / wf.relpath, root / (wf.relpath + ".part")):
        if path.is_file():
            return path.stat().st_size
    return 0



def _check_digest(wf: WeightFile, path: Path, hub_digest: str | None) -> str:
    """The file's sha256, after checking it against the manifest's, the hash prefix or the hub's digest; a
    mismatching file is removed (it must not stay under its final name)."""
    found = sha256_file(path)
    want, what = wf.sha256, "the manifest"
    if want is None and hub_digest and SHA256.fullmatch(hub_digest):
        want, what = hub_digest, "the hub's ETag"
    problem = None
    if want and found != want:
        problem = f"sha256 {found}; expected {want} ({what})"
    elif wf.hash_prefix and not found.startswith(wf.hash_prefix):
        problem = f"sha256 {found}; expected one starting {wf.hash_prefix} (the release's hash prefix)"
    elif not want and hub_digest and COMMIT.fullmatch(hub_digest) and (blob := git_blob_sha1(path)) != hub_digest:
        problem = f"git blob sha1 {blob}; expected {hub_digest} (the hub's ETag)"
    if problem:
        path.unlink()
        raise FetchError(f"{wf.relpath} (entry {wf.key}) from {wf.origin}: {problem}. The file was removed; run "
                         f"`ridge-decode fetch-weights --only {wf.key}` again, and if it repeats, the source differs "
                         "from what the manifest pins")
    return found


def _fetch_hub(wf: WeightFile, root: Path, endpoint: str, token, progress: bool) -> tuple[Path, str | None]:
    """One repository file at the pinned commit; returns its path (a download: its complete ``.part``) and the
    hub's digest of it (ETag).

    huggingface_hub resolves the file (its URL at the commit, the commit the hub reports, its ETag, size and
    download location); the bytes then come by the same ranged download as a release file. huggingface_hub 2.4
    downloads into a process-unique temporary file that it deletes when a transfer fails, so a cut download would
    start over on the next run; a ``.part`` beside the file resumes instead.
    """
    # heavy (huggingface_hub): imported where used
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.utils import build_hf_headers

    url = hf_hub_url(wf.repo, wf.filename, revision=wf.revision, endpoint=endpoint)
    try:
        meta = get_hf_file_metadata(url, token=token, endpoint=endpoint)
    except Exception as exc:  # noqa: BLE001 - every hub failure becomes one line that says what to do
        raise FetchError(_hub_message(exc, wf, endpoint, token)) from exc
    if meta.commit_hash and meta.commit_hash != wf.revision:
        raise FetchError(f"{endpoint} resolved {wf.repo} revision {wf.revision} to commit {meta.commit_hash}: the "
                         "manifest pins a commit, so this server is not serving it; check HF_ENDPOINT")
    local = root / wf.relpath
    if local.is_file() and meta.size is not None and local.stat().st_size == meta.size:
        return local, meta.etag  # already there (copied by hand, or by huggingface-cli): checked, not fetched again
    location = meta.location or url
    # the token goes to the hub only, never to the storage a large file is redirected to
    same_host = urlsplit(location).netloc == urlsplit(endpoint).netloc
    headers = build_hf_headers(token=token) if same_host else {}
    return _download(wf, root, location, headers, meta.size, progress), meta.etag


def _hub_message(exc: Exception, wf: WeightFile, endpoint: str, token) -> str:
    # heavy (huggingface_hub): imported where used
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        HfHubHTTPError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{wf.repo} on {endpoint}"
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if isinstance(exc, GatedRepoError) or (status in (401, 403) and not isinstance(exc, RepositoryNotFoundError)):
        if token or os.environ.get("HF_TOKEN"):
            return (f"{where} is gated and the token given has no access: accept its terms at "
                    f"{endpoint}/{wf.repo} with the account of HF_TOKEN")
        return (f"{where} is gated (HTTP {status}) and no token is set: accept its terms at {endpoint}/{wf.repo}, "
                "then set HF_TOKEN (or run `hf auth login`)")
    if isinstance(exc, RevisionNotFoundError):
        return f"{where} has no revision {wf.revision} (the manifest's pin): check HF_ENDPOINT and the manifest"
    if isinstance(exc, EntryNotFoundError):
        return f"{where} has no file {wf.filename} at {wf.revision}: check HF_ENDPOINT and the manifest's files"
    if isinstance(exc, RepositoryNotFoundError):
        return (f"{where}: repository not found (HTTP {status}): check HF_ENDPOINT; a private repository also "
                "needs HF_TOKEN")
    if isinstance(exc, HfHubHTTPError):
        return f"{where}: HTTP {status} for {wf.filename}: {str(exc).splitlines()[0]}"
    cause = exc.__cause__ or exc
    return (f"cannot reach {endpoint} for {wf.repo} ({type(cause).__name__}: {str(cause).splitlines()[0][:160]}): "
            "check the network or HF_ENDPOINT; or copy the files under the weights root and run "
            "`ridge-decode check-data --weights --verify`")


def _fetch_url(wf: WeightFile, root: Path, progress: bool) -> Path:
    """A release file over HTTP(S), into its complete ``.part``."""
    return _download(wf, root, wf.url, {}, wf.size_bytes if wf.size_exact else None, progress)


def _download(wf: WeightFile, root: Path, url: str, headers: dict, size: int | None, progress: bool) -> Path:
    """``url`` into ``<file>.part`` by the package's one downloader (resumed, an HTML page refused); returns the
    complete ``.part``, which the caller checks before giving it its name."""
    local = root / wf.relpath
    try:
        part = transfer(url, local, headers=headers, size=size, option="--weights-root", progress=progress,
                        hint=f"or fetch the file by hand to {local} and run `ridge-decode check-data --weights "
                             "--verify`")
    except DownloadError as exc:
        raise FetchError(f"{wf.relpath} (entry {wf.key}): {exc}") from None
    return part
