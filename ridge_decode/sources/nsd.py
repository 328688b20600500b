"""An NSD root as a source: betas -> nsdgeneral voxels -> /300 -> per-session z-score -> repeats averaged by 73k id.

Also reads stimuli by 73k id and COCO captions. :class:`NSDSource` is what the stages see (``--data-root``,
``--subject``, ``--sessions``); the synthetic subject is an NSD root too. Every file is located through
:mod:`ridge_decode.manifest`, and every bad file gets an error that names it, what was expected and what was found.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import h5py
import numpy as np
from tqdm.auto import tqdm

from .. import layout
from ..errors import InputError
from ..io import atomic_path, file_signature
from ..manifest import (
    DataFileError,
    DataFormatError,
    Manifest,
    entry_path,
    load_manifest,
    require,
    resolve_data_root,
)
from .base import Source, SourceOption, Stimuli, SubjectData, noise_ceiling, open_hdf5, zscore_rows

log = logging.getLogger(__name__)

BETA_SCALE = 300.0  # NSD betas are percent signal change x 300, stored as int16
SLAB_TRIALS = 50  # HDF5 betas are read this many trials at a time: bounded memory on 1 GB sessions
ZSCORE_MODES = ("session", "session-train", "none")
BETAS_FORMATS = ("auto", "hdf5", "nifti")
CACHE_VERSION = 1  # bump when the preprocessing changes, so old caches are rebuilt


# --------------------------------------------------------------------------- design and mask
def read_design(path: str | Path) -> dict[str, np.ndarray]:
    """``nsd_expdesign.mat`` as 1-based int64 arrays: masterordering (30000,), subjectim (8, 10000), sharedix."""
    try:
        import scipy.io  # here, not at import: every command's --help imports this module

        mat = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises several types for corrupt files
        raise DataFileError(f"cannot read the experiment design {path}: {exc}") from exc
    out = {}
    for key, ndim in (("masterordering", 1), ("subjectim", 2), ("sharedix", 1)):
        if key not in mat:
            found = sorted(k for k in mat if not k.startswith("__"))
            raise DataFormatError(f"{path}: expected a variable {key!r}; found {found}")
        arr = np.asarray(mat[key])
        arr = arr.ravel() if ndim == 1 else arr
        if not np.all(np.mod(arr, 1) == 0) or arr.min() < 1:
            raise DataFormatError(f"{path}: {key} must hold 1-based integers; found min {arr.min()}")
        out[key] = arr.astype(np.int64)
    if out["subjectim"].ndim != 2 or out["subjectim"].shape[0] != 8:
        raise DataFormatError(f"{path}: subjectim must be (8, 10000); found {out['subjectim'].shape}")
    if out["masterordering"].max() > out["subjectim"].shape[1]:
        raise DataFormatError(
            f"{path}: masterordering indexes up to {out['masterordering'].max()}, beyond subjectim's "
            f"{out['subjectim'].shape[1]} columns"
        )
    return out


def subject_trials(design: dict[str, np.ndarray], subject: int, n_trials: int) -> tuple[np.ndarray, np.ndarray]:
    """0-based 73k ids of a subject's first ``n_trials`` trials, and whether each shows a shared1000 image."""
    m = design["masterordering"][:n_trials]
    if len(m) < n_trials:
        raise DataFormatError(f"the design has {len(m)} trials; {n_trials} requested")
    ids = design["subjectim"][subject - 1, m - 1] - 1
    return ids, m <= len(design["sharedix"])


def read_mask(path: str | Path) -> np.ndarray:
    """The nsdgeneral ROI as a boolean (X, Y, Z) array (values > 0)."""
    try:
        import nibabel as nib

        img = nib.load(str(path))
        data = np.asanyarray(img.dataobj)
    except Exception as exc:
        raise DataFileError(f"cannot read the nsdgeneral ROI {path}: {exc}") from exc
    if data.ndim != 3:
        raise DataFormatError(f"{path}: expected a 3-D ROI volume (X, Y, Z); found shape {data.shape}")
    mask = data > 0
    if not mask.any():
        raise DataFormatError(f"{path}: the ROI holds no voxel > 0")
    return mask


def read_noise_ceiling(subject: int, data_root: str | Path | None = None, n_repeats: float = 3.0) -> np.ndarray:
    """Per-voxel noise ceiling (percent) of a subject's nsdgeneral voxels, in the loaders' voxel order."""
    return noise_ceiling(read_ncsnr(subject, data_root), n_repeats)


def read_ncsnr(subject: int, data_root: str | Path | None = None) -> np.ndarray:
    """Per-voxel ncsnr of a subject's nsdgeneral voxels, in the loaders' voxel order: the beta version's
    ``ncsnr.nii.gz`` (manifest entry ``ncsnr``) inside the nsdgeneral mask."""
    root = resolve_data_root(data_root)
    mask = read_mask(require("nsdgeneral", root, subject))
    path = require("ncsnr", root, subject)
    try:
        import nibabel as nib

        vol = np.asanyarray(nib.load(str(path)).dataobj)
    except Exception as exc:
        raise DataFileError(f"cannot read the ncsnr volume {path}: {exc}") from exc
    if vol.shape != mask.shape:
        raise DataFormatError(f"{path}: ncsnr volume has shape {vol.shape}; the nsdgeneral mask has {mask.shape}")
    return np.asarray(vol[mask], np.float64)


# --------------------------------------------------------------------------- betas
def betas_path(
    root: Path, subject: int, session: int, fmt: str, manifest: Manifest | None = None
) -> Path:
    """Path of one session's betas in ``fmt`` ("hdf5" or "nifti")."""
    manifest = manifest or load_manifest()
    return root / manifest[f"betas_{fmt}"].relpath(subject, session)


def detect_format(root: Path, subject: int, manifest: Manifest | None = None) -> str:
    """"hdf5" when session 1 exists as HDF5, else "nifti"; a DataFileError naming both paths otherwise."""
    for fmt in ("hdf5", "nifti"):
        if betas_path(root, subject, 1, fmt, manifest).exists():
            return fmt
    require("betas_hdf5", root, subject, 1, manifest)  # raises, naming the file and how to get it
    raise AssertionError("unreachable")


def declared_sessions(root: Path, subject: int, manifest: Manifest | None = None) -> int:
    """How many sessions ``subject`` has: a synthetic root's ``synthetic.json`` says it for the subjects it made;
    otherwise NSD's release, as the manifest records it."""
    manifest = manifest or load_manifest()
    synthetic = Path(root) / "synthetic.json"
    if synthetic.exists():
        made = json.loads(synthetic.read_text()).get("sessions", {})
        if str(subject) in made:
            return int(made[str(subject)])
    return manifest.subject_info(subject)["sessions"]


def present_sessions(root: Path, subject: int, fmt: str, manifest: Manifest | None = None) -> list[int]:
    """The sessions of ``subject`` whose betas exist in ``fmt``, among those it has."""
    manifest = manifest or load_manifest()
    n = max(declared_sessions(root, subject, manifest), manifest.subject_info(subject)["sessions"])
    return [s for s in range(1, n + 1) if betas_path(root, subject, s, fmt, manifest).exists()]


def available_sessions(root: Path, subject: int, fmt: str, manifest: Manifest | None = None) -> int:
    """How many consecutive sessions, from session 1, exist for ``subject`` in ``fmt``."""
    present, n = set(present_sessions(root, subject, fmt, manifest)), 0
    while n + 1 in present:
        n += 1
    return n


def _ranges(values) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    out, values = [], sorted(values)
    for v in values:
        if out and v == out[-1][1] + 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in out) or "none"


def session_files(root: Path, subject: int, fmt: str, sessions: int | None = None,
                  manifest: Manifest | None = None) -> list[Path]:
    """The betas of sessions 1..N of ``subject``: N is ``sessions`` (the first N, on purpose) or every session it
    has (``declared_sessions``). A missing one is an error that names the file, what is present and the fixes."""
    manifest = manifest or load_manifest()
    has = declared_sessions(root, subject, manifest)
    if sessions is not None and sessions > has:
        raise InputError(f"--sessions {sessions}: subject {subject} under {root} has {has} sessions")
    n = has if sessions is None else sessions
    paths = [betas_path(root, subject, s, fmt, manifest) for s in range(1, n + 1)]
    missing = [s for s, p in enumerate(paths, 1) if not p.exists()]
    if missing:
        present = present_sessions(root, subject, fmt, manifest)
        entry = manifest[f"betas_{fmt}"]
        raise DataFileError(
            f"subject {subject} under {root}: session {missing[0]} of the {n} to read is missing:\n"
            f"    {paths[missing[0] - 1]}\nPresent: sessions {_ranges(present)} of {has}. "
            f"{manifest.where_to_get(entry, subject, missing[0]).splitlines()[0]} Or pass --sessions K to use "
            "the first K sessions on purpose.")
    return paths


def read_session(path: Path, mask: np.ndarray, fmt: str, n_trials: int = 750) -> np.ndarray:
    """One session's betas inside ``mask``: int16 (n_trials, p), voxels in ``np.argwhere(mask)`` order.

    Never converts the whole volume to float: HDF5 is read ``SLAB_TRIALS`` trials at a time, NIfTI as int16.
    """
    p = int(mask.sum())
    if fmt == "hdf5":
        with open_hdf5(path, "betas") as f:
            if "betas" not in f:
                raise DataFormatError(f"{path}: expected a dataset 'betas'; found {sorted(f.keys())}")
            ds = f["betas"]
            expected = (n_trials,) + mask.shape[::-1]
            if ds.shape != expected:
                raise DataFormatError(
                    f"{path}: betas of the wrong shape: expected (trials, Z, Y, X) = {expected} to match the "
                    f"nsdgeneral grid; found {ds.shape}"
                )
            if ds.dtype != np.int16:
                raise DataFormatError(f"{path}: betas must be int16; found {ds.dtype}")
            out = np.empty((n_trials, p), np.int16)
            try:
                for i in range(0, n_trials, SLAB_TRIALS):
                    slab = ds[i : i + SLAB_TRIALS]  # (k, Z, Y, X)
                    out[i : i + len(slab)] = slab.transpose(0, 3, 2, 1)[:, mask]
            except OSError as exc:
                raise DataFileError(f"cannot read betas {path} (truncated?): {exc}") from exc
            return out
    import nibabel as nib

    try:
        img = nib.load(str(path))
        expected = mask.shape + (n_trials,)
        if img.shape != expected:
            raise DataFormatError(
                f"{path}: betas of the wrong shape: expected (X, Y, Z, trials) = {expected}; found {img.shape}"
            )
        data = img.dataobj.get_unscaled() if hasattr(img.dataobj, "get_unscaled") else np.asanyarray(img.dataobj)
    except DataFormatError:
        raise
    except Exception as exc:
        raise DataFileError(f"cannot read betas {path} (truncated or not NIfTI?): {exc}") from exc
    if data.dtype != np.int16:
        raise DataFormatError(f"{path}: betas must be int16; found {data.dtype}")
    return np.ascontiguousarray(data[mask].T)


def zscore_session(x: np.ndarray, mode: str, train_trials: np.ndarray | None = None) -> np.ndarray:
    """Z-score each voxel of one session in place (float32 (trials, p)); ddof 0.

    ``mode`` "session" uses all trials, "session-train" only ``train_trials`` (e.g. without shared1000),
    "none" leaves ``x``. A voxel constant within the session gets standard deviation 1 (it becomes 0).
    """
    if mode == "none":
        return x
    return zscore_rows(x, None if mode == "session" else train_trials)


def _options(sessions: int, zscore: str, fmt: str) -> dict:
    return {"sessions": sessions, "zscore": zscore, "betas_format": fmt, "cache_version": CACHE_VERSION}


def load_subject(
    subject: int,
    data_root: str | Path | None = None,
    sessions: int | None = None,
    zscore: str = "session",
    betas_format: str = "auto",
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> SubjectData:
    """Load one NSD subject (real or synthetic): train/test betas averaged over repeats, keyed by 73k id.

    Parameters
    ----------
    subject : 1..8.
    data_root : NSD root (see :func:`ridge_decode.manifest.resolve_data_root`).
    sessions : use the first ``sessions`` sessions (default: all that exist, e.g. 37 to match older papers).
    zscore : "session" (each voxel within each session over all its trials, ddof 0), "session-train"
        (statistics without the shared1000 trials) or "none".
    betas_format : "hdf5", "nifti" or "auto" (HDF5 when present).
    cache_dir : where the per-subject HDF5 cache goes (default ``<data root>/ridge_decode_cache``). The cache
        records the options and every input's size and mtime; any change rebuilds it.
    """
    manifest = load_manifest()
    manifest.subject_info(subject)
    if zscore not in ZSCORE_MODES:
        raise InputError(f"zscore must be one of {ZSCORE_MODES}; got {zscore!r}")
    if betas_format not in BETAS_FORMATS:
        raise InputError(f"betas_format must be one of {BETAS_FORMATS}; got {betas_format!r}")
    root = resolve_data_root(data_root, manifest)
    design_path = require("expdesign", root, manifest=manifest)
    mask_path = require("nsdgeneral", root, subject, manifest=manifest)
    fmt = detect_format(root, subject, manifest) if betas_format == "auto" else betas_format
    betas_files = session_files(root, subject, fmt, sessions, manifest)
    sessions = len(betas_files)
    files = [design_path, mask_path] + betas_files
    options = _options(sessions, zscore, fmt)
    signature = [file_signature(p) for p in files]

    cache = Path(cache_dir) if cache_dir is not None else root / "ridge_decode_cache"
    cache_file = cache / f"subj{subject:02d}.h5"
    if use_cache:
        cached = _read_cache(cache_file, options, signature)
        if cached is not None:
            return cached

    design = read_design(design_path)
    mask = read_mask(mask_path)
    n_trials = sessions * manifest.trials_per_session
    ids, shared = subject_trials(design, subject, n_trials)
    uniq, rows = np.unique(ids, return_inverse=True)
    sums = np.zeros((len(uniq), int(mask.sum())), np.float32)
    counts = np.bincount(rows, minlength=len(uniq))
    tps = manifest.trials_per_session
    for s in tqdm(range(sessions), desc=f"subj{subject:02d} betas", disable=not progress, unit="session"):
        sl = slice(s * tps, (s + 1) * tps)
        x = read_session(files[2 + s], mask, fmt, tps).astype(np.float32)
        if not np.isfinite(x).all():  # int16 HDF5 cannot hold NaN; a float NIfTI can
            rows, cols = np.nonzero(~np.isfinite(x))
            raise DataFormatError(f"{files[2 + s]}: {len(rows)} NaN or infinite betas in nsdgeneral voxels, first at "
                                  f"trial {rows[0]}, voxel {cols[0]}: expected finite betas; re-fetch the session")
        x /= BETA_SCALE
        zscore_session(x, zscore, ~shared[sl])
        order = np.argsort(rows[sl], kind="stable")
        r = rows[sl][order]
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        sums[r[starts]] += np.add.reduceat(x[order], starts, axis=0)
    sums /= counts[:, None]
    is_test = np.isin(uniq, design["sharedix"] - 1)
    data = SubjectData(
        train_betas=sums[~is_test],
        train_ids=uniq[~is_test],
        test_betas=sums[is_test],
        test_ids=uniq[is_test],
        train_repeats=counts[~is_test],
        test_repeats=counts[is_test],
        voxel_xyz=np.argwhere(mask).astype(np.int32),
        info={"subject": subject, "data_root": str(root), "options": options, "files": [str(p) for p in files],
              "sessions_used": list(range(1, sessions + 1))},
    )
    data.check(lambda split: f"subject {subject} under {root}")  # before the cache is written
    if use_cache:
        _write_cache(cache_file, data, options, signature)
    return data


# --------------------------------------------------------------------------- cache
def _read_cache(path: Path, options: dict, signature: list) -> SubjectData | None:
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as f:
            if json.loads(f.attrs["options"]) != options or json.loads(f.attrs["inputs"]) != signature:
                log.info("cache %s is stale (options or inputs changed): rebuilding", path)
                return None
            arrays = {k: f[k][()] for k in f.keys()}
            info = json.loads(f.attrs["info"])
    except (OSError, KeyError) as exc:
        log.warning("cache %s is unreadable (%s): rebuilding", path, exc)
        return None
    return SubjectData(info=info, **arrays)


def _write_cache(path: Path, data: SubjectData, options: dict, signature: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for key in ("train_betas", "train_ids", "test_betas", "test_ids", "train_repeats", "test_repeats",
                    "voxel_xyz"):
            f[key] = getattr(data, key)
        f.attrs["options"] = json.dumps(options)
        f.attrs["inputs"] = json.dumps(signature)
        f.attrs["info"] = json.dumps(data.info)


# --------------------------------------------------------------------------- stimuli and captions
def open_stimuli(data_root: str | Path | None = None) -> Stimuli:
    """The stimuli of a data root (``nsd_stimuli.hdf5``)."""
    root = resolve_data_root(data_root)
    return Stimuli(require("stimuli", root))


class Captions:
    """COCO captions by 73k id, joined through ``nsd_stim_info_merged.csv``'s ``cocoId``; the files are parsed once.

    COCO's caption files hold over 600,000 captions: reading them for every batch of an extraction would cost
    minutes, so they are read on the first call and kept (only the captions of NSD's images).
    """

    def __init__(self, data_root: str | Path | None = None):
        self.root = resolve_data_root(data_root)
        self._by_id: dict[int, list[str]] | None = None

    def _load(self) -> dict[int, list[str]]:
        info_path = require("stim_info", self.root)
        coco = {}
        with open(info_path, newline="") as f:
            reader = csv.DictReader(f)
            if "cocoId" not in (reader.fieldnames or []):
                raise DataFormatError(f"{info_path}: expected a column 'cocoId'; found {reader.fieldnames}")
            for row in reader:
                coco[int(row[reader.fieldnames[0]])] = int(row["cocoId"])
        wanted = set(coco.values())
        by_coco: dict[int, list[str]] = {}
        for key in ("captions_train", "captions_val"):
            path = require(key, self.root)
            try:
                with open(path) as f:
                    annotations = json.load(f)["annotations"]
            except (ValueError, KeyError) as exc:
                raise DataFormatError(f"{path}: not a COCO captions file with 'annotations' ({exc})") from exc
            for ann in annotations:
                if int(ann["image_id"]) in wanted:
                    by_coco.setdefault(int(ann["image_id"]), []).append(ann["caption"].strip())
        return {i: by_coco.get(c, []) for i, c in coco.items()}

    def read(self, ids) -> list[list[str]]:
        """The captions of each of ``ids`` (an empty list for an id without captions)."""
        if self._by_id is None:
            self._by_id = self._load()
        return [self._by_id.get(int(i), []) for i in np.asarray(ids).ravel()]


def read_captions(ids, data_root: str | Path | None = None) -> list[list[str]]:
    """COCO captions of each 73k id (parses the files; for many batches, keep one :class:`Captions`)."""
    return Captions(data_root).read(ids)


def viewed_ids(data_root: str | Path | None = None, subjects=None) -> np.ndarray:
    """Sorted 0-based 73k ids shown in the available sessions of ``subjects`` (default: all with betas)."""
    manifest = load_manifest()
    root = resolve_data_root(data_root, manifest)
    design = read_design(require("expdesign", root, manifest=manifest))
    ids = []
    for s in subjects or sorted(manifest.subjects):
        fmts = [f for f in ("hdf5", "nifti") if betas_path(root, s, 1, f, manifest).exists()]
        n = max((available_sessions(root, s, f, manifest) for f in fmts), default=0)
        if n:
            ids.append(subject_trials(design, s, n * manifest.trials_per_session)[0])
        elif subjects:
            require("betas_hdf5", root, s, 1, manifest)
    if not ids:
        raise DataFileError(f"no subject under {root} has betas, so no viewed images are known")
    return np.unique(np.concatenate(ids))


# --------------------------------------------------------------------------- the source
class NSDSource(Source):
    """One subject of an NSD (or synthetic) root; ``subject=None`` serves what needs no subject (stimuli,
    captions, features). The subject's data is loaded once, through the loader's cache."""

    KIND, KEY = "nsd", None
    OPTIONS = (
        SourceOption("data_root", "NSD (or synthetic) root; default $RIDGE_DECODE_DATA, else the manifest's "
                                  "data_root_default."),
        SourceOption("subject", "NSD subject number, 1..8 (default 1).", type=int),
        SourceOption("sessions", "First N sessions of the subject (default: all available).", type=int),
    )

    def __init__(self, data_root=None, subject: int | None = 1, sessions: int | None = None,
                 label: str | None = None):
        self.root = resolve_data_root(data_root)
        if subject is not None:
            load_manifest().subject_info(subject)  # an InputError naming 1..8
        self.subject, self.sessions = subject, sessions
        self.label = label or (f"subj{subject:02d}" if subject is not None else self.root.name)

    @classmethod
    def from_options(cls, label=None, data_root=None, subject=None, sessions=None) -> NSDSource:
        """``--data-root``, ``--subject`` (default 1) and ``--sessions``."""
        return cls(data_root, 1 if subject is None else subject, sessions, label)

    def spec(self) -> dict:
        """``{"data_root", "subject", "sessions"}``."""
        return {"data_root": str(self.root), "subject": self.subject, "sessions": self.sessions}

    def load(self, progress: bool = True) -> SubjectData:
        """The subject's betas (see :func:`load_subject`)."""
        if self.subject is None:
            raise InputError(f"{self}: give --subject to read a subject's betas")
        return load_subject(self.subject, self.root, sessions=self.sessions, progress=progress)

    def images(self) -> Stimuli:
        """``nsd_stimuli.hdf5``."""
        return open_stimuli(self.root)

    def images_identity(self) -> str | None:
        """The stimulus file's name, size and shape, and a synthetic root's generator settings (``synthetic.json``):
        NSD's file never changes, so reading a few of its 73,000 images (most unwritten in a synthetic root) would
        say less than this."""
        import hashlib

        path = entry_path("stimuli", self.root)
        if not path.exists():
            return None
        with open_hdf5(path, "stimuli") as f:
            shape = list(f["imgBrick"].shape) if "imgBrick" in f else None
        synthetic = self.root / "synthetic.json"
        made = json.loads(synthetic.read_text()) if synthetic.exists() else None
        text = json.dumps([path.name, path.stat().st_size, shape, made], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def data_kind(self) -> str:
        """"synthetic" for a root written by ``simulate`` (it has ``synthetic.json``), else "NSD"."""
        return "synthetic" if (self.root / "synthetic.json").exists() else "NSD"

    def provenance(self) -> dict:
        """The root's stimuli: every subject of a root shares its feature cache."""
        return {"images": self.identity()["images"], "source": f"the stimuli under {self.root}"}

    def captions(self):
        """COCO captions, parsed on the first call."""
        return Captions(self.root).read

    def image_ids(self, subjects=None) -> np.ndarray:
        """The images shown to ``subjects`` (default: every subject with betas under the root)."""
        return viewed_ids(self.root, subjects)

    def ncsnr(self) -> np.ndarray:
        """The beta version's ``ncsnr.nii.gz`` inside nsdgeneral."""
        return read_ncsnr(self.subject, self.root)

    def voxels(self) -> str:
        """The subject's nsdgeneral ROI."""
        return f"the nsdgeneral ROI of subject {self.subject} under {self.root}"

    def where(self, split: str) -> str:
        """The subject and root."""
        return str(self)

    def default_features_dir(self) -> Path:
        """``<data root>/features``: shared by every subject of the root (features depend on the image only)."""
        return self.root / layout.FEATURES

    def __str__(self) -> str:
        who = f"subject {self.subject}" if self.subject is not None else "the stimuli"
        return f"{who} under {self.root}"
