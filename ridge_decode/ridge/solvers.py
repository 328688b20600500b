"""The array-level solvers, registered by name as himalaya's ``KERNEL_RIDGE_CV_SOLVERS`` are: kernel and centred
targets in (on the device), coefficients, chosen alphas and scores out (on the device).

``OneStageRidge`` calls them one chunk of targets at a time, ``RidgeGCV`` on its whole target matrix: one copy of
the maths, which lives in ``solve`` (generalised cross-validation in the kernel's eigenbasis). Also here, because
both estimators need them: the standardisation of the voxels and the statistics and centring of a chunk of targets,
all on the device.

| name | used for | what a chunk costs |
|---|---|---|
| ``gcv`` (``EigenGCV``) | alphas chosen per target or per group | one projection ``Q^T Yc`` and an A x n x c product |
| ``fixed`` (``Cholesky``) | one given alpha per group (Brain-Diffuser's baseline) | one triangular solve |
| ``himalaya`` (``HimalayaCV``) | himalaya's ``KernelRidgeCV`` on the same kernel, K-fold | himalaya's own |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from . import solve
from .device import Device

STANDARDIZE_BLOCK = 2048  # voxels standardised at a time in float64: bounded memory, exact centring


@dataclass
class ChunkResult:
    """One chunk's results, on the device: targets' mean and std (c,) float64 (None in a solve pass that reuses
    them), GCV or CV scores (A, c) float32 (None with a fixed alpha), the alpha of each target (c,) float64, the
    coefficients (n, c) float32 (in the kernel's eigenbasis for ``gcv``, dual otherwise) and, in the score pass of
    an alpha per group, the projection ``Z = Q^T Yc`` kept for the solve pass."""

    coef: object = None
    alphas: object = None
    scores: object = None
    mean: object = None
    std: object = None
    projection: object = None


# ------------------------------------------------------------------------------------------ the inputs
def standardize(dev: Device, X: np.ndarray):
    """The voxels on the device, standardised with their own statistics: (Xs (n, p) float32 on the device, mean (p,)
    and scale (p,) float64 on the device; scale with ddof 1, 1 for a constant voxel).

    Computed in float64 a block of voxels at a time, so that finite inputs never overflow (float32 betas near 3e38
    would in float32); the voxels cross to the device once.
    """
    n, p = X.shape
    Xd = dev.to_device(X, "voxels")
    Xs = dev.empty((n, p), "float32")
    mean, scale = dev.empty((p,), "float64"), dev.empty((p,), "float64")
    for a in range(0, p, STANDARDIZE_BLOCK):
        z = min(a + STANDARDIZE_BLOCK, p)
        x = dev.cast(Xd[:, a:z], "float64")
        m = dev.column_sums(x) / n
        x -= m
        sd = dev.b.sqrt(dev.column_squares(x) / max(n - 1, 1))
        sd[sd == 0] = 1.0  # a constant voxel carries no information; it is kept, centred to 0
        x /= sd
        mean[a:z], scale[a:z], Xs[:, a:z] = m, sd, x
    del Xd
    return Xs, mean, scale


def apply_standardization(dev: Device, X, mean, scale):
    """``(X - mean) / scale`` on the device, float32, a block of voxels at a time in float64: the training
    statistics applied to other voxels, with the same operations, and so the same bits, as ``standardize``."""
    n, p = X.shape
    out = dev.empty((n, p), "float32")
    for a in range(0, p, STANDARDIZE_BLOCK):
        z = min(a + STANDARDIZE_BLOCK, p)
        x = dev.cast(X[:, a:z], "float64")
        x -= mean[a:z]
        x /= scale[a:z]
        out[:, a:z] = x
    return out


def center(dev: Device, Yk, group: str, start: int):
    """Centre a chunk of targets (n, c) float32 on the device, in place: (Yc, mean (c,), std (c,) with ddof 0,
    float64). Non-finite targets are an ``InputError`` naming the group and the columns."""
    finite = dev.all_columns(dev.isfinite(Yk))
    if not bool(finite.all()):
        bad = start + np.flatnonzero(~dev.to_host(finite, "non-finite target columns"))
        raise InputError(f"target group {group!r} has NaN or infinite values in flattened targets "
                         f"{bad[:5].tolist()}{' ...' if len(bad) > 5 else ''}")
    n = Yk.shape[0]
    mean = dev.column_sums(Yk) / n
    Yk -= dev.cast(mean, "float32")  # in place: no second n x chunk array
    std = dev.b.sqrt(dev.column_squares(Yk) / n)
    return Yk, mean, std


def test_kernel(dev: Device, X, X_train, mean, scale, basis=None, dtype: str = "float32"):
    """``Xs_test Xs_train^T`` (n_test, n), times the eigenbasis when given, on the device in ``dtype``: what every
    prediction multiplies by its coefficients. ``X``, ``X_train`` (host, raw), ``mean``, ``scale`` and ``basis``
    (host) cross in once."""
    m, sd = dev.to_device(mean, "voxel means", "float64"), dev.to_device(scale, "voxel scales", "float64")
    Xs = dev.cast(apply_standardization(dev, dev.to_device(X, "test voxels"), m, sd), dtype)
    Xt = dev.cast(apply_standardization(dev, dev.to_device(X_train, "training voxels"), m, sd), dtype)
    M = dev.b.matmul(Xs, dev.b.transpose(Xt))
    del Xs, Xt
    if basis is not None:
        M = dev.b.matmul(M, dev.to_device(basis, "basis", dtype))
    return M


def linear_kernel(dev: Device, Xs):
    """``Xs Xs^T`` (n, n) on the device."""
    return solve.linear_kernel(dev.b, Xs)


def eigen_kernel(dev: Device, K, dtype: str = "float32"):
    """Eigenvalues ``s`` (n,) clipped at 0 and eigenvectors ``Q`` (n, n) of the kernel, float32, on the device.

    ``dtype`` is the precision of the decomposition itself. float32 is the default: the decomposition is the
    single largest cost at NSD scale, and its absolute eigenvalue error (~1e-7 * s_max) only matters for alphas
    below that. Tiny negative eigenvalues of a rank-deficient kernel are round-off and are clipped to 0. Should
    a float32 decomposition fail (it can on GPUs for ill-conditioned kernels), it is redone in float64.
    """
    try:
        s, Q = dev.eigh(dev.cast(K, dtype))
    except Exception:  # noqa: BLE001 - LAPACK/cuSOLVER convergence failures have backend-specific types
        if dtype == "float64":
            raise
        s, Q = dev.eigh(dev.cast(K, "float64"))
    s = dev.b.clip(s, 0, None)
    return dev.cast(s, "float32"), dev.cast(Q, "float32")


# ------------------------------------------------------------------------------------------ the solvers
class EigenGCV:
    """Alphas chosen by GCV in the kernel's eigenbasis (``s``, ``Q`` on the device); coefficients in that basis."""

    name = "gcv"

    def __init__(self, dev: Device, s, Q, alphas: np.ndarray):
        self.dev, self.s, self.Q = dev, s, Q
        self.alphas = np.asarray(alphas, dtype=np.float64)
        self.alphas_d = dev.to_device(self.alphas, "alpha grid", "float64")
        self.alphas_f = dev.cast(self.alphas_d, "float32")
        self.dof_weight = solve.intercept_dof_weight(dev.b, Q)

    def project(self, Yc):
        """``Z = Q^T Yc`` (n, c)."""
        return self.dev.b.matmul(self.dev.b.transpose(self.Q), Yc)

    def scores(self, Z):
        """GCV scores (A, c) of projected targets ``Z``."""
        return solve.gcv_scores(self.dev.b, self.s, Z, self.alphas_f, self.dof_weight)

    def coef(self, Z, alpha_per_column):
        """Eigenbasis coefficients (n, c) of ``Z`` (overwritten) with one alpha per column (c,) float64."""
        return solve.eigen_coef(self.dev.b, self.s, Z, self.dev.cast(alpha_per_column, "float32"))

    def solve(self, Yc) -> ChunkResult:
        """The alpha of each column by GCV, its coefficients and every alpha's score."""
        Z = self.project(Yc)
        scores = self.scores(Z)
        chosen = self.alphas_d[self.dev.argmin(scores, 0)]
        return ChunkResult(coef=self.coef(Z, chosen), alphas=chosen, scores=scores)

    def score(self, Yc) -> ChunkResult:
        """The first pass of an alpha per group: every alpha's score, and the projection for the second pass."""
        Z = self.project(Yc)
        return ChunkResult(scores=self.scores(Z), projection=Z)

    def solve_with(self, Z, alpha: float) -> ChunkResult:
        """The second pass: coefficients of the projection ``Z`` with the group's one alpha."""
        alphas = self.dev.full(Z.shape[1], alpha)
        return ChunkResult(coef=self.coef(Z, alphas), alphas=alphas)


class Cholesky:
    """Fixed alphas: one Cholesky factorisation of ``K + alpha I`` per distinct alpha, reused by every chunk.

    One factorisation costs n^3/3 flops in BLAS3 (about 2 s at n = 8859 on 2 cores), far less than an
    eigendecomposition, which is only needed to choose alphas. It is redone in float64 when float32 is not
    positive definite to working precision (a small alpha on a rank-deficient kernel).
    """

    name = "fixed"

    def __init__(self, dev: Device, K):
        self.dev, self.K, self.factors = dev, K, {}

    def _factor(self, alpha: float):
        if alpha not in self.factors:
            for dtype in ("float32", "float64"):
                A = self.dev.cast(self.K, dtype) + alpha * self.dev.identity(self.K.shape[0], dtype)
                factor = self.dev.cholesky(A)
                if factor is not None:
                    self.factors[alpha] = factor
                    break
            else:
                raise np.linalg.LinAlgError(f"K + {alpha:g} I is not positive definite even in float64")
        return self.factors[alpha]

    def solve_fixed(self, Yc, alpha: float) -> ChunkResult:
        """Dual coefficients ``(K + alpha I)^-1 Yc`` (n, c) float32."""
        factor = self._factor(alpha)
        coef = self.dev.cast(self.dev.cholesky_solve(factor, Yc), "float32")
        return ChunkResult(coef=coef, alphas=self.dev.full(Yc.shape[1], alpha))


class HimalayaCV:
    """himalaya's ``KernelRidgeCV`` on the precomputed kernel, one chunk of centred targets at a time (its code
    reads himalaya's global backend: it is set to this device's for the call, and put back)."""

    name = "himalaya"

    def __init__(self, dev: Device, K, alphas: np.ndarray, cv: int, params: dict | None):
        self.dev, self.K, self.alphas, self.cv, self.params = dev, K, np.asarray(alphas), cv, dict(params or {})
        self.alphas_d = dev.to_device(self.alphas, "alpha grid", "float64")
        self.log_alphas = dev.b.log(self.alphas_d)

    def solve(self, Yc) -> ChunkResult:
        """Dual coefficients (n, c), the alpha chosen per column (c,) and the CV mean squared errors (A, c)."""
        from himalaya.kernel_ridge import KernelRidgeCV

        with self.dev.himalaya_global():
            model = KernelRidgeCV(alphas=self.alphas, kernel="precomputed", cv=self.cv, fit_intercept=False,
                                  solver_params={"local_alpha": True, **self.params}).fit(self.K, Yc)
        best = self.dev.cast(model.best_alphas_, "float64")  # in float32: snapped to the grid below
        nearest = self.dev.argmin(self.dev.b.abs(self.log_alphas[:, None] - self.dev.b.log(best)[None]), 0)
        return ChunkResult(coef=self.dev.cast(model.dual_coef_, "float32"), alphas=self.alphas_d[nearest],
                           scores=-self.dev.cast(model.cv_scores_, "float32"))  # its score is the negative MSE


SOLVERS = {cls.name: cls for cls in (EigenGCV, Cholesky, HimalayaCV)}
