"""An own-data subject written as a lab would have it, in NIfTI and in HDF5 form: the same numbers in each, for
the source, fault and output-folder tests."""

from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
from PIL import Image
from planted import coarse_images

GRID, N_VOXELS, SIDE = (12, 12, 12), 200, 32
N_TRAIN, N_TEST = 48, 12
TRAIN_REPEATS, TEST_REPEATS = 1, 3  # a repeated image is averaged, as for NSD (here: each test image thrice)


def _dataset(seed=0):
    """Per trial: betas (trials, 200) that read the images' coarse colour layout, ids, splits; and the images."""
    n = N_TRAIN + N_TEST
    ids, coarse, images, W, rng = coarse_images(n, N_VOXELS, SIDE, first_id=7000, seed=seed)
    trial_rows = np.r_[np.repeat(np.arange(N_TRAIN), TRAIN_REPEATS), np.repeat(np.arange(N_TRAIN, n), TEST_REPEATS)]
    trial_rows = trial_rows[rng.permutation(len(trial_rows))]  # trials in a random order, as in a session
    betas = (coarse[trial_rows] - 0.5) @ W + 0.5 * rng.standard_normal((len(trial_rows), N_VOXELS))
    split = np.where(trial_rows < N_TRAIN, "train", "test")
    return {"betas": betas.astype(np.float32), "ids": ids[trial_rows], "split": split, "images": images,
            "image_ids": ids, "names": [f"img_{i:05d}.png" for i in ids], "rows": trial_rows}


def _mask(seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(GRID, bool)
    mask.ravel()[rng.choice(mask.size, N_VOXELS, replace=False)] = True
    return mask


AFFINE = np.diag([1.8, 1.8, 1.8, 1.0])


def write_nifti(folder: Path, d: dict, sessions=None, files=2, mask=None, affine=AFFINE) -> dict:
    """The NIfTI form of ``d``: ``files`` 4-D betas, a mask, a trials TSV and a folder of PNGs; returns the options."""
    folder.mkdir(parents=True, exist_ok=True)
    mask = _mask() if mask is None else mask
    vol = np.random.default_rng(1).standard_normal(GRID + (len(d["ids"]),)).astype(np.float32)  # noise outside
    vol[mask] = d["betas"].T
    paths = []
    for k, part in enumerate(np.array_split(np.arange(vol.shape[3]), files)):
        paths.append(folder / f"betas_run{k + 1}.nii.gz")
        nib.save(nib.Nifti1Image(vol[..., part], affine), paths[-1])
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), AFFINE), folder / "mask.nii.gz")
    (folder / "images").mkdir(exist_ok=True)
    for img, name in zip(d["images"], d["names"], strict=True):
        Image.fromarray(img).save(folder / "images" / name)
    names = dict(zip(d["image_ids"].tolist(), d["names"], strict=True))
    lines = ["image\tsplit\tid" + ("\tsession" if sessions is not None else "")]
    for k, (i, s) in enumerate(zip(d["ids"].tolist(), d["split"], strict=True)):
        lines.append(f"{names[i]}\t{s}\t{i}" + (f"\t{sessions[k]}" if sessions is not None else ""))
    (folder / "trials.tsv").write_text("\n".join(lines) + "\n")
    return {"betas": str(folder / "betas_run*.nii.gz"), "mask": str(folder / "mask.nii.gz"),
            "trials": str(folder / "trials.tsv"), "images": str(folder / "images")}


def write_hdf5(path: Path, d: dict) -> Path:
    """The own-data HDF5 form of the same numbers."""
    train = d["split"] == "train"
    with h5py.File(path, "w") as f:
        f["train/betas"], f["train/ids"] = d["betas"][train], d["ids"][train]
        f["test/betas"], f["test/ids"] = d["betas"][~train], d["ids"][~train]
        f["images"], f["image_ids"] = d["images"], d["image_ids"]
    return path
