"""An NSD root as a source: betas -> nsdgeneral voxels -> /300 -> per-session z-score -> repeats averaged by 73k id.

The files themselves are read by ``nsd_files``; this module loads a subject (with its cache), the stimuli by 73k
id and the COCO captions. :class:`NSDSource` is what the stages see (``--data-root``,
``--subject``, ``--sessions``); the synthetic subject is an NSD root too. Every file is located through
:mod:`ridge_decode.sources.manifest`, and every bad file gets an error that names it, what was expected and what
was found.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from pathlib import Path

import h5py
import numpy as np
from tqdm.auto import tqdm

from ..errors import InputError
from ..runtime import layout
from ..runtime.io import atomic_path, file_signature
from .base import Source, Stimuli, SubjectData, open_hdf5
from .manifest import DataFileError, DataFormatError, entry_path, load_manifest, require, resolve_data_root
from .nsd_files import (
    BETA_SCALE,
    BETAS_FORMATS,
    ZSCORE_MODES,
    available_sessions,
    betas_path,
    detect_format,
    read_design,
    read_mask,
    read_ncsnr,
    read_noise_ceiling,
    read_session,
    session_files,
    subject_trials,
    zscore_session,
)

# what this module offers, with the file readers of ``nsd_files`` it builds on
__all__ = ["BETA_SCALE", "Captions", "NSDSource", "Stimuli", "SubjectData", "available_sessions", "betas_path",
           "load_subject", "open_stimuli", "read_captions", "read_design", "read_mask", "read_ncsnr",
           "read_noise_ceiling", "read_session", "subject_trials", "viewed_ids", "zscore_session"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the preprocessing changes, so old caches are rebuilt


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
    data_root : NSD root (see :func:`ridge_decode.sources.manifest.resolve_data_root`).
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
    """One subject of an NSD (or synthetic) root. The subject's data is loaded once, through the loader's cache.

    Parameters
    ----------
    data_root : str or Path, optional
        The root of NSD's file tree (or of ``simulate``'s); default ``$RIDGE_DECODE_DATA``, else the manifest's
        default.
    subject : int or None
        NSD subject number, 1 to 8; None serves what needs no subject (stimuli, captions, features).
    sessions : int, optional
        Only the first N sessions (750 trials each); default all available.
    label : str, optional
        The name of the subject's outputs; default ``subjNN``.

    Notes
    -----
    ``load()`` gives a ``SubjectData``: ``train_betas`` float32 (n_train, p) and ``test_betas`` (n_test, p), one
    row per image (repeats averaged), keyed by ``train_ids`` / ``test_ids`` int64 (n,). ``images().read(ids)``
    gives the seen images, uint8 (len(ids), H, W, 3), in the order of ``ids``. ``ncsnr()`` gives each voxel's
    noise-ceiling SNR (p,), unitless and >= 0, where the source has it.
    The betas are the nsdgeneral voxels (``> 0``), p of them, divided by 300 (percent signal change) and
    z-scored within each session; ``images()`` gives NSD's 425 x 425 stimuli (a synthetic root's are 128 x 128
    unless simulated otherwise).
    """

    KIND, KEY = "nsd", None
    OPTIONS = ("data_root", "subject", "sessions")  # their flags and help: cli/source_options.py

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
        """``{"data_root", "subject", "sessions"}``, the root absolute: a fit's record reopens the same root from any
        working folder."""
        return {"data_root": str(Path(self.root).resolve()), "subject": self.subject, "sessions": self.sessions}

    def load(self, progress: bool = True) -> SubjectData:
        """The subject's betas (see :func:`load_subject`)."""
        if self.subject is None:
            raise InputError(f"{self}: give --subject to read a subject's betas")
        return load_subject(self.subject, self.root, sessions=self.sessions, progress=progress)

    def images(self) -> Stimuli:
        """``nsd_stimuli.hdf5``."""
        return open_stimuli(self.root)

    def images_identity(self) -> str | None:
        """The stimulus file's name, size and shape (NSD's file never changes, so reading a few of its 73,000
        images would say less than this); for a synthetic root, the file's name and shape and the settings its
        images depend on (``synthetic.json``'s seed, preset and image size), not the file's size, which grows when
        ``simulate`` adds a subject's images beside the same images of the others."""
        path = entry_path("stimuli", self.root)
        if not path.exists():
            return None
        with open_hdf5(path, "stimuli") as f:
            shape = list(f["imgBrick"].shape) if "imgBrick" in f else None
        synthetic = self.root / "synthetic.json"
        made = json.loads(synthetic.read_text()) if synthetic.exists() else None
        if isinstance(made, dict):
            text = json.dumps([path.name, shape, {k: made.get(k) for k in ("seed", "preset", "image_size")}],
                              sort_keys=True)
        else:
            text = json.dumps([path.name, path.stat().st_size, shape, made], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def data_kind(self) -> str:
        """"synthetic" for a root written by ``simulate`` (it has ``synthetic.json``), else "NSD"."""
        return "synthetic" if (self.root / "synthetic.json").exists() else "NSD"

    def provenance(self) -> dict:
        """The root's stimuli: every subject of a root shares its feature cache."""
        return {"images": self.identity()["images"], "source": f"the stimuli under {self.root}"}

    def grid(self):
        """The subject's nsdgeneral ROI (its voxels are ``voxel_xyz``'s, in this grid)."""
        # heavy (nibabel): imported where used
        import nibabel as nib

        return nib.load(str(require("nsdgeneral", self.root, self.subject)))

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
