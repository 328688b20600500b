"""``RidgeGCV``: the engine as a scikit-learn regressor, arrays in and out, for use outside this package.

It calls the same array-level solver as ``OneStageRidge`` (``solvers``: the standardisation, the kernel, its
eigendecomposition and GCV), so there is one copy of the maths; it holds plain arrays instead of a store. What it
adds is scikit-learn's contract: input validation (``validate_data``: any numeric dtype, 1-D or 2-D ``y``),
``n_features_in_``, ``get_params`` / ``set_params``, and a fitted model that pickles, ``joblib.dump``s and goes to
worker processes.

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.model_selection import cross_val_score
    >>> model = make_pipeline(SimpleImputer(), RidgeGCV(alphas=np.logspace(-2, 6, 9)))
    >>> cross_val_score(model, X, Y, cv=5, n_jobs=2)            # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from . import solvers
from .device import Device
from .model import DEFAULT_CHUNK_SIZE, resolve_alphas

ALPHA_PER = ("target", "all")


class RidgeGCV(RegressorMixin, BaseEstimator):
    """Kernel ridge regression with the regularisation chosen by generalised cross-validation (GCV).

    Parameters
    ----------
    alphas : candidate regularisations, 1-D positive (None: 20 values log-spaced over 1e0..1e8). They apply
        to the standardised X (each feature centred and scaled to unit variance, ddof=1, over the training rows).
    alpha_per : "target" (each column of y its own alpha) or "all" (one alpha for all, the lowest GCV error
        summed over the targets).
    backend : himalaya backend, "numpy", "torch" or "torch_cuda".
    chunk_size : targets solved at a time; bounds the memory of the target loop.

    Attributes
    ----------
    alpha_ : (t,) chosen alpha per target (a float when y was 1-D).
    cv_values_ : (n_alphas, t) GCV mean squared error of each alpha for each target, in units of y squared.
    n_features_in_ : number of features seen in ``fit``.
    X_train_, X_mean_, X_scale_ : the training features (float32) and their standardisation (float64).
    basis_, coef_, y_mean_ : the kernel's eigenbasis (n, n), the coefficients in it (n, t) and the targets' means.

    The fit computes in float32 (as the engine does); predictions are float64 products with the float32 model,
    so each row's prediction does not depend on the other rows. They have the shape of y: (n,) or (n, t).
    """

    def __init__(self, alphas=None, alpha_per: str = "target", backend: str = "numpy",
                 chunk_size: int = DEFAULT_CHUNK_SIZE):
        self.alphas = alphas
        self.alpha_per = alpha_per
        self.backend = backend
        self.chunk_size = chunk_size

    def fit(self, X, y):
        """Fit on ``X`` (n, p) and ``y`` (n,) or (n, t); returns self."""
        if self.alpha_per not in ALPHA_PER:
            raise ValueError(f"alpha_per must be one of {ALPHA_PER}; got {self.alpha_per!r}")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float32, np.float64])
        self._y_1d = y.ndim == 1
        Y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        alphas = resolve_alphas(self.alphas)
        if alphas.size == 0 or not np.isfinite(alphas).all() or (alphas <= 0).any():
            raise ValueError(f"alphas must be finite and positive; got {alphas}")
        dev = Device(self.backend)
        X32 = np.ascontiguousarray(X, dtype=np.float32)
        Xs, mean, scale = solvers.standardize(dev, X32)
        s, Q = solvers.eigen_kernel(dev, solvers.linear_kernel(dev, Xs))
        gcv = solvers.EigenGCV(dev, s, Q, alphas)
        parts = self._solve(dev, gcv, Y, alphas)
        self.X_train_, self.X_mean_ = X32.copy(), dev.to_host(mean, "voxel means")
        self.X_scale_, self.basis_ = dev.to_host(scale, "voxel scales"), dev.to_host(Q, "basis")
        self.coef_, self.y_mean_, self.cv_values_, chosen = parts
        self.alpha_ = float(chosen[0]) if self._y_1d else chosen
        return self

    def _solve(self, dev, gcv, Y, alphas):
        """(coefficients, target means, GCV scores, alphas) on the host, a chunk of targets at a time."""
        size, t = int(self.chunk_size), Y.shape[1]
        pieces = []
        for a in range(0, t, size):
            Yc, mean, _ = solvers.center(dev, dev.to_device(Y[:, a : a + size], "target chunk"), "y", a)
            pieces.append((mean, gcv.score(Yc) if self.alpha_per == "all" else gcv.solve(Yc)))
        if self.alpha_per == "all":  # the lowest GCV error summed over every target, as OneStageRidge sums it
            scores = np.concatenate([dev.to_host(r.scores, "chunk cv_scores") for _, r in pieces], 1)
            alpha = float(alphas[int(np.argmin(scores.astype(np.float64).sum(1)))])
            solved = []
            for m, r in pieces:
                out = gcv.solve_with(r.projection, alpha)
                out.scores = r.scores
                solved.append((m, out))
            pieces = solved
        host = [{k: dev.to_host(getattr(r, k), "chunk " + k) for k in ("coef", "scores", "alphas")} | {
            "mean": dev.to_host(m, "chunk y_mean")} for m, r in pieces]
        return (np.concatenate([h["coef"] for h in host], 1), np.concatenate([h["mean"] for h in host]),
                np.concatenate([h["scores"] for h in host], 1), np.concatenate([h["alphas"] for h in host]))

    def predict(self, X) -> np.ndarray:
        """Predictions (n,) or (n, t) float64 for ``X`` (n, p)."""
        check_is_fitted(self, "coef_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        dev = Device(self.backend)
        M = solvers.test_kernel(dev, np.asarray(X, np.float32), self.X_train_, self.X_mean_, self.X_scale_,
                                self.basis_, "float64")
        P = dev.b.matmul(M, dev.to_device(self.coef_, "coef", "float64"))
        P = dev.to_host(P, "predictions") + self.y_mean_
        return P[:, 0] if self._y_1d else P

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
