"""The known encoding model: image features, the latent shared by all subjects, each subject's ROI and voxels.

Each image gives a luminance and a local-contrast map on a ``FEATURE_RES`` grid, and a ``N_LATENT``-dim latent
``z = tanh(P phi)`` of coarse image structure (colour thumbnail and orientation energy) with ``P`` shared by all
subjects. Posterior voxels have retinotopic Gaussian receptive fields on luminance and contrast; anterior voxels
read out the shared latent; the hierarchy position ``t`` blends the two. Each voxel's signal is standardised over
the subject's images and scaled by its ncsnr; each trial adds unit Gaussian noise, and each session its own gain
and offset drift.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import InputError

FEATURE_RES = 32  # luminance / contrast maps seen by the early voxels
THUMB_RES = 8  # colour thumbnail feeding the latent
N_ORIENT = 4
N_LATENT = 32
NCSNR_MEDIAN = 0.4  # NSD nsdgeneral voxels have ncsnr of a few tenths
NCSNR_LOG_SD = 0.5
SESSION_GAIN_SD, SESSION_OFFSET_SD = 0.15, 0.5  # session-to-session drift, in percent signal change


def image_features(images: np.ndarray) -> dict[str, np.ndarray]:
    """Luminance and contrast maps (n, FEATURE_RES**2) and coarse structure ``phi`` (n, d) of uint8 images."""
    x = images.astype(np.float32) / 255.0
    n, h, w, _ = x.shape
    gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
    b = h // FEATURE_RES
    blocks = gray[:, : b * FEATURE_RES, : b * FEATURE_RES].reshape(n, FEATURE_RES, b, FEATURE_RES, b)
    lum = blocks.mean(axis=(2, 4))
    con = blocks.std(axis=(2, 4))
    t = h // THUMB_RES
    thumb = x[:, : t * THUMB_RES, : t * THUMB_RES].reshape(n, THUMB_RES, t, THUMB_RES, t, 3).mean(axis=(2, 4))
    gy, gx = np.gradient(lum, axis=(1, 2))
    angle = np.mod(np.arctan2(gy, gx), np.pi)
    energy = np.hypot(gx, gy)
    pool = FEATURE_RES // 4
    orient = []
    for k in range(N_ORIENT):
        centre = k * np.pi / N_ORIENT
        tuning = np.cos(angle - centre) ** 2
        e = (energy * tuning).reshape(n, 4, pool, 4, pool).mean(axis=(2, 4))
        orient.append(e.reshape(n, -1))
    phi = np.concatenate([thumb.reshape(n, -1)] + orient, axis=1)
    return {"lum": lum.reshape(n, -1), "con": con.reshape(n, -1), "phi": phi}


def make_latent_model(seed: int, phi: np.ndarray) -> dict[str, np.ndarray]:
    """The image-to-latent map shared by all subjects: standardisation of ``phi`` and projection ``P``."""
    rng = np.random.default_rng([seed, 3])
    d = phi.shape[1]
    return {
        "phi_mean": phi.mean(axis=0),
        "phi_std": phi.std(axis=0) + 1e-6,
        "P": (rng.standard_normal((N_LATENT, d)) * 2.0 / np.sqrt(d)).astype(np.float32),
    }


def latent(phi: np.ndarray, model: dict[str, np.ndarray]) -> np.ndarray:
    """Shared latent ``z = tanh(P (phi - mean) / std)``, shape (n, N_LATENT)."""
    return np.tanh(((phi - model["phi_mean"]) / model["phi_std"]) @ model["P"].T).astype(np.float32)


def make_mask(grid: tuple[int, int, int], n_voxels: int, rng: np.random.Generator) -> np.ndarray:
    """An nsdgeneral-like ROI on ``grid`` (X, Y, Z): -1 outside an ellipsoidal brain, 0 cortex, 1 ROI.

    The ROI is the ``n_voxels`` brain voxels that are most posterior (low Y), with smooth random borders.
    """
    coords = np.stack(np.meshgrid(*[np.linspace(-1, 1, g) for g in grid], indexing="ij"))
    brain = (coords**2).sum(axis=0) <= 0.95
    if brain.sum() < n_voxels:
        raise InputError(f"grid {grid} holds {brain.sum()} brain voxels, fewer than {n_voxels} requested")
    noise = ndimage.gaussian_filter(rng.standard_normal(grid), sigma=2.0)
    score = -coords[1] + 0.5 * noise / noise.std()
    score[~brain] = -np.inf
    order = np.argsort(score, axis=None)[::-1][:n_voxels]
    mask = np.where(brain, 0, -1).astype(np.int16)
    mask.flat[order] = 1
    return mask


def make_encoding(
    mask: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per-voxel encoding parameters for the ROI voxels, in mask order (``np.argwhere(mask > 0)``)."""
    xyz = np.argwhere(mask > 0)
    p = len(xyz)
    grid = np.array(mask.shape, float)
    frac = xyz / (grid - 1)
    # hierarchy: posterior (low Y) voxels are early, anterior ones read out the latent
    y_rank = np.argsort(np.argsort(frac[:, 1] + 0.05 * rng.standard_normal(p))) / max(p - 1, 1)
    t = 1.0 / (1.0 + np.exp(-(y_rank - 0.5) * 10.0))
    # retinotopy: a smooth map from (X, Z) to the visual field, plus scatter
    rf_center = np.clip(np.stack([frac[:, 0], frac[:, 2]], 1) + 0.05 * rng.standard_normal((p, 2)), 0, 1)
    rf_sigma = 0.04 + 0.15 * y_rank  # receptive fields grow along the hierarchy (fraction of the image)
    return {
        "voxel_xyz": xyz.astype(np.int32),
        "hierarchy": t.astype(np.float32),
        "rf_center": rf_center.astype(np.float32),
        "rf_sigma": rf_sigma.astype(np.float32),
        "w_lum": rng.standard_normal(p).astype(np.float32),
        "w_con": np.abs(1.0 + 0.5 * rng.standard_normal(p)).astype(np.float32),
        "w_latent": rng.standard_normal((p, N_LATENT)).astype(np.float32),
        "ncsnr": np.clip(np.exp(np.log(NCSNR_MEDIAN) + NCSNR_LOG_SD * rng.standard_normal(p)), 0.05, 1.5).astype(
            np.float32
        ),
        "scale_psc": rng.uniform(0.8, 2.0, p).astype(np.float32),
        "baseline_psc": rng.normal(0.0, 1.0, p).astype(np.float32),
    }


def voxel_signal(feats: dict[str, np.ndarray], z: np.ndarray, enc: dict[str, np.ndarray]) -> np.ndarray:
    """Noise-free responses (n_images, p), each voxel standardised over these images (mean 0, sd 1)."""
    g = (np.arange(FEATURE_RES) + 0.5) / FEATURE_RES
    gy, gx = np.meshgrid(g, g, indexing="ij")
    cy, cx = enc["rf_center"][:, 1, None], enc["rf_center"][:, 0, None]
    d2 = (gx.ravel()[None] - cx) ** 2 + (gy.ravel()[None] - cy) ** 2
    rf = np.exp(-d2 / (2 * enc["rf_sigma"][:, None] ** 2)).astype(np.float32)
    rf /= rf.sum(axis=1, keepdims=True)
    early = enc["w_lum"] * ((feats["lum"] - 0.5) @ rf.T) + enc["w_con"] * (feats["con"] @ rf.T)
    late = z @ enc["w_latent"].T
    early = (early - early.mean(0)) / (early.std(0) + 1e-8)
    late = (late - late.mean(0)) / (late.std(0) + 1e-8)
    t = enc["hierarchy"]
    signal = (1 - t) * early + t * late
    return ((signal - signal.mean(0)) / (signal.std(0) + 1e-8)).astype(np.float32)


def session_psc(signal: np.ndarray, enc: dict[str, np.ndarray], gain: float, offset: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """One session's responses in percent signal change (trials, p): ``signal`` (trials, p) scaled by each voxel's
    ncsnr, unit Gaussian trial noise, the session's gain and offset drift, each voxel's scale and baseline."""
    noise = rng.standard_normal(signal.shape, dtype=np.float32)
    return enc["baseline_psc"] + offset + gain * enc["scale_psc"] * (enc["ncsnr"] * signal + noise)
