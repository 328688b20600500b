"""Your own data: one HDF5 file of betas, ids and images, checked in one pass before any work.

The file holds ``train/betas`` (n_train, p) and ``test/betas`` (n_test, p) real numbers, ``train/ids`` and
``test/ids`` (integers; a repeated id is a repeat, averaged), ``images`` (N, H, W, 3) uint8 and ``image_ids``
(N,) unique integers that name them. ``validate`` reads it once and stops at the first problem with a message
naming the file, the dataset, what was expected, what was found and the fix; ``load_generic`` returns the
checked data. See docs/data.md ("Your own data").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import DataFileError, DataFormatError
from .nsd import Stimuli, SubjectData, open_hdf5, split_problem

LAYOUT = {
    "train/betas": "(n_train, n_voxels) real numbers",
    "train/ids": "(n_train,) integers, each one of image_ids",
    "test/betas": "(n_test, n_voxels) real numbers",
    "test/ids": "(n_test,) integers, each one of image_ids",
    "images": "(N, H, W, 3) uint8",
    "image_ids": "(N,) unique integers",
}
NDIM = {"train/betas": 2, "train/ids": 1, "test/betas": 2, "test/ids": 1, "images": 4, "image_ids": 1}
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
    x = betas[()].astype(np.float32)
    finite = np.isfinite(x)
    if not finite.all():
        rows, cols = np.nonzero(~finite)
        raise _error(path, key, f"{len(rows)} NaN or infinite values in {len(np.unique(rows))} rows, first at "
                                f"row {rows[0]}, voxel {cols[0]}", "Drop those voxels or rows, or impute them.")
    return x


def _average_repeats(x: np.ndarray, ids: np.ndarray):
    uniq, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
    sums = np.zeros((len(uniq), x.shape[1]), np.float32)
    np.add.at(sums, inv, x)
    return sums / counts[:, None], uniq, counts


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
        for key, ndim in NDIM.items():
            if key not in f:
                present = sorted(k for k in NDIM if k in f)
                raise _error(path, key, f"no such dataset (present: {present})")
            if f[key].ndim != ndim:
                raise _error(path, key, f"shape {f[key].shape}")
        images = f["images"]
        if images.dtype != np.uint8 or images.shape[-1] != 3:
            raise _error(path, "images", f"{images.dtype} of shape {images.shape}",
                         "Convert to 8-bit RGB, e.g. np.clip(x * 255, 0, 255).astype(np.uint8).")
        image_ids = read_ids(f, path, "image_ids")
        if images.shape[0] != len(image_ids):
            raise _error(path, "image_ids", f"{len(image_ids)} ids for {images.shape[0]} images")
        uniq, counts = np.unique(image_ids, return_counts=True)
        if (counts > 1).any():
            raise _error(path, "image_ids", f"{int((counts > 1).sum())} repeated ids, e.g. "
                                            f"{uniq[counts > 1][:5].tolist()}", "Give each image one id.")
        split_ids = {}
        for name in ("train", "test"):
            ids = read_ids(f, path, f"{name}/ids")
            missing = np.setdiff1d(ids, image_ids)
            if len(missing):
                raise _error(path, f"{name}/ids", f"{len(missing)} ids with no image, e.g. {missing[:5].tolist()}")
            split_ids[name] = ids
        problem = split_problem(split_ids["train"], split_ids["test"])
        if problem:
            split, found, fix = problem
            raise _error(path, f"{split}/ids", found, fix)
        if not betas:
            return None
        split = {}
        for name in ("train", "test"):
            x = _check_betas(f, path, f"{name}/betas")
            if len(x) != len(split_ids[name]):
                raise _error(path, f"{name}/betas", f"{len(x)} rows for {len(split_ids[name])} {name}/ids")
            split[name] = _average_repeats(x, split_ids[name])
    if split["train"][0].shape[1] != split["test"][0].shape[1]:
        raise _error(path, "test/betas", f"{split['test'][0].shape[1]} voxels; train/betas has "
                                         f"{split['train'][0].shape[1]}")
    return SubjectData(
        train_betas=split["train"][0], train_ids=split["train"][1], train_repeats=split["train"][2],
        test_betas=split["test"][0], test_ids=split["test"][1], test_repeats=split["test"][2],
        info={"input": str(path), "options": {"generic": True}},
    )


def load_generic(path: str | Path) -> SubjectData:
    """Your own data from one HDF5 file (see ``validate``): betas averaged over repeats, rows sorted by id."""
    return validate(path, betas=True)


def open_images(path: str | Path) -> Stimuli:
    """The images of an own-data file by id, after ``validate(path, betas=False)``."""
    validate(path, betas=False)
    return Stimuli(path, dataset="images", ids_dataset="image_ids")


def read_test_ids(path: str | Path) -> np.ndarray:
    """The sorted distinct test ids of a valid own-data file."""
    with open_hdf5(path, "own-data input") as f:
        return np.unique(read_ids(f, path, "test/ids"))
