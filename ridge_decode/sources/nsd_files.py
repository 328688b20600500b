"""NSD's files, read one by one: the experiment design, the nsdgeneral ROI, the ncsnr volume and the betas by
session (with the sessions a subject has). ``nsd.load_subject`` puts them together; ``check`` and ``simulate`` use
them too. Every bad file gets an error that names it, what was expected and what was found.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from .base import noise_ceiling, open_hdf5, zscore_rows
from .manifest import DataFileError, DataFormatError, Manifest, load_manifest, require, resolve_data_root

BETA_SCALE = 300.0  # NSD betas are percent signal change x 300, stored as int16
SLAB_TRIALS = 50  # HDF5 betas are read this many trials at a time: bounded memory on 1 GB sessions
ZSCORE_MODES = ("session", "session-train", "none")
BETAS_FORMATS = ("auto", "hdf5", "nifti")


# --------------------------------------------------------------------------- design and mask
def read_design(path: str | Path) -> dict[str, np.ndarray]:
    """NSD's experiment design, ``nsd_expdesign.mat``, as 1-based int64 arrays.

    Parameters
    ----------
    path : str or Path
        The ``.mat`` file.

    Returns
    -------
    dict of str to ndarray
        ``masterordering`` (30000,): each trial's index into the subject's 10,000 images; ``subjectim``
        (8, 10000): each subject's images as 73k ids; ``sharedix`` (1000,): the shared1000 images' 73k ids. All
        1-based, as NSD writes them.
    """
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
    """The image each of a subject's first trials showed.

    Parameters
    ----------
    design : dict of str to ndarray
        ``read_design``'s arrays (1-based).
    subject : int
        NSD subject number, 1 to 8.
    n_trials : int
        How many trials, from the first (750 per session).

    Returns
    -------
    ids : ndarray of shape (n_trials,), int64
        0-based 73k ids.
    shared : ndarray of shape (n_trials,), bool
        Whether each trial shows a shared1000 image (the test set).
    """
    m = design["masterordering"][:n_trials]
    if len(m) < n_trials:
        raise DataFormatError(f"the design has {len(m)} trials; {n_trials} requested")
    ids = design["subjectim"][subject - 1, m - 1] - 1
    return ids, m <= len(design["sharedix"])


def read_mask(path: str | Path) -> np.ndarray:
    """The nsdgeneral ROI as a boolean (X, Y, Z) array (values > 0)."""
    try:
        # heavy (nibabel): imported where used
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
        # heavy (nibabel): imported where used
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
            f"{manifest.where_to_get(entry, subject, missing[0], root).splitlines()[0]} Or pass --sessions K to use "
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
    # heavy (nibabel): imported where used
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


