"""Writers of the NSD file layout: every file of a simulated root goes through here, atomically."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import scipy.io

from ..runtime.io import atomic_path
from ..sources.manifest import entry_path
from ..sources.nsd_files import BETA_SCALE
from .design import N_NSD_SUBJECTS, N_REPEATS
from .stimuli import captions_of

VOXEL_SIZE_MM = 1.8


MAT_HEADER_BYTES = 116  # the text part of a MAT v5 header, where scipy writes the creation time
MAT_HEADER = b"MATLAB 5.0 MAT-file, written by ridge_decode.simulation"


def write_design(path: Path, design: dict[str, np.ndarray]) -> None:
    """``nsd_expdesign.mat``, with a fixed header text instead of the creation time: a seed gives the same bytes."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, design)
    data = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(MAT_HEADER.ljust(MAT_HEADER_BYTES) + data[MAT_HEADER_BYTES:])


def write_nifti(path: Path, data: np.ndarray) -> None:
    """A NIfTI volume on the 1.8 mm grid, atomically."""
    affine = np.diag([VOXEL_SIZE_MM, VOXEL_SIZE_MM, VOXEL_SIZE_MM, 1.0])
    with atomic_path(path, suffix=".nii.gz") as tmp:
        nib.save(nib.Nifti1Image(data, affine), str(tmp))


def write_stim_info(path: Path, design: dict[str, np.ndarray], n_images: int) -> None:
    """``nsd_stim_info_merged.csv``: one row per 73k id with its COCO id and split, and who saw it when."""
    shared = set(design["sharedix"].ravel().astype(int) - 1)
    order = design["masterordering"].ravel().astype(int)
    reps = np.zeros((N_NSD_SUBJECTS, n_images, N_REPEATS), dtype=np.int64)
    seen = np.zeros((N_NSD_SUBJECTS, n_images), dtype=np.int64)
    for s in range(N_NSD_SUBJECTS):
        ids = design["subjectim"][s, order - 1].astype(int) - 1
        sort = np.argsort(ids, kind="stable")  # each trial's occurrence index among its image's showings
        starts = np.r_[0, np.flatnonzero(np.diff(ids[sort])) + 1]
        occurrence = np.empty(len(ids), np.int64)
        occurrence[sort] = np.arange(len(ids)) - np.repeat(starts, np.diff(np.r_[starts, len(ids)]))
        first = occurrence < N_REPEATS
        reps[s, ids[first], occurrence[first]] = np.flatnonzero(first) + 1  # 1-based trial number, 0 = never
        seen[s] = np.bincount(ids, minlength=n_images)
    header = ["", "cocoId", "cocoSplit", "cropBox", "nsdId", "shared1000"]
    header += [f"subject{s + 1}" for s in range(N_NSD_SUBJECTS)]
    header += [f"subject{s + 1}_rep{r}" for s in range(N_NSD_SUBJECTS) for r in range(N_REPEATS)]
    ids = np.arange(n_images)
    is_shared = np.zeros(n_images, bool)
    is_shared[list(shared)] = True
    fixed = [ids.astype(str), (100000 + ids).astype(str), np.where(ids % 10 == 0, "val2017", "train2017"),
             np.full(n_images, '"(0, 0, 0, 0)"'), ids.astype(str), np.where(is_shared, "True", "False")]
    counts = [(seen[s] > 0).astype(int).astype(str) for s in range(N_NSD_SUBJECTS)]
    trials = [reps[s, :, r].astype(str) for s in range(N_NSD_SUBJECTS) for r in range(N_REPEATS)]
    lines = [",".join(row) for row in zip(*fixed, *counts, *trials, strict=True)]  # ids, not loops over cells
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        csv.writer(f).writerow(header)
        f.write("\r\n".join(lines) + "\r\n")


def coco_id(image_id: int) -> int:
    """The synthetic COCO id of a 73k id (real NSD takes it from nsd_stim_info_merged.csv)."""
    return 100000 + int(image_id)


def coco_split(image_id: int) -> str:
    """The synthetic COCO split of a 73k id: one in ten is in val2017, as a reminder that both files are read."""
    return "val2017" if image_id % 10 == 0 else "train2017"


def to_int16(psc: np.ndarray) -> np.ndarray:
    """Percent signal change -> NSD's int16 betas (x 300, rounded, clipped)."""
    info = np.iinfo(np.int16)
    return np.clip(np.rint(psc * BETA_SCALE), info.min, info.max).astype(np.int16)


def write_stimuli(path: Path, ids: np.ndarray, images: np.ndarray, n_images: int, seed: int) -> None:
    """``nsd_stimuli.hdf5``: ``imgBrick`` (n_images, H, W, 3), one compressed chunk per image; only ``ids`` are
    written, so the rows never shown cost no disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        brick = f.create_dataset("imgBrick", shape=(n_images,) + images.shape[1:], dtype=np.uint8,
                                 chunks=(1,) + images.shape[1:], compression="gzip", compression_opts=4)
        for k, i in enumerate(ids):
            brick[i] = images[k]
        f.attrs["synthetic"] = True
        f.attrs["seed"] = seed


def write_betas_hdf5(path: Path, vol: np.ndarray) -> None:
    """One session's betas, ``vol`` (trials, X, Y, Z) int16, as NSD's HDF5 (axes (trials, Z, Y, X))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("betas", data=vol.transpose(0, 3, 2, 1), chunks=(1,) + vol.shape[1:][::-1])


def write_ground_truth(path: Path, arrays: dict[str, np.ndarray], attrs: dict) -> None:
    """``synthetic_ground_truth.h5``: every parameter of the encoding model ({"group/name": array})."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        for k, v in arrays.items():
            f[k] = v
        for k, v in attrs.items():
            f.attrs[k] = v


def write_captions(out: Path, manifest, used: np.ndarray, metas: list[dict], seed: int) -> None:
    """COCO-format caption files naming what each stimulus shows (``captions_{train,val}2017.json``)."""
    by_split: dict[str, dict[str, list]] = {
        "train2017": {"images": [], "annotations": []},
        "val2017": {"images": [], "annotations": []},
    }
    ann_id = 0
    for i, meta in zip(used, metas, strict=True):
        split = by_split[coco_split(int(i))]
        cid = coco_id(int(i))
        split["images"].append({"id": cid, "file_name": f"{cid:012d}.jpg"})
        for caption in captions_of(meta, np.random.default_rng([seed, 5, int(i)])):
            ann_id += 1
            split["annotations"].append({"image_id": cid, "id": ann_id, "caption": caption})
    for key, split in (("captions_train", "train2017"), ("captions_val", "val2017")):
        p = entry_path(key, out, manifest=manifest)
        p.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(p) as tmp:
            tmp.write_text(json.dumps(by_split[split]))
