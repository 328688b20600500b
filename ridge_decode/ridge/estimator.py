"""``RidgeGCV``: the method of ``core`` as a scikit-learn regressor, arrays in and out, for use outside this package.

``fit`` is one call to ``core.fit`` (standardisation, kernel, eigendecomposition, GCV), so this and ``OneStageRidge``
share one copy of the maths, and ``validation`` checks both estimators' parameters and inputs. What it adds is
scikit-learn's contract: ``n_features_in_``, ``get_params`` / ``set_params``, and a fitted model of plain arrays that
pickles, ``joblib.dump``s and goes to worker processes.

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.model_selection import cross_val_score
    >>> model = make_pipeline(SimpleImputer(), RidgeGCV(alphas=np.logspace(-2, 6, 9)))
    >>> cross_val_score(model, X, Y, cv=5, n_jobs=2)            # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils.validation import validate_data

from ..errors import InputError
from . import core, validation
from .device import Device
from .model import DEFAULT_CHUNK_SIZE, SINGLE_GROUP


class RidgeGCV(RegressorMixin, BaseEstimator):
    """Kernel ridge regression with the regularisation chosen by generalised cross-validation (GCV).

    ``y`` may be (n,), (n, t) or (n, ...) (flattened to t targets, C order); predictions have its shape. Neither X
    nor y is ever written. Products are float32, means float64 from the values given; predictions are float64.

    As scikit-learn's linear models, ``X @ coef_.T + intercept_`` is the prediction (to float32 precision; for
    y of shape (n, ...), reshaped to it).

    Parameters
    ----------
    alphas : array-like of shape (A,), float or None, default=None
        Candidate regularisations, positive (None: 20 values log-spaced over 1e0..1e8). They apply to the
        standardised X (each feature centred and scaled to unit variance, ddof=1, over the training rows).
    alpha_per : {"target", "group"}, default="target"
        Each column of y its own alpha, or one alpha for all of y (the lowest GCV error summed over the targets).
    device : {"cpu", "cuda", "numpy", "torch", "torch_cuda"}, default="cpu"
        Where the maths runs: "cpu" is himalaya's numpy backend, "cuda" its torch_cuda; himalaya's backend names
        are accepted as they are ("torch" is torch on the CPU).
    chunk_size : int, default=4096
        Targets solved at a time: bounds the memory of the target loop.
    eigh_dtype : {"float32", "float64"}, default="float32"
        Precision of the kernel's eigendecomposition.
    backend : str or "deprecated", default="deprecated"
        Deprecated since 0.2.0, removed in 0.3.0: ``device=backend`` (``fit`` warns).

    Attributes
    ----------
    alphas_ : ndarray of shape (t,), float64
        The chosen alpha of each (flattened) target, as ``OneStageRidge.alphas_[group]``.
    alpha_ : float or ndarray of shape (t,)
        scikit-learn's name: a float when y is 1-D or ``alpha_per="group"``, else ``alphas_``.
    alpha_grid_ : ndarray of shape (A,), float64
        The candidate alphas.
    cv_scores_ : ndarray of shape (A, t), float32
        GCV mean squared error of each alpha for each target, in units of y squared (lower is better).
    y_mean_, y_std_ : ndarray of shape (t,), float64
        Training mean and standard deviation (ddof=0) of each target.
    X_mean_, X_scale_ : ndarray of shape (p,), float64
        The standardisation of the features.
    Xs_train_ : ndarray of shape (n, p), float32
        The standardised training features.
    basis_ : ndarray of shape (n, n), float32
        The kernel's eigenbasis.
    kernel_eigenvalues_ : ndarray of shape (n,), float32
        Its eigenvalues.
    coef_ : ndarray of shape (t, p), or (p,) for a 1-D y; X's dtype
        The weights on the features, in the units of the X given (the standardisation undone), as scikit-learn's
        ``coef_``. For y of shape (n, d1, d2, ...), t = d1 * d2 * ... (the targets flattened in C order): reshape
        ``coef_`` to (d1, d2, ..., p) for one map per target.
    intercept_ : ndarray of shape (t,), or float for a 1-D y; X's dtype
        The intercepts: ``predict(X)`` is ``X @ coef_.T + intercept_``.
    eigen_coef_ : ndarray of shape (n, t), float32
        The coefficients in the kernel's eigenbasis (what ``predict`` multiplies; ``coef_`` before 0.2.0).
    n_features_in_ : int
        Number of features seen in ``fit``.
    fit_warnings_ : list of str
        The fit's ``AlphaGridWarning`` messages, also issued as warnings.
    """

    def __init__(self, alphas=None, alpha_per: str = "target", device: str = "cpu",
                 chunk_size: int = DEFAULT_CHUNK_SIZE, eigh_dtype: str = "float32", backend="deprecated"):
        self.alphas = alphas
        self.alpha_per = alpha_per
        self.device = device
        self.chunk_size = chunk_size
        self.eigh_dtype = eigh_dtype
        self.backend = backend  # the name before 0.2.0: stored as given, translated (and warned) by fit

    def fit(self, X, y):
        """Fit on ``X`` (n, p) and ``y`` (n,), (n, t) or (n, ...); returns self."""
        params = validation.current_form(self.get_params(), "RidgeGCV")  # alpha_per="all", backend= warn
        alphas, alpha_per = validation.check_params(params), params["alpha_per"]
        if y is None:
            raise InputError("RidgeGCV requires y to be passed, but the target y is None")
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        X = validation.check_X(X, min_samples=validation.MIN_SAMPLES)
        y = check_array(y, ensure_2d=False, allow_nd=True, dtype="numeric", input_name="y")
        check_consistent_length(X, y)
        self._y_shape = y.shape[1:]
        Y = validation.check_targets({SINGLE_GROUP: y.reshape(len(y), -1)}, len(X))[SINGLE_GROUP]
        dev = Device(params["device"])
        fitted = core.fit(dev.b, dev.to_device(X, "voxels", X.dtype),
                          dev.to_device(Y, "targets", validation.compute_dtype(Y.dtype)),
                          dev.to_device(alphas, "alpha grid", np.float64), alpha_per, self.chunk_size,
                          self.eigh_dtype)
        host = {k: dev.to_host(v, k) for k, v in fitted.items()}
        self.X_mean_, self.X_scale_, self.Xs_train_ = host["X_mean"], host["X_scale"], host["Xs"]
        self.basis_, self.kernel_eigenvalues_, self.eigen_coef_ = host["basis"], host["s"], host["coef"]
        self.alpha_grid_, self.alphas_, self.cv_scores_ = alphas, host["alphas"], host["cv_scores"]
        self.y_mean_, self.y_std_ = host["y_mean"], host["y_std"]
        single = y.ndim == 1 or alpha_per == "group"
        self.alpha_ = float(self.alphas_[0]) if single else self.alphas_
        self.coef_, self.intercept_ = self._primal(X.dtype, y.ndim == 1)
        found = [validation.warn_grid_edges({"y": self.alphas_}, alphas, {"y": self.y_std_}),
                 validation.warn_precision({"y": self.alphas_}, float(self.kernel_eigenvalues_.max()),
                                           self.eigh_dtype)]
        self.fit_warnings_ = [w for w in found if w]
        return self

    def _primal(self, dtype, one_target: bool):
        """(``coef_`` (t, p), ``intercept_`` (t,)) in X's units and ``dtype``, from the fit's eigenbasis
        coefficients: the standardised weights ``Xs^T Q B`` (p, t), divided by each feature's scale."""
        dual = self.basis_.astype(np.float64) @ self.eigen_coef_.astype(np.float64)  # (n, t)
        coef = (self.Xs_train_.T.astype(np.float64) @ dual).T / self.X_scale_  # (t, p)
        intercept = self.y_mean_ - coef @ self.X_mean_
        if one_target:
            return coef[0].astype(dtype), float(intercept[0])
        return coef.astype(dtype), intercept.astype(dtype)

    @property
    def cv_values_(self) -> np.ndarray:
        """Deprecated since 0.2.0 (removed in 0.3.0): ``cv_scores_``."""
        validation.deprecated("RidgeGCV.cv_values_", "cv_scores_")
        return self.cv_scores_

    def predict(self, X) -> np.ndarray:
        """Predictions float64 of y's shape, (n, ...), for ``X`` (n, p)."""
        if not hasattr(self, "eigen_coef_"):
            from ..errors import NotFittedError  # made on first use (scikit-learn's is its base)

            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate "
                                 "arguments before using this estimator.")
        X = validation.check_X(validate_data(self, X, reset=False, dtype=[np.float64, np.float32]))
        dev = Device(validation.device_of(self))
        b = dev.b
        Xs = core.apply_standardization(b, dev.to_device(X, "test voxels", X.dtype),
                                        dev.to_device(self.X_mean_, "voxel means", np.float64),
                                        dev.to_device(self.X_scale_, "voxel scales", np.float64))
        M = core.cross_kernel(b, core.cast(b, Xs, "float64"),
                             dev.to_device(self.Xs_train_, "standardised training voxels", np.float64),
                             dev.to_device(self.basis_, "basis", np.float64))
        P = core.predict(b, M, dev.to_device(self.eigen_coef_, "eigenbasis coefficients", np.float64),
                         dev.to_device(self.y_mean_, "target means", np.float64))
        return dev.to_host(P, "predictions").reshape((len(X),) + self._y_shape)

    def score(self, X, y, sample_weight=None) -> float:
        """R^2 of the predictions, averaged over every (flattened) target, as ``RegressorMixin.score``."""
        # heavy (sklearn): imported where used
        from sklearn.metrics import r2_score

        pred = self.predict(X)
        y = np.asarray(y)
        return float(r2_score(y.reshape(len(y), -1) if y.ndim > 2 else y,
                              pred.reshape(len(pred), -1) if pred.ndim > 2 else pred, sample_weight=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags
