"""Scores of predictions and reconstructions. Fractions in [0, 1]; reports print percentages.

Every function takes the prediction (or reconstruction) first and the truth second: ``f(pred, true)``."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def columnwise_r(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``pred`` with the same column of ``true``: held-out r per target.

    Parameters
    ----------
    pred : array-like of shape (n, t) or (n, ...)
        Predictions: n samples (images) of t targets, any numeric dtype, in the targets' units (r does not depend
        on them). Trailing axes are flattened into targets.
    true : array-like of the same shape as ``pred``
        The measured values.

    Returns
    -------
    r : ndarray of shape (t,), float64
        Pearson r per target, in [-1, 1]; NaN where either column is constant (r is undefined there, not 0).

    Examples
    --------
    >>> import numpy as np
    >>> from ridge_decode import columnwise_r
    >>> columnwise_r(np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]]), np.array([[2.0, 1.0], [4.0, 2.0], [7.0, 3.0]]))
    array([0.99339927,        nan])
    """
    pred = np.asarray(pred, np.float64).reshape(len(pred), -1)
    true = np.asarray(true, np.float64).reshape(len(true), -1)
    pc, tc = pred - pred.mean(0), true - true.mean(0)
    denom = np.sqrt((pc**2).sum(0) * (tc**2).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pc * tc).sum(0) / denom


def pixcorr_per_image(recon: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r between each flattened reconstruction and its stimulus (n,); images (n, ...) of the same size,
    in any units (r does not depend on them)."""
    n = len(recon)
    return columnwise_r(np.asarray(recon).reshape(n, -1).T, np.asarray(true).reshape(len(true), -1).T)


def pixcorr(recon: np.ndarray, true: np.ndarray) -> float:
    """PixCorr: the Pearson r between each reconstruction's flattened pixels and its stimulus's, averaged over
    images.

    Parameters
    ----------
    recon : array-like of shape (n, H, W, C) or (n, ...)
        The reconstructions, in any units (uint8 0-255 or floats in [0, 1]: r does not depend on them).
    true : array-like of the same size per image
        The seen stimuli, in the same order. For the standard NSD PixCorr, both at the stimulus size (425 x 425
        RGB); at another size (e.g. 32 x 32 thumbnails) the score differs and should be named so.

    Returns
    -------
    float
        The mean over images of the per-image r, in [-1, 1]; images whose r is undefined (a constant image) are
        left out of the mean (``nanmean``); NaN if every image's is.
    """
    return float(np.nanmean(pixcorr_per_image(recon, true)))


def identification_per_image(pred_feats: np.ndarray, true_feats: np.ndarray) -> np.ndarray:
    """For each prediction j (n, ...), the fraction of distractors i != j with
    corr(true_i, pred_j) < corr(true_j, pred_j) (n,). One correlation matrix, no loop.
    """
    t = np.asarray(true_feats, np.float64).reshape(len(true_feats), -1)
    r = np.asarray(pred_feats, np.float64).reshape(len(pred_feats), -1)
    n = len(t)
    if n < 2 or len(r) != n:
        raise InputError(f"need >= 2 paired rows; got {len(t)} true and {len(r)} reconstructions")
    t = (t - t.mean(1, keepdims=True)) / t.std(1, keepdims=True)
    r = (r - r.mean(1, keepdims=True)) / r.std(1, keepdims=True)
    corr = t @ r.T / t.shape[1]  # corr[i, j] = corr(true_i, recon_j)
    return (corr < np.diag(corr)[None, :]).sum(axis=0) / (n - 1)


def two_way_identification(pred_feats: np.ndarray, true_feats: np.ndarray) -> float:
    """Two-way identification: for each prediction, the fraction of the other samples whose true features correlate
    less with it than its own do, averaged over predictions.

    Parameters
    ----------
    pred_feats : array-like of shape (n, d) or (n, ...)
        Features of the n predictions or reconstructions (pixels, or a network's features), any units; trailing
        axes are flattened. n >= 2.
    true_feats : array-like of the same shape
        Features of the n true stimuli, in the same order.

    Returns
    -------
    float
        The fraction in [0, 1]: 0.5 is chance, 1 perfect.

    Raises
    ------
    ValueError
        Fewer than 2 rows, or a different number of rows in the two arrays.
    """
    return float(np.mean(identification_per_image(pred_feats, true_feats)))
