"""What every source gives the stages: one subject's data (:class:`SubjectData`), images by id, and the
:class:`Source` contract that NSD roots, own-data HDF5 files and NIfTI betas all implement.

A stage asks a source for its betas, its images, its captions, its feature folder and its label, and never asks
which kind of source it is. A new format is one module with one :class:`Source` subclass, and one line in
``sources.KINDS``.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np

from ..errors import DataFileError, DataFormatError, InputError, InputIndexError, NoImagesError, UnknownEntryError

# Kernel ridge chooses each target's alpha by generalised cross-validation over the training images: after
# centring, n images leave n - 1 directions, and with fewer than about ten the held-out errors that rank the alphas
# are a handful of numbers each, so the choice is noise. A test correlation needs 3 images to be anything but +-1.
MIN_TRAIN_IMAGES = 10
MIN_TEST_IMAGES = 3
SPLITS = ("train", "test")
# The smallest image side evaluate can score: SSIM's Gaussian window (sigma 1.5, truncated at 3.5 sigma) is
# 2 * int(3.5 * 1.5 + 0.5) + 1 = 11 pixels wide (scikit-image), and it is computed at the stimuli's size.
MIN_IMAGE_SIDE = 11
FINGERPRINT_IMAGES = 8  # images whose bytes enter a source's image fingerprint, evenly spaced over its ids


@dataclass
class SubjectData:
    """One subject's preprocessed data, one row per image, every row keyed by its image id (NSD: 0-based 73k id).

    Attributes
    ----------
    train_betas, test_betas : float32 arrays (n_train, p) and (n_test, p), repeats averaged.
    train_ids, test_ids : int64 (n,), sorted image ids.
    train_repeats, test_repeats : int (n,), how many trials were averaged into each row.
    voxel_xyz : int (p, 3) voxel coordinates in the subject's grid (X, Y, Z), or None where there is no grid.
    info : dict with the subject, the options and the source files.
    """

    train_betas: np.ndarray
    train_ids: np.ndarray
    test_betas: np.ndarray
    test_ids: np.ndarray
    train_repeats: np.ndarray
    test_repeats: np.ndarray
    voxel_xyz: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_voxels(self) -> int:
        """Number of voxels p."""
        return self.train_betas.shape[1]

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(betas, ids) of split ``name`` ("train" or "test")."""
        if name not in SPLITS:
            raise InputError(f"a split is one of {SPLITS}; got {name!r}")
        return getattr(self, f"{name}_betas"), getattr(self, f"{name}_ids")

    def check(self, where: Callable[[str], str]) -> int:
        """What every fit needs, whatever the source: enough distinct training and test images, disjoint ids, and at
        least one voxel that varies over the training images. ``where(split)`` names the source's place of a split
        in messages. Returns the number of constant voxels (kept: they are centred to zero and contribute nothing)."""
        problem = split_problem(self.train_ids, self.test_ids)
        if problem:
            split, found, fix = problem
            raise DataFormatError(f"{where(split)}: the {split} set has {found}. {fix}")
        constant = int((np.ptp(self.train_betas, axis=0) == 0).sum())
        if constant == self.n_voxels:
            raise DataFormatError(f"{where('train')}: every one of the {constant} voxels is constant over the "
                                  f"{len(self.train_ids)} training images (all-zero betas?): there is nothing to fit")
        return constant


def split_problem(train_ids, test_ids) -> tuple[str, str, str] | None:
    """The first reason a fit cannot use these splits, as (split "train" or "test", what was found, the fix), or
    None: too few distinct images in a split, or an image in both (a leak). Callers word it for their source."""
    for split, ids, least in (("train", train_ids, MIN_TRAIN_IMAGES), ("test", test_ids, MIN_TEST_IMAGES)):
        n = len(np.unique(ids))
        if n < least:
            return split, f"{n} distinct images", (f"A fit needs at least {MIN_TRAIN_IMAGES} training and "
                                                   f"{MIN_TEST_IMAGES} test images (ridge_decode.sources.base."
                                                   "MIN_TRAIN_IMAGES says why).")
    leak = np.intersect1d(train_ids, test_ids)
    if len(leak):
        return "test", f"{len(leak)} ids that are also training ids, e.g. {leak[:5].tolist()}", \
            "An image in both sets leaks the test set into the fit: keep each image in one set."
    return None


FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_finite_betas(x: np.ndarray, where: str, rows: str = "rows", fix: str = "") -> np.ndarray:
    """``x`` (n, p) as float32, after checking in its own dtype that every value is finite and fits float32: a
    non-finite value is named by row and voxel, and a finite one beyond float32's range is called an overflow."""
    x = np.asarray(x)
    bad = ~np.isfinite(x)
    if bad.any():
        r, c = np.nonzero(bad)
        raise DataFormatError(f"{where}: {len(r)} NaN or infinite values in {len(np.unique(r))} {rows}, first at "
                              f"{rows[:-1]} {r[0]}, voxel {c[0]}. {fix}".strip())
    big = np.abs(x) > FLOAT32_MAX
    if big.any():
        r, c = np.nonzero(big)
        raise DataFormatError(f"{where}: {len(r)} values overflow float32 (up to {np.abs(x).max():.3g}; float32 "
                              f"holds {FLOAT32_MAX:.3g}), first at {rows[:-1]} {r[0]}, voxel {c[0]}: rescale the "
                              "betas (to percent signal change, for example)")
    return x.astype(np.float32)


def average_repeats(x: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``x`` (n, p) with one id averaged into one row: (float32 (m, p), sorted unique ids, counts)."""
    uniq, inv, counts = np.unique(ids, return_inverse=True, return_counts=True)
    sums = np.zeros((len(uniq), x.shape[1]), np.float64)
    np.add.at(sums, inv, x)
    return (sums / counts[:, None]).astype(np.float32), uniq, counts


def zscore_rows(x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Z-score each voxel (column) of ``x`` in place over ``rows`` (default all), ddof 0. A voxel constant over
    those rows gets standard deviation 1 (it becomes 0)."""
    ref = x if rows is None else x[rows]
    mu = ref.mean(axis=0)
    sd = ref.std(axis=0)
    sd[sd == 0] = 1.0
    x -= mu
    x /= sd
    return x


def noise_ceiling(ncsnr, n_repeats) -> np.ndarray:
    """NSD's noise ceiling in percent of variance for ``n_repeats`` averaged trials:
    ``100 * ncsnr**2 / (ncsnr**2 + 1 / n)`` (NSD data manual)."""
    ncsnr = np.asarray(ncsnr, float)
    return 100.0 * ncsnr**2 / (ncsnr**2 + 1.0 / np.asarray(n_repeats, float))


def image_fingerprint(images, ids=None) -> str:
    """A short digest of what a set of images is: their ids, their shape and the bytes of ``FINGERPRINT_IMAGES``
    of them, evenly spaced over ``ids`` (default: every id). Two sources with one fingerprint show the same images
    under the same ids; a cache made from one serves the other."""
    ids = np.unique(images.ids if ids is None else ids).astype(np.int64)
    digest = hashlib.sha256(json.dumps([list(images.shape[1:]), len(ids)]).encode())
    digest.update(ids.tobytes())
    if len(ids):
        sample = ids[np.unique(np.linspace(0, len(ids) - 1, FINGERPRINT_IMAGES).round().astype(int))]
        digest.update(np.ascontiguousarray(images.read(sample)).tobytes())
    return digest.hexdigest()[:16]


def check_image_size(shape, where: str) -> None:
    """Stop, in the validation pass, images too small for every metric (``MIN_IMAGE_SIDE``)."""
    h, w = shape[1], shape[2]
    if min(h, w) < MIN_IMAGE_SIDE:
        raise DataFormatError(f"{where}: images of {h} x {w} pixels; the metrics need at least {MIN_IMAGE_SIDE} x "
                              f"{MIN_IMAGE_SIDE} (SSIM's window): give larger images")


def regular_file(path: str | Path, what: str) -> Path:
    """``path``, after checking that it is not a FIFO, a socket or a device (opening one would wait forever, or
    read what is not a file); a missing path is left to the caller's own message."""
    import stat

    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        return path
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise DataFileError(f"{what} {path} is {kind}, not a file: give the file itself (copy the data into a file "
                            "first)")
    return path


def open_hdf5(path: str | Path, what: str) -> h5py.File:
    """Open an HDF5 file read-only; a DataFileError naming ``what`` and the file if it is truncated or not HDF5, or
    not a file at all (a FIFO would block)."""
    regular_file(path, what)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataFileError(f"cannot open {what} {path} (truncated or not HDF5?): {exc}") from exc


class Stimuli:
    """Images by id from an HDF5 dataset (``nsd_stimuli.hdf5``'s ``imgBrick``, or an own-data file's ``images``).

    ``path``, ``ids`` (int64 (N,)) and ``shape`` ((N, H, W, 3)) describe them; ``read(ids)`` returns them. Every
    image source of the package (also :class:`ridge_decode.sources.nifti.FolderImages`) has these four members,
    and ``verify()``.
    """

    def __init__(self, path: str | Path, dataset: str = "imgBrick", ids_dataset: str | None = None):
        self.path = Path(path)
        self.dataset = dataset
        with open_hdf5(self.path, "stimuli") as f:
            if dataset not in f:
                raise DataFormatError(f"{self.path}: expected a dataset {dataset!r}; found {sorted(f.keys())}")
            self.shape, dtype = f[dataset].shape, f[dataset].dtype
            self._row = None
            self.ids = np.arange(self.shape[0])
            if ids_dataset is not None:
                if ids_dataset not in f:
                    raise DataFormatError(f"{self.path}: expected a dataset {ids_dataset!r} naming the images of "
                                          f"{dataset!r}; found {sorted(f.keys())}")
                self.ids = f[ids_dataset][()].astype(np.int64)
                self._row = dict(zip(self.ids.tolist(), range(len(self.ids)), strict=True))
                if len(self._row) != len(self.ids):
                    raise DataFormatError(f"{self.path}: {ids_dataset} must be unique; found "
                                          f"{len(self.ids) - len(self._row)} repeated ids")
        if len(self.shape) != 4 or self.shape[-1] != 3 or dtype != np.uint8:
            raise DataFormatError(f"{self.path}: {dataset} must be uint8 (N, H, W, 3); found {dtype} {self.shape}")

    def verify(self) -> None:
        """Nothing more to check: the file opened, and h5py reports a damaged chunk where it is read."""

    def read(self, ids) -> np.ndarray:
        """uint8 images (len(ids), H, W, 3) in the order of ``ids`` (h5py gets sorted unique indices)."""
        ids = np.asarray(ids, dtype=np.int64)
        if self._row is not None:
            missing = [i for i in ids.tolist() if i not in self._row]
            if missing:
                raise UnknownEntryError(f"{self.path}: no image for ids {missing[:10]}")
            rows = np.array([self._row[i] for i in ids.tolist()], dtype=np.int64)
        else:
            rows = ids
            if len(rows) and (rows.min() < 0 or rows.max() >= self.shape[0]):
                raise InputIndexError(
                    f"{self.path}: ids must be within 0..{self.shape[0] - 1}; got {rows.min()}..{rows.max()}"
                )
        uniq, inv = np.unique(rows, return_inverse=True)
        block = np.empty((len(uniq),) + tuple(self.shape[1:]), np.uint8)
        # one slice per run of consecutive rows: h5py's fancy indexing costs ~7 ms a row (a selection of
        # scattered rows), a slice reads its chunks directly
        starts = np.flatnonzero(np.r_[True, np.diff(uniq) != 1])
        with h5py.File(self.path, "r") as f:
            data = f[self.dataset]
            for a, z in zip(starts, np.r_[starts[1:], len(uniq)], strict=True):
                block[a:z] = data[int(uniq[a]) : int(uniq[z - 1]) + 1]
        return block[inv]


class Source(ABC):
    """Where a run's data comes from. Stages take one and never ask its kind.

    A subclass sets ``KIND`` (its name in ``sources.KINDS``), ``KEY`` (the option that selects it; None for the
    default kind) and ``OPTIONS`` (the names of its options; their flags and help are in ``cli/source_options.py``),
    and is built by ``from_options`` from their parsed values. ``label`` names the run's output folders and report
    titles; ``str(source)`` names it in messages.
    """

    KIND: ClassVar[str]
    KEY: ClassVar[str | None]
    OPTIONS: ClassVar[tuple[str, ...]]  # the names from_options takes

    label: str
    root: Path  # the folder a default weights root and default outputs are found beside

    @classmethod
    @abstractmethod
    def from_options(cls, label: str | None = None, **values) -> Source:
        """The source described by the parsed values of ``OPTIONS`` (None for an option not given)."""

    @abstractmethod
    def spec(self) -> dict:
        """The options that reopen this source with ``sources.open_source`` (JSON-ready, recorded by a fit)."""

    @abstractmethod
    def load(self, progress: bool = True) -> SubjectData:
        """The betas, repeats averaged, rows keyed by image id; checked in one pass (format, finite values, ids)."""

    @abstractmethod
    def images(self):
        """The seen images by id (``path``, ``ids``, ``shape``, ``read``); a DataError if this source has none."""

    @abstractmethod
    def where(self, split: str) -> str:
        """Where split ``split`` lives in this source, for messages ("FILE: dataset 'train/ids'")."""

    @abstractmethod
    def default_features_dir(self) -> Path:
        """The feature cache used when no ``--features-dir`` is given."""

    def data(self, progress: bool = True) -> SubjectData:
        """``load()``, once per source object."""
        if getattr(self, "_data", None) is None:
            self._data = self.load(progress=progress)
        return self._data

    def captions(self) -> Callable | None:
        """``read(ids) -> [[caption, ...], ...]``, or None when this source has no captions."""
        return None

    def grid(self):
        """The NIfTI image whose grid ``SubjectData.voxel_xyz`` indexes (an ROI or mask), or None where the voxels
        have no grid (an HDF5 file): where brain maps are drawn."""
        return None

    def image_ids(self, subjects=None) -> np.ndarray:
        """The image ids to extract features for by default: every image of the source."""
        if subjects:
            raise InputError(f"--subjects selects the images of NSD subjects; {self} has no subjects: leave it out")
        return np.unique(self.images().ids)

    def test_ids(self) -> np.ndarray:
        """The sorted distinct ids of the test split."""
        return self.data(progress=False).test_ids

    def ncsnr(self) -> np.ndarray:
        """Per-voxel noise-ceiling SNR (p,), in the order of the betas' voxels; a DataFileError if there is none."""
        raise DataFileError(f"{self} has no noise-ceiling SNR (ncsnr) per voxel")

    def data_kind(self) -> str:
        """What the data is, for row labels: "NSD", "synthetic" or "own data" (only NSD's rows can be set beside
        the published NSD rows)."""
        return "own data"

    def options_text(self) -> str:
        """The command-line options that name this source again, for the commands that messages suggest."""
        words = []
        for name, value in self.spec().items():
            for v in value if isinstance(value, list) else [value]:
                if v is not None:
                    words += ["--" + name.replace("_", "-"), str(v)]
        return " ".join(words)

    @abstractmethod
    def voxels(self) -> str:
        """Which voxels the betas hold, in words ("the mask M"): what a model fitted on them expects."""

    def images_identity(self) -> str | None:
        """What the source's images are (``image_fingerprint``), or None when it has none: what a feature cache
        made from them records, and what decode and evaluate compare."""
        try:
            return image_fingerprint(self.images())
        except NoImagesError:
            return None

    def provenance(self) -> dict:
        """What a feature cache made from this source records: ``{"images": images_identity(), "source": text}``."""
        return {"images": self.identity()["images"], "source": str(self)}

    def identity(self) -> dict:
        """What outputs made from this source record of it, to be compared by the steps that read them: the kind,
        the label and the images (not paths, so that a moved data folder is still the same source)."""
        if getattr(self, "_identity", None) is None:
            self._identity = {"kind": self.KIND, "label": self.label, "images": self.images_identity(),
                              "text": str(self)}
        return self._identity

    def describe(self) -> dict:
        """What a summary records of the source: its kind, label, voxels, identity and the options that reopen it."""
        return {"kind": self.KIND, "label": self.label, "voxels": self.voxels(), "identity": self.identity(),
                "spec": self.spec(), "text": str(self), "data_kind": self.data_kind()}

    def __str__(self) -> str:
        return self.label
