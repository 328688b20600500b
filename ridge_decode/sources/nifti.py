"""Your own data as a lab has it after a single-trial GLM (GLMsingle, nilearn's first-level models): 4-D NIfTI betas,
a mask, a table of trials and a folder of images (``--betas``, ``--mask``, ``--trials``, ``--images``).

The trials table is a TSV with one row per volume, in the volumes' order (the files of ``--betas`` one after the
other): column ``image`` (a file name in ``--images``), column ``split`` (``train`` or ``test``), an optional
integer ``id`` (without it, ids follow the sorted names of the images the table names), an optional
``session`` (betas are then z-scored per voxel within each session, as NSD's are; without it they are used as
they are) and an optional ``run`` (the betas file of the row: its name, its name without ``.nii.gz``, or its run
number; the files are then read in the table's order of runs, and each file must have as many volumes as its
run has rows). Without ``run``, a glob's files are read in natural order (``run2`` before ``run10``), and files
given one by one in the order given; a glob matching files whose names carry no run number is refused. Voxels
are those of the mask > 0, in ``np.argwhere(mask)`` order (nilearn's ``NiftiMasker``'s), read from the files' own
values: a NaN is refused, never filled in. Repeats of an image are averaged. Everything is checked in one pass,
with messages that name the file, the row and the column. See docs/data.md ("NIfTI betas with a mask").
"""

from __future__ import annotations

import csv
import glob
import re
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
    regular_file,
    zscore_rows,
)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
REQUIRED_COLUMNS = ("image", "split")
AFFINE_TOLERANCE = 1e-3  # mm: header round-off, not a different grid
DOCS = "docs/data.md, 'NIfTI betas with a mask'"


def natural_key(path) -> list:
    """Sort key of a file name with its numbers compared as numbers: ``run2`` before ``run10``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", Path(path).name) if t]


def numbers(path) -> tuple[int, ...]:
    """The numbers in a file's name (``betas_run12.nii.gz`` -> (12,))."""
    return tuple(int(t) for t in re.findall(r"\d+", Path(path).name))


def expand_betas(patterns) -> tuple[list[Path], list[list[Path]]]:
    """Each ``--betas`` value (one path or pattern, or several) as files, and the groups of files whose order is
    unknown. An existing path stays where it was given; a glob pattern's matches are sorted naturally (``run2``
    before ``run10``). Matches whose names carry no run number (their numbers do not tell them apart) form a
    group whose order only the trials table's ``run`` column can give."""
    if isinstance(patterns, (str, Path)):
        patterns = [patterns]
    files, unordered = [], []
    for pattern in patterns:
        if Path(pattern).exists():
            files.append(Path(pattern))
            continue
        matches = sorted((Path(m) for m in glob.glob(str(pattern))), key=natural_key)
        if not matches:
            raise DataFileError(f"--betas {pattern}: no such file, and no file matches it as a pattern")
        if len(matches) > 1 and len({numbers(m) for m in matches}) < len(matches):
            unordered.append(matches)
        files += matches
    return files, unordered


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", ".nii"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


class Trials:
    """The trials table: one row per volume. ``image`` (names), ``split`` ("train"/"test"), ``ids`` (int64) and
    ``session`` (None, or one label per row)."""

    def __init__(self, path):
        self.path = regular_file(path, "--trials")
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
        self.run = [self._cell(rows, k, "run") for k in range(len(rows))] if "run" in columns else None
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
            try:
                with Image.open(self._files[i]) as img:
                    out[k] = np.asarray(img.convert("RGB"))
            except (OSError, SyntaxError, ValueError) as exc:  # PIL: truncated, or not an image after its header
                raise DataFileError(f"cannot read image {self._files[i]} (id {i}): {exc}: replace it with a whole "
                                    "PNG or JPEG file") from exc
        return out

    def verify(self) -> None:
        """Decode every image once (the size check reads headers only): a truncated or damaged file is an error
        naming it. ``check-data`` runs this."""
        for a in range(0, len(self.ids), 64):
            self.read(self.ids[a : a + 64])


def _binary_mask(path) -> tuple[object, np.ndarray]:
    """The mask as a nibabel image and a boolean (X, Y, Z) array (values > 0)."""
    # heavy (nibabel): imported where used
    import nibabel as nib

    path = regular_file(path, "--mask")
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
    the trials table's stem. The volumes are read through nilearn's ``NiftiMasker``.

    Parameters
    ----------
    betas : str, Path or list of them
        4-D NIfTI files (X, Y, Z, trials), one volume per trial, or a glob; any units (e.g. percent signal change).
    mask : str or Path
        A 3-D NIfTI in the betas' grid; voxels ``> 0`` are used (p of them).
    trials : str or Path
        A TSV, one row per volume: ``image`` (a file in ``images``), ``split`` (train or test), optional ``id``
        and ``session`` (betas are then z-scored within each session).
    images : str or Path, optional
        The folder of PNG or JPEG images the trials name; needed where ground truth is.
    ncsnr : str or Path, optional
        A 3-D NIfTI of each voxel's noise-ceiling SNR, in the mask's grid.
    label : str, optional
        The name of its outputs; default the trials table's stem.

    Notes
    -----
    ``load()`` gives a ``SubjectData``: ``train_betas`` float32 (n_train, p) and ``test_betas`` (n_test, p), one
    row per image (repeats averaged), keyed by ``train_ids`` / ``test_ids`` int64 (n,). ``images().read(ids)``
    gives the seen images, uint8 (len(ids), H, W, 3), in the order of ``ids``. ``ncsnr()`` gives each voxel's
    noise-ceiling SNR (p,), unitless and >= 0, where the source has it.
    """

    KIND, KEY = "nifti", "betas"
    OPTIONS = ("betas", "mask", "trials", "images", "ncsnr")  # their flags and help: cli/source_options.py

    def __init__(self, betas, mask, trials, images=None, ncsnr=None, label: str | None = None):
        self.betas, self._unordered = expand_betas(betas)
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

        mask_img, mask = _binary_mask(self.mask)
        trials = Trials(self.trials)
        betas = self._in_run_order(trials)
        imgs = []
        for path in betas:
            regular_file(path, "--betas")
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
            counts = ", ".join(f"{p.name}: {i.shape[3]}" for p, i in zip(betas, imgs, strict=True))
            raise DataFormatError(f"{trials.path}: {len(trials)} rows for {volumes} volumes in --betas ({counts}): "
                                  "expected one row per volume, in the volumes' order")
        if trials.run is not None:
            runs = np.array(trials.run)
            for path, img in zip(betas, imgs, strict=True):
                rows = int(np.isin(runs, self._run_values[path]).sum())
                if rows != img.shape[3]:
                    raise DataFormatError(f"{trials.path}, column 'run': {rows} rows name {path.name}, which has "
                                          f"{img.shape[3]} volumes: expected one row per volume of each run")
        if self.images_dir is not None:
            self._folder_images(trials)
        x = np.concatenate([self._masked(img, mask, path) for img, path in zip(imgs, betas, strict=True)])
        if trials.session is not None:
            sessions = np.array(trials.session)
            for s in np.unique(sessions):
                x[sessions == s] = zscore_rows(x[sessions == s])
        split = {name: average_repeats(x[trials.split == name], trials.ids[trials.split == name]) for name in SPLITS}
        return SubjectData(
            train_betas=split["train"][0], train_ids=split["train"][1], train_repeats=split["train"][2],
            test_betas=split["test"][0], test_ids=split["test"][1], test_repeats=split["test"][2],
            voxel_xyz=np.argwhere(mask).astype(np.int32),
            info={"betas": [str(p) for p in betas], "mask": str(self.mask), "trials": str(self.trials),
                  "options": {"zscore": "session" if trials.session is not None else "none"}},
        )

    def _in_run_order(self, trials: Trials) -> list[Path]:
        """The betas files in the order of the volumes the table's rows describe: by its ``run`` column where it
        has one (each run's rows together), else as given (a glob's matches in natural order)."""
        if trials.run is None:
            if self._unordered:
                group = self._unordered[0]
                shown = ", ".join(p.name for p in group[:4]) + (" ..." if len(group) > 4 else "")
                raise DataFormatError(
                    f"--betas matches {len(group)} files whose names carry no run number ({shown}), so the order "
                    "of their volumes is unknown. Give the files in their order (repeat --betas), or add a column "
                    f"'run' to {trials.path} naming each row's file")
            return list(self.betas)
        self._run_values = {}
        order, seen = [], {}
        for k, value in enumerate(trials.run):
            if value in seen:
                if seen[value] != order[-1]:
                    raise trials.error(k, "run", repr(value), f"the rows of each run together (run {value!r} "
                                       "already had rows before another run's)")
                continue
            found = [p for p in self.betas if value in (p.name, _stem(p)) or
                     (value.isdigit() and numbers(p)[-1:] == (int(value),))]
            if len(found) != 1:
                names = ", ".join(p.name for p in self.betas[:6]) + (" ..." if len(self.betas) > 6 else "")
                raise trials.error(k, "run", repr(value), f"the name (or run number) of exactly one --betas file; "
                                   f"it names {len(found)} of {names}")
            if found[0] in order:
                raise trials.error(k, "run", repr(value), f"a run of its own: {found[0].name} is already run "
                                   f"{[v for v, p in seen.items() if p == found[0]][0]!r}")
            seen[value] = found[0]
            order.append(found[0])
            self._run_values.setdefault(found[0], []).append(value)
        left = [p.name for p in self.betas if p not in order]
        if left:
            raise DataFormatError(f"{trials.path}, column 'run': no row names --betas files {left}: expected every "
                                  "file to be one run of the table")
        return order

    @staticmethod
    def _masked(img, mask: np.ndarray, path) -> np.ndarray:
        """One file's volumes inside the mask, float64 (volumes, p), in ``np.argwhere(mask)`` order, read from the
        file's own values (nilearn's masker would fill a NaN in): a non-finite value is an error naming the file,
        the volume and the voxel."""
        x = np.asanyarray(img.dataobj)[mask].T  # (volumes, p): C order of the mask, as np.argwhere gives
        bad = ~np.isfinite(x)
        if bad.any():
            v, c = np.nonzero(bad)
            xyz = tuple(int(a) for a in np.argwhere(mask)[c[0]])
            raise DataFormatError(f"betas {path}: {len(v)} NaN or infinite values inside the mask, in "
                                  f"{len(np.unique(v))} volumes; first at volume {v[0]} (0-based), voxel {c[0]} of "
                                  f"the mask (x, y, z = {xyz}). Drop those voxels from the mask, or impute them.")
        return check_finite_betas(x, f"betas {path} inside the mask", "volumes").astype(np.float64)

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
