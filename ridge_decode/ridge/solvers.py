"""The runner's solvers: what one chunk of centred targets becomes, by name (as himalaya's
``KERNEL_RIDGE_CV_SOLVERS``). Each holds what its chunks share (the eigenbasis, Cholesky factors, himalaya's
settings) on the device and calls the maths in ``core``; ``OneStageRidge``'s runner calls them chunk by chunk.

| name | used for | what a chunk costs |
|---|---|---|
| ``gcv`` (``EigenGCV``) | alphas chosen per target or per group | one projection ``Q^T Yc`` and an A x n x c product |
| ``fixed`` (``Cholesky``) | one given alpha per group (Brain-Diffuser's baseline) | one triangular solve |
| ``himalaya`` (``HimalayaCV``) | himalaya's ``KernelRidgeCV`` on the same kernel, K-fold | himalaya's own |
"""

from __future__ import annotations

from dataclasses import dataclass

from . import core
from .device import Device

DEFAULT_CV = 5  # folds of the "himalaya" solver


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


class EigenGCV:
    """Alphas chosen by GCV in the kernel's eigenbasis (``s``, ``Q`` on the device); coefficients in that basis."""

    name = "gcv"

    def __init__(self, dev: Device, s, Q, alphas_d):
        self.dev, self.b, self.s, self.Q, self.alphas = dev, dev.b, s, Q, alphas_d
        self.grid = core.cast(dev.b, alphas_d, "float32")
        self.dof_weight = core.intercept_dof_weight(dev.b, Q)

    def project(self, Yc):
        return core.project(self.b, self.Q, Yc)

    def solve(self, Yc) -> ChunkResult:
        """The alpha of each column by GCV, its coefficients and every alpha's score."""
        coef, chosen, scores = core.gcv_solve(self.b, self.s, self.Q, Yc, self.grid, self.alphas, self.dof_weight)
        return ChunkResult(coef=coef, alphas=chosen, scores=scores)

    def score(self, Yc) -> ChunkResult:
        """The first pass of an alpha per group: every alpha's score, and the projection for the second pass."""
        Z = core.project(self.b, self.Q, Yc)
        return ChunkResult(scores=core.gcv_scores(self.b, self.s, Z, self.grid, self.dof_weight), projection=Z)

    def solve_with(self, Z, alpha: float) -> ChunkResult:
        """The second pass: coefficients of the projection ``Z`` with the group's one alpha."""
        alphas = self.dev.full(Z.shape[1], alpha)
        return ChunkResult(coef=core.eigen_coef(self.b, self.s, Z, alphas), alphas=alphas)


class Cholesky:
    """Fixed alphas: one Cholesky factorisation of ``K + alpha I`` per distinct alpha, reused by every chunk (n^3/3
    flops, far less than the eigendecomposition that choosing alphas needs)."""

    name = "fixed"

    def __init__(self, dev: Device, K):
        self.dev, self.K, self.factors = dev, K, {}

    def solve_fixed(self, Yc, alpha: float) -> ChunkResult:
        """Dual coefficients ``(K + alpha I)^-1 Yc`` (n, c) float32."""
        if alpha not in self.factors:
            self.factors[alpha] = core.cholesky_factor(self.dev.b, self.K, alpha)
        coef = core.cholesky_coef(self.dev.b, self.factors[alpha], Yc)
        return ChunkResult(coef=coef, alphas=self.dev.full(Yc.shape[1], alpha))


class HimalayaCV:
    """himalaya's ``KernelRidgeCV`` on the precomputed kernel, one chunk of centred targets at a time (its code
    reads himalaya's global backend: it is set to this device's for the call, and put back)."""

    name = "himalaya"

    def __init__(self, dev: Device, K, alphas, alphas_d, params: dict | None):
        params = dict(params or {})
        self.dev, self.K, self.alphas, self.cv = dev, K, alphas, int(params.pop("cv", DEFAULT_CV))
        self.params = params
        self.alphas_d = alphas_d
        self.log_alphas = dev.b.log(alphas_d)

    def solve(self, Yc) -> ChunkResult:
        """Dual coefficients (n, c), the alpha chosen per column (c,) and the CV mean squared errors (A, c)."""
        # heavy (himalaya): imported where used
        from himalaya.kernel_ridge import KernelRidgeCV

        with self.dev.himalaya_global():
            model = KernelRidgeCV(alphas=self.alphas, kernel="precomputed", cv=self.cv, fit_intercept=False,
                                  solver_params={"local_alpha": True, **self.params}).fit(self.K, Yc)
        b = self.dev.b
        best = core.cast(b, model.best_alphas_, "float64")  # in float32: snapped to the grid below
        nearest = b.abs(self.log_alphas[:, None] - b.log(best)[None]).argmin(0)
        return ChunkResult(coef=core.cast(b, model.dual_coef_, "float32"), alphas=self.alphas_d[nearest],
                           scores=-core.cast(b, model.cv_scores_, "float32"))  # its score is the negative MSE


SOLVERS = {cls.name: cls for cls in (EigenGCV, Cholesky, HimalayaCV)}
