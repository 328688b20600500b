"""One-stage kernel ridge: voxels -> every target group in one solve, alpha chosen per target by GCV.

With n training images and p voxels (n < p), the linear kernel ``K = Xs Xs^T`` (n x n) is computed once for
all targets and diagonalised once, ``K = Q diag(s) Q^T``. For targets ``Y`` (n x t, centred) and ``Z = Q^T Y``,
generalised cross-validation (Golub, Heath & Wahba 1979) in the eigenbasis is, with ``f_j = alpha/(s_j+alpha)``:

    GCV(alpha) = n * sum_j f_j^2 z_j^2 / (sum_j w_j f_j)^2

where ``w_j = 1 - (q_j . 1/sqrt(n))^2`` removes the intercept's direction from the residual degrees of freedom

which costs O(n t) per alpha instead of O(n^2 t) for exact leave-one-out. The dual coefficients for the chosen
alphas are ``C = Q diag(1/(s+alpha)) Z`` and predictions are ``Xs_test Xs^T C``.

This first version keeps every target in memory; chunked targets, resumable fits and the Brain-Diffuser
baseline come with the full engine. Computation goes through himalaya's backends (numpy, torch, torch_cuda).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from himalaya.backend import set_backend

DEFAULT_ALPHAS = np.logspace(0, 8, 20)


def gcv_scores(s, z, alphas, backend, dof_weight=None):
    """GCV error (n_alphas, t) from kernel eigenvalues ``s`` (n,) and projected targets ``z = Q^T y`` (n, t).

    ``dof_weight`` (n,) is ``1 - (q_j . 1/sqrt(n))^2``: the part of each eigenvector not spanned by the
    intercept. The intercept is fitted, so its direction is not a residual degree of freedom; counting it
    would let GCV -> 0 as alpha -> 0 whenever p >= n (the centred kernel always has that null direction).
    """
    n = s.shape[0]
    z2 = z * z
    w = backend.ones_like(s) if dof_weight is None else dof_weight
    out = []
    for alpha in alphas:
        f = alpha / (s + alpha)
        num = backend.matmul((f * f)[None, :], z2)[0]
        out.append(n * num / backend.sum(w * f) ** 2)
    return backend.stack(out)


class OneStageRidge:
    """Kernel ridge from voxels to several target groups, alpha per target (or per group) by GCV.

    Parameters
    ----------
    alphas : 1-D array of candidate regularisations (default 20 values, log-spaced over 1e0..1e8).
    alpha_per : "target" (one alpha per target column) or "group" (one alpha per target group).
    backend : himalaya backend name: "numpy", "torch" or "torch_cuda".

    Attributes (after ``fit``)
    --------------------------
    alphas_ : dict group -> (t,) chosen alpha per target.
    cv_scores_ : dict group -> (n_alphas, t) GCV mean squared error (lower is better).
    X_mean_, X_scale_ : (p,) training standardisation of the voxels (constant voxels get scale 1).
    target_shapes_ : dict group -> trailing shape of each target group.
    """

    def __init__(self, alphas=DEFAULT_ALPHAS, alpha_per: str = "target", backend: str = "numpy"):
        self.alphas = alphas
        self.alpha_per = alpha_per
        self.backend = backend

    def _check_X(self, X, name: str) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D (n_images, n_voxels); found shape {X.shape}")
        if not np.issubdtype(X.dtype, np.floating):
            raise TypeError(f"{name} must hold floats; found dtype {X.dtype}")
        if not np.isfinite(X).all():
            bad = np.flatnonzero(~np.isfinite(X).all(axis=0))
            raise ValueError(f"{name} has NaN or infinite values in {len(bad)} voxels (first: {bad[:5].tolist()})")
        return X.astype(np.float32, copy=False)

    def fit(self, X, targets: Mapping[str, np.ndarray]) -> OneStageRidge:
        """Fit on ``X`` (n, p) float and ``targets`` {group: (n, ...)}; returns self."""
        if self.alpha_per not in ("target", "group"):
            raise ValueError(f"alpha_per must be 'target' or 'group'; got {self.alpha_per!r}")
        alphas = np.asarray(self.alphas, dtype=np.float64).ravel()
        if alphas.size == 0 or (alphas <= 0).any():
            raise ValueError(f"alphas must be positive; got {alphas}")
        X = self._check_X(X, "X")
        if not targets:
            raise ValueError("targets is empty: give at least one group {name: array (n, ...)}")
        b = set_backend(self.backend, on_error="raise")
        self.X_mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale == 0] = 1.0  # a constant voxel carries no information; it is kept, centred to 0
        self.X_scale_ = scale
        Xs = b.asarray((X - self.X_mean_) / self.X_scale_)
        n = Xs.shape[0]
        K = b.matmul(Xs, b.transpose(Xs))
        s, Q = b.eigh(b.asarray(K, dtype=b.float64))
        s = b.clip(s, 0, None)  # tiny negative eigenvalues of a rank-deficient kernel are round-off
        Q = b.asarray(Q, dtype=b.float32)
        s32 = b.asarray(s, dtype=b.float32)
        dof_weight = 1.0 - b.sum(Q, 0) ** 2 / n  # (q_j . 1/sqrt(n))^2 is the intercept's share of q_j
        alphas_b = b.asarray(alphas, dtype=b.float32)

        self.alphas_, self.cv_scores_, self.target_shapes_, self.y_mean_ = {}, {}, {}, {}
        weights = {}
        for name, Y in targets.items():
            Y = np.asarray(Y)
            if Y.shape[0] != n:
                raise ValueError(f"target group {name!r} has {Y.shape[0]} rows; X has {n}")
            if Y.size == 0 or Y.ndim < 2:
                raise ValueError(f"target group {name!r} is empty or 1-D: expected (n, ...); found {Y.shape}")
            self.target_shapes_[name] = Y.shape[1:]
            Y = Y.reshape(n, -1).astype(np.float32)
            self.y_mean_[name] = Y.mean(axis=0)
            Z = b.matmul(b.transpose(Q), b.asarray(Y - self.y_mean_[name]))
            scores = gcv_scores(s32, Z, alphas_b, b, dof_weight)
            if self.alpha_per == "group":
                idx = np.full(scores.shape[1], int(np.argmin(b.to_numpy(b.sum(scores, 1)))))
            else:
                idx = np.argmin(b.to_numpy(scores), axis=0)
            C = b.zeros_like(Z)
            for k in np.unique(idx):
                cols = b.asarray(np.flatnonzero(idx == k))
                C[:, cols] = b.matmul(Q, Z[:, cols] / (s32 + alphas_b[int(k)])[:, None])
            weights[name] = b.to_numpy(b.matmul(b.transpose(Xs), C))
            self.alphas_[name] = alphas[idx]
            self.cv_scores_[name] = b.to_numpy(scores)
        self.coef_ = weights
        return self

    def predict(self, X) -> dict[str, np.ndarray]:
        """Predictions {group: (n_test, ...)} for ``X`` (n_test, p), trailing shapes restored."""
        if not hasattr(self, "coef_"):
            raise RuntimeError("this OneStageRidge is not fitted yet: call fit(X, targets) first")
        X = self._check_X(X, "X")
        if X.shape[1] != self.X_mean_.shape[0]:
            raise ValueError(f"X has {X.shape[1]} voxels; the model was fitted on {self.X_mean_.shape[0]}")
        Xs = (X - self.X_mean_) / self.X_scale_
        return {
            name: (Xs @ W + self.y_mean_[name]).reshape((len(X),) + self.target_shapes_[name])
            for name, W in self.coef_.items()
        }
