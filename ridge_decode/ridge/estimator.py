"""``RidgeGCV``: the engine as a scikit-learn regressor, arrays in and out, for use outside this package.

It is ``OneStageRidge`` with one target group, in memory: the same standardisation, kernel, eigendecomposition and
GCV (``solve``), so there is one copy of the maths. What it adds is scikit-learn's contract: input validation
(``validate_data``: any numeric dtype, 1-D or 2-D ``y``), ``n_features_in_``, ``get_params`` / ``set_params``,
and a fitted model that is plain arrays (it pickles, ``joblib.dump``s and goes to worker processes).

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.model_selection import cross_val_score
    >>> model = make_pipeline(SimpleImputer(), RidgeGCV(alphas=np.logspace(-2, 6, 9)))
    >>> cross_val_score(model, X, Y, cv=5, n_jobs=2)            # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .model import DEFAULT_ALPHAS, DEFAULT_CHUNK_SIZE, OneStageRidge

GROUP = "y"
ALPHA_PER = {"target": "target", "all": "group"}  # RidgeGCV's names -> OneStageRidge's


class RidgeGCV(RegressorMixin, BaseEstimator):
    """Kernel ridge regression with the regularisation chosen by generalized cross-validation (leave-one-out).

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
    model_ : the fitted in-memory ``OneStageRidge`` (one group), which ``predict`` uses.

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
            raise ValueError(f"alpha_per must be one of {sorted(ALPHA_PER)}; got {self.alpha_per!r}")
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=[np.float32, np.float64])
        self._y_1d = y.ndim == 1
        Y = np.asarray(y, dtype=np.float32).reshape(len(y), -1)
        alphas = DEFAULT_ALPHAS if self.alphas is None else self.alphas
        self.model_ = OneStageRidge(alphas=alphas, alpha_per=ALPHA_PER[self.alpha_per], backend=self.backend,
                                    chunk_size=self.chunk_size).fit(X, {GROUP: Y})
        alphas = self.model_.alphas_[GROUP]
        self.alpha_ = float(alphas[0]) if self._y_1d else alphas
        self.cv_values_ = self.model_.cv_scores_[GROUP]
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions (n,) or (n, t) float64 for ``X`` (n, p)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, reset=False, dtype=[np.float32, np.float64])
        P = self.model_.predict(X, dtype="float64")[GROUP]
        return P[:, 0] if self._y_1d else P

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
