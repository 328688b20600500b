"""Your own data as one HDF5 file of betas, ids and images (``--input FILE``), checked in one pass before any work.

The file holds ``train/betas`` (n_train, p) and ``test/betas`` (n_test, p) real numbers, ``train/ids`` and
``test/ids`` (integers; a repeated id is a repeat, averaged), ``images`` (N, H, W, 3) uint8 and ``image_ids``
(N,) unique integers that name them, and optionally ``ncsnr`` (p,), each voxel's noise-ceiling SNR. A file without
``images`` and ``image_ids`` serves ``predict`` and ``decode``, which need no ground truth. ``validate`` reads it
once and stops at the first problem with a message naming the file, the dataset, what was expected, what was found
and the fix; :class:`HDF5Source` is what the stages see. See docs/data.md ("Your own data").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataFileError, DataFormatError, NoImagesError
from ..runtime import layout
from .base import (
    Source,
    Stimuli,
    SubjectData,
    average_repeats,
    check_finite_betas,
    check_image_size,
    open_hdf5,
)

LAYOUT = {
    "train/betas": "(n_train, n_voxels) real numbers",
    "train/ids": "(n_train,) integers, each one of image_ids",
    "test/betas": "(n_test, n_voxels) real numbers",
    "test/ids": "(n_test,) integers, each one of image_ids",
    "images": "(N, H, W, 3) uint8",
    "image_ids": "(N,) unique integers",
    "ncsnr": "(n_voxels,) finite numbers >= 0 (optional)",
}
NDIM = {"train/betas": 2, "train/ids": 1, "test/betas": 2, "test/ids": 1, "images": 4, "image_ids": 1}
IMAGE_KEYS = ("images", "image_ids")  # optional together: predict and decode need no ground truth
DOCS = "docs/data.md, 'Your own data'"


def _error(path, key: str, found: str, fix: str = "") -> DataFormatError:
    expected = LAYOUT.get(key, "")
    return DataFormatError(f"{path}: dataset {key!r}: expected {expected}; found {found}."
                           + (f" {fix}" if fix else "") + f" (layout: {DOCS})")


def read_ids(f, path, key: str) -> np.ndarray:
    """The integer ids of dataset ``key``; floats are accepted only when every value is a whole number."""
    raw = f[key][()]
    if raw.dtype.kind in "iu":
        ids = raw.astype(np.int64)
    elif raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw))
        if bad.any():
            raise _error(path, key, f"{int(bad.sum())} values that are not whole numbers, e.g. "
                                    f"{raw[bad][:3].tolist()}", "Ids name images: store them as integers.")
        ids = raw.astype(np.int64)
    else:
        raise _error(path, key, f"dtype {raw.dtype}")
    if (ids < 0).any():
        raise _error(path, key, f"negative ids, e.g. {ids[ids < 0][:3].tolist()}")
    return ids


def _check_betas(f, path, key: str) -> np.ndarray:
    betas = f[key]
    if betas.dtype.kind in "iu":  # the guard the estimator does not have: NSD stores betas as int16, x 300
        raise _error(path, key, f"integer dtype {betas.dtype}",
                     "Betas are real numbers: NSD's int16 betas are percent signal change x 300, so store "
                     "betas / 300 as float32.")
    if betas.dtype.kind != "f":
        raise _error(path, key, f"dtype {betas.dtype}")
    return check_finite_betas(betas[()], f"{path}: dataset {key!r}", "rows",
                              f"Drop those voxels or rows, or impute them. (layout: {DOCS})")


def validate(path: str | Path, betas: bool = True) -> SubjectData | None:
    """Check an own-data file in one pass; return its data (betas averaged over repeats, sorted by id).

    With ``betas=False`` only the images and ids are checked (what feature extraction needs) and None is
    returned. Raises ``DataFileError`` for a missing file and ``DataFormatError`` for anything else wrong.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"own-data file not found: {path}. Write one HDF5 file with datasets {list(LAYOUT)} "
                            f"({DOCS})")
    with open_hdf5(path, "own-data input") as f:
        image_ids = _check_layout(f, path)
        split_ids = {}
        for name in ("train", "test"):
            ids = read_ids(f, path, f"{name}/ids")
            missing = np.setdiff1d(ids, image_ids) if image_ids is not None else []
            if len(missing):
                raise _error(path, f"{name}/ids", f"{len(missing)} ids with no image, e.g. {missing[:5].tolist()}")
            split_ids[name] = ids
        if not betas:
            return None
        split = {}
        for name in ("train", "test"):
            x = _check_betas(f, path, f"{name}/betas")
            if len(x) != len(split_ids[name]):
                raise _error(path, f"{name}/betas", f"{len(x)} rows for {len(split_ids[name])} {name}/ids")
            split[name] = average_repeats(x, split_ids[name])
        p = split["train"][0].shape[1]
        if split["test"][0].shape[1] != p:
            raise _error(path, "test/betas", f"{split['test'][0].shape[1]} voxels; train/betas has {p}")
        if "ncsnr" in f:
            _read_ncsnr(f, path, p)
    return SubjectData(
        train_betas=split["train"][0], train_ids=split["train"][1], train_repeats=split["train"][2],
        test_betas=split["test"][0], test_ids=split["test"][1], test_repeats=split["test"][2],
        info={"input": str(path), "options": {"generic": True}},
    )


def _check_layout(f, path) -> np.ndarray | None:
    """Every dataset present with its number of dimensions, uint8 RGB images and unique image ids; returns the
    image ids (None for a file without images)."""
    has_images = any(k in f for k in IMAGE_KEYS)
    for key, ndim in NDIM.items():
        if key not in f and (has_images or key not in IMAGE_KEYS):
            present = sorted(k for k in NDIM if k in f)
            raise _error(path, key, f"no such dataset (present: {present})")
        if key in f and f[key].ndim != ndim:
            raise _error(path, key, f"shape {f[key].shape}")
    if not has_images:
        return None
    images = f["images"]
    if images.dtype != np.uint8 or images.shape[-1] != 3:
        raise _error(path, "images", f"{images.dtype} of shape {images.shape}",
                     "Convert to 8-bit RGB, e.g. np.clip(x * 255, 0, 255).astype(np.uint8).")
    check_image_size(images.shape, f"{path}: dataset 'images'")
    image_ids = read_ids(f, path, "image_ids")
    if images.shape[0] != len(image_ids):
        raise _error(path, "image_ids", f"{len(image_ids)} ids for {images.shape[0]} images")
    uniq, counts = np.unique(image_ids, return_counts=True)
    if (counts > 1).any():
        raise _error(path, "image_ids", f"{int((counts > 1).sum())} repeated ids, e.g. "
                                        f"{uniq[counts > 1][:5].tolist()}", "Give each image one id.")
    return image_ids


def _read_ncsnr(f, path, p: int) -> np.ndarray:
    x = f["ncsnr"][()]
    if x.shape != (p,) or x.dtype.kind not in "iuf":
        raise _error(path, "ncsnr", f"{x.dtype} of shape {x.shape} for {p} voxels")
    x = x.astype(np.float64)
    bad = ~np.isfinite(x) | (x < 0)
    if bad.any():
        raise _error(path, "ncsnr", f"{int(bad.sum())} values that are negative or not finite, first at voxel "
                                    f"{int(np.flatnonzero(bad)[0])}")
    return x


class HDF5Source(Source):
    """Your own data from one HDF5 file (``--input FILE``); labelled by the file's stem.

    The file holds ``train/betas`` (n_train, p) and ``test/betas`` (n_test, p) floats (any units; not z-scored
    again), ``train/ids`` and ``test/ids`` integer (n,), and optionally ``images`` uint8 (N, H, W, 3) with
    ``image_ids`` (N,) and ``ncsnr`` (p,). See the data page of the documentation.

    Parameters
    ----------
    path : str or Path
        The HDF5 file.
    label : str, optional
        The name of its outputs; default the file's stem.

    Notes
    -----
    ``load()`` gives a ``SubjectData``: ``train_betas`` float32 (n_train, p) and ``test_betas`` (n_test, p), one
    row per image (repeats averaged), keyed by ``train_ids`` / ``test_ids`` int64 (n,). ``images().read(ids)``
    gives the seen images, uint8 (len(ids), H, W, 3), in the order of ``ids``. ``ncsnr()`` gives each voxel's
    noise-ceiling SNR (p,), unitless and >= 0, where the source has it.
    """

    KIND, KEY = "hdf5", "input"
    OPTIONS = ("input",)  # their flags and help: cli/source_options.py

    def __init__(self, path, label: str | None = None):
        self.path = Path(path)
        self.root = self.path.parent
        self.label = label or layout.derived_label(self.path.stem, f"the file name of --input {self.path}")

    @classmethod
    def from_options(cls, label=None, input=None) -> HDF5Source:  # noqa: A002  (the option's name)
        """``--input FILE``."""
        return cls(input, label)

    def spec(self) -> dict:
        """``{"input": FILE}``, absolute: a fit's record reopens the same file from any working folder."""
        return {"input": str(self.path.resolve())}

    def load(self, progress: bool = True) -> SubjectData:
        """The file's betas, checked in one pass (see :func:`validate`)."""
        return validate(self.path, betas=True)

    def images(self) -> Stimuli:
        """The file's ``images`` by ``image_ids``, after checking the file's layout and ids."""
        validate(self.path, betas=False)
        with open_hdf5(self.path, "own-data input") as f:
            if "images" not in f:
                raise NoImagesError(f"{self.path} has no dataset 'images' (and 'image_ids'): the seen images are "
                                      f"needed here; add them ({DOCS})")
        return Stimuli(self.path, dataset="images", ids_dataset="image_ids")

    def test_ids(self) -> np.ndarray:
        """The sorted distinct test ids, read without the betas."""
        validate(self.path, betas=False)
        with open_hdf5(self.path, "own-data input") as f:
            return np.unique(read_ids(f, self.path, "test/ids"))

    def ncsnr(self) -> np.ndarray:
        """The file's ``ncsnr`` dataset."""
        p = self.data(progress=False).n_voxels
        with open_hdf5(self.path, "own-data input") as f:
            if "ncsnr" not in f:
                raise DataFileError(f"{self.path} has no dataset 'ncsnr': --min-nc needs each voxel's noise-ceiling "
                                    f"SNR, {LAYOUT['ncsnr']} ({DOCS})")
            return _read_ncsnr(f, self.path, p)

    def voxels(self) -> str:
        """The columns of the file's betas."""
        return f"the voxels (columns) of {self.path}'s betas"

    def where(self, split: str) -> str:
        """``FILE: dataset 'SPLIT/ids'``."""
        return f"{self.path}: dataset '{split}/ids'"

    def default_features_dir(self) -> Path:
        """``<stem>_features/`` beside the file: its own, never shared with a sibling file's."""
        return self.path.parent / f"{self.path.stem}_{layout.FEATURES}"

    def __str__(self) -> str:
        return f"own-data file {self.path}"
