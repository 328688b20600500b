"""Brain maps: where in the brain the decoded information lies, one value per voxel, in the subject's own space.

Three kinds of map, each a (p,) array over a source's voxels:

- the **noise ceiling** (percent of a voxel's variance that is signal, from its ncsnr; ``sources.base.noise_ceiling``);
- an **encoding map** per feature family: how well the family's features predict each voxel, with the same ridge
  engine run the other way, from features to voxels. The value is the generalised cross-validation estimate of the
  out-of-sample R^2 of each voxel, ``1 - GCV / var``, so every image serves (no split is set aside);
- the decoder's **activation pattern** per feature family (Haufe et al. 2014, NeuroImage 87:96-110): the covariance of
  each voxel with the group's predicted targets, not the decoder's weights, which mix signal with the suppression of
  noise. Per voxel, the root mean square over the group's targets of that covariance (voxels standardised).

``family_share`` compares two encoding maps without the noise ceiling, which scales both: the share of a voxel's
explained variance that family ``a`` explains, ``a / (a + b)``. ``to_volume`` places a map in the grid of the voxels.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..ridge import AlphaGridWarning, OneStageRidge

R2_FLOOR = 1e-6  # an R^2 at or below zero explains nothing; it counts as this much in a share


def encoding_r2(features: np.ndarray, betas: np.ndarray, alphas=None) -> np.ndarray:
    """(p,) out-of-sample R^2 of each voxel predicted from ``features`` (n, ...) by the ridge engine (alpha per voxel
    by GCV), estimated by GCV from the ``betas`` (n, p) of the same images."""
    X = np.asarray(features).reshape(len(features), -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AlphaGridWarning)  # a voxel the features do not explain picks the top alpha
        model = OneStageRidge(alphas=alphas).fit(X, {"voxels": np.asarray(betas)})
    gcv = model.cv_scores_["voxels"].astype(np.float64).min(0)
    var = model.y_std_["voxels"] ** 2
    return np.divide(var - gcv, var, out=np.zeros_like(var), where=var > 0)


def family_share(r2_a: np.ndarray, r2_b: np.ndarray) -> np.ndarray:
    """(p,) in [0, 1]: the share of each voxel's explained variance that family a explains, ``a / (a + b)``, each
    R^2 floored at ``R2_FLOOR``: 1 where only a explains the voxel, 0.5 where both do equally."""
    a, b = np.clip(r2_a, R2_FLOOR, None), np.clip(r2_b, R2_FLOOR, None)
    return a / (a + b)


def activation_pattern(betas: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """(p,) the RMS over targets of the covariance of each standardised voxel of ``betas`` (n, p) with each
    predicted target of ``predicted`` (n, ...): the decoder's forward model (Haufe et al. 2014), one value a voxel."""
    X = np.asarray(betas, np.float64)
    sd = X.std(0)
    Xs = np.divide(X - X.mean(0), sd, out=np.zeros_like(X), where=sd > 0)
    Y = np.asarray(predicted, np.float64).reshape(len(X), -1)
    A = Xs.T @ (Y - Y.mean(0)) / max(len(X) - 1, 1)  # (p, t): cov(voxel, predicted target)
    return np.sqrt((A * A).mean(1))


def to_volume(values: np.ndarray, voxel_xyz: np.ndarray, shape) -> np.ndarray:
    """A (X, Y, Z) float32 volume holding ``values`` (p,) at ``voxel_xyz`` (p, 3), NaN elsewhere."""
    volume = np.full(tuple(shape)[:3], np.nan, np.float32)
    xyz = np.asarray(voxel_xyz, np.int64)
    volume[xyz[:, 0], xyz[:, 1], xyz[:, 2]] = values
    return volume
