"""Builders that several test files share, written once: own-data HDF5 files and a folder's digest.

``write_coarse`` makes a small own-data file whose betas read the images' coarse colour layout (planted.py);
``write_own_from_nsd`` writes an NSD subject's numbers as an own-data file; ``digest`` fingerprints every file of
a folder, so that a test can assert a failed run wrote or deleted nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
from planted import coarse_images

N_TRAIN, N_TEST, N_VOXELS, SIDE = 60, 12, 80, 32
FIT = ["--alphas", "-2:4:7"]  # a short alpha grid: the tests' fits take a fraction of a second


def digest(folder: Path) -> dict:
    """{relative path: sha256} of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def coarse_data(seed=0, side=SIDE, scale=1.0, dtype=np.float32) -> dict:
    """An own-data file's datasets: ``side`` x ``side`` images, and betas that read their coarse colour layout."""
    n = N_TRAIN + N_TEST
    ids, coarse, images, W, rng = coarse_images(n, N_VOXELS, side, seed=seed)
    betas = (((coarse - 0.5) @ W + 0.3 * rng.standard_normal((n, N_VOXELS))) * scale).astype(dtype)
    return {"train/betas": betas[:N_TRAIN], "train/ids": ids[:N_TRAIN], "test/betas": betas[N_TRAIN:],
            "test/ids": ids[N_TRAIN:], "images": images, "image_ids": ids}


def write_coarse(path: Path, **kw) -> Path:
    """``coarse_data(**kw)`` written as an own-data HDF5 file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for k, v in coarse_data(**kw).items():
            f[k] = v
    return path


def write_own_from_nsd(path: Path, root, subject: int = 1, reverse_images: bool = False, use_cache: bool = True):
    """NSD ``subject`` of the (synthetic) root ``root`` written as an own-data HDF5 file at ``path``: the same betas
    and ids, and the images of its ids (in reverse order with ``reverse_images``, so that reading them by id is
    tested). Returns the subject's ``SubjectData``."""
    from ridge_decode.sources.nsd import load_subject, open_stimuli

    data = load_subject(subject, root, use_cache=use_cache, progress=False)
    ids = np.concatenate([data.train_ids, data.test_ids])
    if reverse_images:
        ids = ids[::-1]
    with h5py.File(path, "w") as f:
        f["train/betas"], f["train/ids"] = data.train_betas, data.train_ids
        f["test/betas"], f["test/ids"] = data.test_betas, data.test_ids
        f["images"], f["image_ids"] = open_stimuli(root).read(ids), ids
    return data
