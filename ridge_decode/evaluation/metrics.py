"""Scores of predictions and reconstructions. Fractions in [0, 1]; reports print percentages.

Every function takes the prediction (or reconstruction) first and the truth second: ``f(pred, true)``."""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def columnwise_r(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r of each column of ``pred`` (n, t) with ``true`` (n, t); constant columns give NaN."""
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
    """PixCorr: ``pixcorr_per_image`` averaged over images."""
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
    """Two-way identification: ``identification_per_image`` averaged over predictions. Chance is 0.5."""
    return float(np.mean(identification_per_image(pred_feats, true_feats)))
