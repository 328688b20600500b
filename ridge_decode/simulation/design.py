"""The synthetic experiment: its size (sessions, voxels, grid) and an NSD-shaped design (``nsd_expdesign.mat``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..sources.manifest import load_manifest
from ..sources.nsd_files import subject_trials

N_SUBJECT_IMAGES = 10000
N_NSD_SUBJECTS = 8
N_SESSIONS_MAX = 40
SESSIONS_PER_BLOCK = 2  # every image's 3 repeats fall within one block of 2 sessions
N_REPEATS = 3


@dataclass(frozen=True)
class SimSize:
    """How big a simulated subject is: sessions, nsdgeneral voxels per subject and the (X, Y, Z) grid."""

    sessions: dict[int, int]
    n_voxels: dict[int, int]
    grid: tuple[int, int, int]


def _size(name: str, subjects: list[int]) -> SimSize:
    manifest = load_manifest()
    if name == "nsd":
        # NSD's session and voxel counts on a compact grid: the files stay a few GB per subject
        return SimSize(
            sessions={s: manifest.subject_info(s)["sessions"] for s in subjects},
            n_voxels={s: manifest.subject_info(s)["n_voxels"] for s in subjects},
            grid=(34, 42, 34),
        )
    base = {"small": (6, 3000, (24, 30, 22)), "tiny": (2, 400, (12, 14, 10))}
    if name not in base:
        raise InputError(f"--size must be one of small, nsd, tiny; got {name!r}")
    sessions, voxels, grid = base[name]
    # subjects differ in voxel count as real ones do
    return SimSize(
        sessions=dict.fromkeys(subjects, sessions),
        n_voxels={s: int(voxels * (1 - 0.05 * (s - 1))) for s in subjects},
        grid=grid,
    )


def make_design(seed: int) -> dict[str, np.ndarray]:
    """An NSD-shaped experimental design (1-based, as in ``nsd_expdesign.mat``).

    ``sharedix`` (1000 sorted 73k ids) opens every subject's 10k list (``subjectim[:, :1000]``); the other
    9000 images of each of the 8 subjects are disjoint, so the 73k ids are used exactly once overall.
    ``masterordering`` (30000 trials, shared by all subjects) shows each image 3 times within a block of two
    sessions, each block holding 50 shared and 450 subject-specific images.
    """
    manifest = load_manifest()
    n_images, n_shared = manifest.n_images, manifest.n_shared
    rng = np.random.default_rng([seed, 1])
    perm = rng.permutation(n_images)
    sharedix = np.sort(perm[:n_shared])
    rest = perm[n_shared:].reshape(N_NSD_SUBJECTS, N_SUBJECT_IMAGES - n_shared)
    subjectim = np.concatenate([np.tile(sharedix, (N_NSD_SUBJECTS, 1)), rest], axis=1) + 1

    n_blocks = N_SESSIONS_MAX // SESSIONS_PER_BLOCK
    shared_per_block = n_shared // n_blocks
    own_per_block = (N_SUBJECT_IMAGES - n_shared) // n_blocks
    order = []
    for b in range(n_blocks):
        shared = np.arange(b * shared_per_block, (b + 1) * shared_per_block) + 1
        own = n_shared + np.arange(b * own_per_block, (b + 1) * own_per_block) + 1
        block = np.repeat(np.concatenate([shared, own]), N_REPEATS)
        order.append(rng.permutation(block))
    masterordering = np.concatenate(order)
    return {
        "masterordering": masterordering[None, :].astype(np.float64),
        "subjectim": subjectim.astype(np.float64),
        "sharedix": (sharedix + 1)[None, :].astype(np.float64),
    }


def trial_ids(design: dict[str, np.ndarray], subject: int, n_trials: int) -> np.ndarray:
    """0-based 73k ids of a subject's first ``n_trials`` trials: the loader's own ``nsd.subject_trials``."""
    as_read = {k: np.asarray(v).ravel().astype(np.int64) if k != "subjectim" else np.asarray(v).astype(np.int64)
               for k, v in design.items()}
    return subject_trials(as_read, subject, n_trials)[0]
