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

# The NSD-like preset. Visual-cortex response variance falls as ~1/n in the n-th principal component (Stringer et
# al. 2019; Gauthaman, Menard & Bonner 2024 on NSD, shared across subjects): the latent has LATENT_DIMS dims with
# that spectrum. Noise ceilings fall along the hierarchy as NSD's do (volumetric medians V1 37%, V2 31%, V4 26%,
# IT 10%, Allen et al. 2022): at 3 repeats, ncsnr 0.44 gives 37% and 0.19 gives 10%.
LATENT_DIMS = 256
LATENT_EXPONENT = 1.0
NCSNR_EARLY, NCSNR_LATE, NCSNR_SCATTER = 0.44, 0.19, 0.35
RICH_RES = 16  # luminance and contrast maps of the features behind the latent
# Early visual BOLD follows local contrast energy far more than signed luminance (which a pixel decoder reads
# linearly): in the NSD-like preset the luminance weights are this fraction of the easy preset's.
LUMINANCE_WEIGHT = 0.1


FEATURE_CHUNK = 256  # images per pass: the float32 copy of a whole simulation's images would take gigabytes


def image_features(images: np.ndarray) -> dict[str, np.ndarray]:
    """Luminance and contrast maps (n, FEATURE_RES**2) and coarse structure ``phi`` (n, d) of uint8 images."""
    parts = [_image_features(images[a : a + FEATURE_CHUNK]) for a in range(0, len(images), FEATURE_CHUNK)]
    return {k: np.concatenate([p[k] for p in parts]) for k in ("lum", "con", "phi")}


def _image_features(images: np.ndarray) -> dict[str, np.ndarray]:
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


def rich_features(images: np.ndarray, cover_by_source: np.ndarray, feats: dict | None = None) -> np.ndarray:
    """What the NSD-like latent reads (n, d): mostly what is in the image rather than where. The share of the image
    each source photograph covers (its "objects", the semantic part), colour statistics, and coarsely pooled
    contrast and orientation energy (4 x 4); no pixel-level luminance. ``feats``: ``image_features(images)`` if
    already computed."""
    n = len(images)
    feats = image_features(images) if feats is None else feats
    con = feats["con"].reshape(n, FEATURE_RES, FEATURE_RES)
    pool = FEATURE_RES // 4
    coarse = con.reshape(n, 4, pool, 4, pool).mean(axis=(2, 4)).reshape(n, -1)
    orient = feats["phi"][:, THUMB_RES * THUMB_RES * 3 :]  # orientation energy on a 4 x 4 grid
    colour = np.concatenate([_colour_stats(images[a : a + FEATURE_CHUNK]) for a in range(0, n, FEATURE_CHUNK)])
    return np.concatenate([4.0 * np.asarray(cover_by_source, np.float32), colour, coarse, orient], axis=1)


def _colour_stats(images: np.ndarray) -> np.ndarray:
    """Mean and standard deviation of each colour channel (n, 6) of uint8 images, on [0, 1]."""
    x = images.astype(np.float32) / 255.0
    return np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)


def make_powerlaw_latent(seed: int, phi: np.ndarray, dims: int = LATENT_DIMS,
                         exponent: float = LATENT_EXPONENT) -> dict[str, np.ndarray]:
    """The NSD-like image-to-latent map shared by all subjects: ``z = (tanh(phi_std R) - m) W``, whose k-th
    principal component over these images has variance ``k ** -exponent`` (the planted power law)."""
    rng = np.random.default_rng([seed, 3])
    mean, std = phi.mean(axis=0), phi.std(axis=0) + 1e-6
    R = (rng.standard_normal((phi.shape[1], dims)) * 2.0 / np.sqrt(phi.shape[1])).astype(np.float32)
    h = np.tanh(((phi - mean) / std) @ R)
    m = h.mean(axis=0)
    _, sv, vt = np.linalg.svd(h - m, full_matrices=False)
    spectrum = np.arange(1, dims + 1, dtype=np.float64) ** (-exponent / 2)
    W = (vt.T * (np.sqrt(len(h)) * spectrum / np.maximum(sv, 1e-8))).astype(np.float32)
    return {"phi_mean": mean, "phi_std": std, "R": R, "h_mean": m.astype(np.float32), "W": W,
            "exponent": np.float64(exponent)}


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
    """Shared latent (n, dims): ``tanh(P (phi - mean) / std)`` (easy preset) or the power-law map above."""
    x = (phi - model["phi_mean"]) / model["phi_std"]
    if "W" in model:
        return ((np.tanh(x @ model["R"]) - model["h_mean"]) @ model["W"]).astype(np.float32)
    return np.tanh(x @ model["P"].T).astype(np.float32)


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


def make_encoding(mask: np.ndarray, rng: np.random.Generator, n_latent: int = N_LATENT,
                  ncsnr_along_hierarchy: bool = False, luminance_weight: float = 1.0) -> dict[str, np.ndarray]:
    """Per-voxel encoding parameters for the ROI voxels, in mask order (``np.argwhere(mask > 0)``).

    ``ncsnr_along_hierarchy``: the NSD-like noise ceilings, high in early voxels and low in late ones; otherwise
    one log-normal spread for all (the easy preset).
    """
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
        "w_lum": (luminance_weight * rng.standard_normal(p)).astype(np.float32),
        "w_con": np.abs(1.0 + 0.5 * rng.standard_normal(p)).astype(np.float32),
        "w_latent": rng.standard_normal((p, n_latent)).astype(np.float32),
        "ncsnr": _ncsnr(t, rng, ncsnr_along_hierarchy),
        "scale_psc": rng.uniform(0.8, 2.0, p).astype(np.float32),
        "baseline_psc": rng.normal(0.0, 1.0, p).astype(np.float32),
    }


def _ncsnr(t: np.ndarray, rng: np.random.Generator, along_hierarchy: bool) -> np.ndarray:
    """Each voxel's noise-ceiling SNR: log-normal around a median that is constant or falls with hierarchy ``t``."""
    if along_hierarchy:
        median = np.exp((1 - t) * np.log(NCSNR_EARLY) + t * np.log(NCSNR_LATE))
        log_sd = NCSNR_SCATTER
    else:
        median, log_sd = NCSNR_MEDIAN, NCSNR_LOG_SD
    return np.clip(np.exp(np.log(median) + log_sd * rng.standard_normal(len(t))), 0.05, 1.5).astype(np.float32)


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
