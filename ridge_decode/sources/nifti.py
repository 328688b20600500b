"""Your own data as a lab has it after a single-trial GLM (GLMsingle, nilearn's first-level models): 4-D NIfTI betas,
a mask, a table of trials and a folder of images (``--betas``, ``--mask``, ``--trials``, ``--images``).

The trials table is a TSV with one row per volume, in the volumes' order (the files of ``--betas`` one after the
other): column ``image`` (a file name in ``--images``), column ``split`` (``train`` or ``test``), an optional
integer ``id`` (without it, ids follow the sorted names of the images the table names) and an optional
``session`` (betas are then z-scored per voxel within each session, as NSD's are; without it they are used as
they are). Voxels are those of the mask > 0, read through nilearn's ``NiftiMasker``, in ``np.argwhere(mask)``
order. Repeats of an image are averaged. Everything is checked in one pass, with messages that name the file,
the row and the column. See docs/data.md ("NIfTI betas with a mask").
"""

from __future__ import annotations

import csv
import glob
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import DataFileError, DataFormatError, InputError, NoImagesError, UnknownEntryError
from ..runtime import layout
from .base import (
    SPLITS,
    Source,
    SubjectData,
    average_repeats,
    check_finite_betas,
    check_image_size,
    zscore_rows,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
REQUIRED_COLUMNS = ("image", "split")
AFFINE_TOLERANCE = 1e-3  # mm: header round-off, not a different grid
DOCS = "docs/data.md, 'NIfTI betas with a mask'"


def expand_betas(patterns) -> list[Path]:
    """Each ``--betas`` value (one path or pattern, or several) as files: an existing path as is, else a glob
    pattern's matches, sorted."""
    if isinstance(patterns, (str, Path)):
        patterns = [patterns]
    files = []
    for pattern in patterns:
        if Path(pattern).exists():
            files.append(Path(pattern))
            continue
        matches = sorted(glob.glob(str(pattern)))
        if not matches:
            raise DataFileError(f"--betas {pattern}: no such file, and no file matches it as a pattern")
        files += [Path(m) for m in matches]
    return files


class Trials:
    """The trials table: one row per volume. ``image`` (names), ``split`` ("train"/"test"), ``ids`` (int64) and
    ``session`` (None, or one label per row)."""

    def __init__(self, path):
        self.path = Path(path)
        if not self.path.exists():
            raise DataFileError(f"--trials {self.path}: no such file. Write a TSV with one row per volume and "
                                f"columns {list(REQUIRED_COLUMNS)} (optional 'id', 'session'); {DOCS}")
        with open(self.path, newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            columns = reader.fieldnames or []
            rows = list(reader)
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise DataFormatError(f"{self.path}: expected tab-separated columns {list(REQUIRED_COLUMNS)}; found "
                                  f"{columns} (missing {missing}; {DOCS})")
        if not rows:
            raise DataFormatError(f"{self.path}: no rows; expected one row per volume of the betas")
        self.image = [self._cell(rows, k, "image") for k in range(len(rows))]
        self.split = np.array([self._cell(rows, k, "split") for k in range(len(rows))])
        bad = np.flatnonzero(~np.isin(self.split, SPLITS))
        if len(bad):
            raise self.error(bad[0], "split", repr(str(self.split[bad[0]])), f"one of {list(SPLITS)}")
        self.session = [self._cell(rows, k, "session") for k in range(len(rows))] if "session" in columns else None
        self.ids = self._ids(rows) if "id" in columns else self._ids_from_names()

    def __len__(self) -> int:
        return len(self.image)

    def error(self, row: int, column: str, found: str, expected: str) -> DataFormatError:
        """An error naming the file, the row (1-based, the header not counted) and the column."""
        return DataFormatError(f"{self.path}, row {row + 1}, column {column!r}: expected {expected}; found {found}")

    def _cell(self, rows, k: int, column: str) -> str:
        value = (rows[k].get(column) or "").strip()
        if not value:
            raise self.error(k, column, "an empty cell", "a value")
        return value

    def _ids(self, rows) -> np.ndarray:
        ids = np.empty(len(rows), np.int64)
        for k in range(len(rows)):
            text = self._cell(rows, k, "id")
            try:
                ids[k] = int(text)
            except ValueError:
                raise self.error(k, "id", f"{text!r}", "a whole number >= 0") from None
            if ids[k] < 0:
                raise self.error(k, "id", f"{text!r}", "a whole number >= 0")
        seen: dict[str, int] = {}
        owner: dict[int, str] = {}
        for k, (name, i) in enumerate(zip(self.image, ids.tolist(), strict=True)):
            if seen.setdefault(name, i) != i:
                raise self.error(k, "id", str(i), f"{seen[name]}, the id of {name!r} in an earlier row")
            if owner.setdefault(i, name) != name:
                raise self.error(k, "id", str(i), f"an id of its own: {i} already names {owner[i]!r}")
        return ids

    def _ids_from_names(self) -> np.ndarray:
        names = sorted(set(self.image))
        index = {n: i for i, n in enumerate(names)}
        return np.array([index[n] for n in self.image], np.int64)

    def names_by_id(self) -> dict[int, str]:
        """{image id: file name} of every image the table names."""
        return dict(zip(self.ids.tolist(), self.image, strict=True))


class FolderImages:
    """Images by id from a folder of PNG or JPEG files, all of one size (``path``, ``ids``, ``shape``, ``read``)."""

    def __init__(self, folder, names_by_id: dict[int, str], where: str):
        self.path = Path(folder)
        if not self.path.is_dir():
            raise DataFileError(f"--images {self.path}: no such folder (it holds the images the trials name)")
        self.ids = np.array(sorted(names_by_id), np.int64)
        self._files = {i: self.path / names_by_id[i] for i in self.ids.tolist()}
        size = None
        for i, p in self._files.items():
            if not p.is_file():
                raise DataFileError(f"{where}: image {names_by_id[i]!r} is not in --images {self.path}")
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                raise DataFormatError(f"{where}: image {names_by_id[i]!r} is not a PNG or JPEG file")
            try:
                with Image.open(p) as img:
                    found = img.size
            except OSError as exc:
                raise DataFileError(f"cannot read image {p}: {exc}") from exc
            size = size or (found, p)
            if found != size[0]:
                raise DataFormatError(f"{p}: {found[0]} x {found[1]} pixels; {size[1].name} has {size[0][0]} x "
                                      f"{size[0][1]}: give every image one size (resize them first)")
        w, h = size[0] if size else (0, 0)
        self.shape = (len(self.ids), h, w, 3)
        check_image_size(self.shape, f"--images {self.path}")

    def read(self, ids) -> np.ndarray:
        """uint8 images (len(ids), H, W, 3) in the order of ``ids``."""
        out = np.empty((len(ids),) + self.shape[1:], np.uint8)
        for k, i in enumerate(np.asarray(ids, np.int64).tolist()):
            if i not in self._files:
                raise UnknownEntryError(f"{self.path}: no image for id {i}")
            with Image.open(self._files[i]) as img:
                out[k] = np.asarray(img.convert("RGB"))
        return out


def _binary_mask(path) -> tuple[object, np.ndarray]:
    """The mask as a nibabel image and a boolean (X, Y, Z) array (values > 0)."""
    # heavy (nibabel): imported where used
    import nibabel as nib

    path = Path(path)
    if not path.exists():
        raise DataFileError(f"--mask {path}: no such file (a brain or ROI mask in the betas' grid; {DOCS})")
    try:
        img = nib.load(str(path))
        mask = np.asanyarray(img.dataobj) > 0
    except Exception as exc:
        raise DataFileError(f"cannot read the mask {path} (not NIfTI?): {exc}") from exc
    if mask.ndim != 3:
        raise DataFormatError(f"{path}: expected a 3-D mask (X, Y, Z); found shape {mask.shape}")
    if not mask.any():
        raise DataFormatError(f"{path}: the mask is empty: no voxel > 0")
    return img, mask


def _same_grid(path, img, mask_path, mask_img, what: str) -> None:
    """``img`` (``what`` at ``path``) lies on the mask's grid: the same (X, Y, Z) and the same affine."""
    if tuple(img.shape[:3]) != tuple(mask_img.shape[:3]):
        raise DataFormatError(f"{what} {path}: grid {tuple(img.shape[:3])}; the mask {mask_path} has "
                              f"{tuple(mask_img.shape[:3])}: give the mask of the betas' grid")
    diff = float(np.abs(np.asarray(img.affine) - np.asarray(mask_img.affine)).max())
    if diff > AFFINE_TOLERANCE:
        raise DataFormatError(f"{what} {path}: its affine differs from the mask {mask_path}'s (by up to {diff:.3g} "
                              "mm): resample the mask to the betas (nilearn.image.resample_to_img), or give the "
                              "mask of the betas' grid")


class NiftiSource(Source):
    """NIfTI betas with a mask, a trials table and (where ground truth is needed) a folder of images; labelled by
    the trials table's stem."""

    KIND, KEY = "nifti", "betas"
    OPTIONS = ("betas", "mask", "trials", "images", "ncsnr")  # their flags and help: cli/source_options.py

    def __init__(self, betas, mask, trials, images=None, ncsnr=None, label: str | None = None):
        self.betas = expand_betas(betas)
        self.mask, self.trials, self.ncsnr_path = Path(mask), Path(trials), ncsnr and Path(ncsnr)
        self.images_dir = images and Path(images)
        self.root = self.trials.parent
        self.label = label or layout.derived_label(self.trials.stem, f"the file name of --trials {self.trials}")

    @classmethod
    def from_options(cls, label=None, betas=None, mask=None, trials=None, images=None, ncsnr=None) -> NiftiSource:
        """``--betas`` (with ``--mask`` and ``--trials``; ``--images`` and ``--ncsnr`` optional)."""
        for name, value in (("--mask", mask), ("--trials", trials)):
            if value is None:
                raise InputError(f"--betas needs {name} too (NIfTI betas: --betas, --mask, --trials and --images)")
        return cls(betas, mask, trials, images, ncsnr, label)

    def grid(self):
        """The mask (``voxel_xyz`` indexes its grid)."""
        # heavy (nibabel): imported where used
        import nibabel as nib

        return nib.load(str(self.mask))

    def spec(self) -> dict:
        """The files given to the options, absolute: a fit's record reopens the same files from any working folder."""
        return {"betas": [str(p.resolve()) for p in self.betas], "mask": str(self.mask.resolve()),
                "trials": str(self.trials.resolve()), "images": self.images_dir and str(self.images_dir.resolve()),
                "ncsnr": self.ncsnr_path and str(self.ncsnr_path.resolve())}

    def load(self, progress: bool = True) -> SubjectData:
        """The betas inside the mask, z-scored per session where the table has sessions, repeats averaged."""
        # heavy (nibabel, nilearn): imported where used
        import nibabel as nib
        from nilearn.maskers import NiftiMasker

        mask_img, mask = _binary_mask(self.mask)
        trials = Trials(self.trials)
        imgs = []
        for path in self.betas:
            try:
                img = nib.load(str(path))
            except Exception as exc:
                raise DataFileError(f"cannot read betas {path} (not NIfTI?): {exc}") from exc
            if len(img.shape) != 4:
                raise DataFormatError(f"betas {path}: expected a 4-D image (X, Y, Z, volumes); found shape "
                                      f"{img.shape}")
            _same_grid(path, img, self.mask, mask_img, "betas")
            imgs.append(img)
        volumes = sum(img.shape[3] for img in imgs)
        if volumes != len(trials):
            counts = ", ".join(f"{p.name}: {i.shape[3]}" for p, i in zip(self.betas, imgs, strict=True))
            raise DataFormatError(f"{trials.path}: {len(trials)} rows for {volumes} volumes in --betas ({counts}): "
                                  "expected one row per volume, in the volumes' order")
        if self.images_dir is not None:
            self._folder_images(trials)
        masker = NiftiMasker(mask_img=nib.Nifti1Image(mask.astype(np.uint8), mask_img.affine), standardize=None)
        masker.fit()
        x = np.concatenate([self._masked(masker, img, path) for img, path in zip(imgs, self.betas, strict=True)])
        if trials.session is not None:
            sessions = np.array(trials.session)
            for s in np.unique(sessions):
                x[sessions == s] = zscore_rows(x[sessions == s])
        split = {name: average_repeats(x[trials.split == name], trials.ids[trials.split == name]) for name in SPLITS}
        return SubjectData(
            train_betas=split["train"][0], train_ids=split["train"][1], train_repeats=split["train"][2],
            test_betas=split["test"][0], test_ids=split["test"][1], test_repeats=split["test"][2],
            voxel_xyz=np.argwhere(mask).astype(np.int32),
            info={"betas": [str(p) for p in self.betas], "mask": str(self.mask), "trials": str(self.trials),
                  "options": {"zscore": "session" if trials.session is not None else "none"}},
        )

    @staticmethod
    def _masked(masker, img, path) -> np.ndarray:
        """One file's volumes inside the mask, float64 (volumes, p); non-finite values are an error naming them."""
        x = check_finite_betas(masker.transform(img), f"betas {path} inside the mask", "volumes",
                               "Drop those voxels from the mask, or impute them.")
        return x.astype(np.float64)

    def _folder_images(self, trials: Trials) -> FolderImages:
        return FolderImages(self.images_dir, trials.names_by_id(), f"{trials.path}, column 'image'")

    def images(self) -> FolderImages:
        """The images the trials name, from ``--images``."""
        if self.images_dir is None:
            raise NoImagesError(f"{self}: the seen images are needed here; give --images, the folder of the images the "
                            f"trials name")
        return self._folder_images(Trials(self.trials))

    def test_ids(self) -> np.ndarray:
        """The sorted distinct ids of the test rows, read from the table alone."""
        trials = Trials(self.trials)
        return np.unique(trials.ids[trials.split == "test"])

    def ncsnr(self) -> np.ndarray:
        """``--ncsnr`` inside the mask."""
        # heavy (nibabel): imported where used
        import nibabel as nib

        if self.ncsnr_path is None:
            raise DataFileError(f"{self} has no noise-ceiling SNR: --min-nc needs --ncsnr, a NIfTI of each voxel's "
                                "ncsnr in the mask's grid")
        mask_img, mask = _binary_mask(self.mask)
        try:
            img = nib.load(str(self.ncsnr_path))
            vol = np.asanyarray(img.dataobj).astype(np.float64)
        except Exception as exc:
            raise DataFileError(f"cannot read the ncsnr volume {self.ncsnr_path}: {exc}") from exc
        _same_grid(self.ncsnr_path, img, self.mask, mask_img, "--ncsnr")
        values = vol.reshape(mask.shape)[mask]
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise DataFormatError(f"--ncsnr {self.ncsnr_path}: {int(bad.sum())} voxels of the mask are negative or "
                                  "not finite; expected finite values >= 0")
        return values

    def voxels(self) -> str:
        """The mask's voxels."""
        return f"the mask {self.mask}"

    def where(self, split: str) -> str:
        """The trials table's rows of ``split``."""
        return f"{self.trials}, column 'split' ({split!r} rows)"

    def default_features_dir(self) -> Path:
        """``<trials stem>_features/`` beside the trials table: its own, never shared with another table's."""
        return self.trials.parent / f"{self.trials.stem}_{layout.FEATURES}"

    def __str__(self) -> str:
        return f"NIfTI betas of {self.trials}"
