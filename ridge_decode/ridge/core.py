"""Kernel ridge regression with the regularisation chosen per target by generalised cross-validation: the method.

Read top to bottom, this file is the whole method; ``fit`` at the end runs it on arrays in memory. ``RidgeGCV``
calls ``fit``; ``OneStageRidge`` calls the same functions one chunk of targets at a time (its runner reads the
chunks, overlaps them and writes the model file, outside this file).

Notation: ``n`` training images, ``p`` voxels, ``t`` targets, ``A`` candidate alphas. ``Xs`` (n, p) are the
standardised voxels, ``K = Xs Xs^T`` (n, n) their linear kernel with eigendecomposition ``K = Q diag(s) Q^T``,
``Yc`` (n, t) the centred targets and ``Z = Q^T Yc`` (n, t) their projection on the eigenvectors.

1. Standardise the voxels (mean 0, std 1 with ddof=1), centre the targets; the intercept is the targets' mean.
2. Ridge with any alpha is diagonal in the kernel's eigenbasis: the coefficients are ``B = Z / (s + alpha)`` and
   the dual coefficients ``C = Q B``. Predictions are ``Xs_test Xs^T C = (Xs_test Xs^T Q) B``.
3. Generalised cross-validation (Golub, Heath & Wahba 1979) scores every alpha for every target without refitting.
   With ``f_j = alpha / (s_j + alpha)``, the residual factor of eigen-direction ``j``:

       GCV(alpha) = n * sum_j f_j^2 z_j^2 / (sum_j w_j f_j)^2

   ``w_j = 1 - (q_j . 1/sqrt(n))^2`` removes the fitted intercept's direction from the residual degrees of
   freedom (the centred kernel always has that null direction; counting it drives GCV to 0 as alpha -> 0 when
   p >= n). The numerator for all alphas and targets is one product ``F^2 (A, n) @ Z^2 (n, t)``: O(A n t), against
   O(A n^2 t) for exact leave-one-out. Every eigenvector is kept, so rank-deficient kernels (n > p) need no extra
   term: their zero eigenvalues have ``f_j = 1``.

Every function takes ``b``, a himalaya backend module (numpy, torch or torch_cuda), and arrays on its device. None
changes its inputs. Means, scales and sums of squares are float64, computed from the caller's values (float32 or
float64); the large products are float32.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .backend import cast

STANDARDIZE_BLOCK = 2048  # voxels standardised at a time in float64: bounded memory, exact centring
# Bytes of one row sub-block of the chunk passes past the projection (GCV scores, coefficients): small enough that
# its squares or denominators are reused from the core's cache, not memory (64 rows of a 4,096-target chunk).
FUSED_BYTES = 1 << 20


# ------------------------------------------------------------------------------------------ 1. the inputs
def standardize(b, X, block: int = STANDARDIZE_BLOCK):
    """Standardise voxels with their own statistics.

    Parameters
    ----------
    X : (n, p) float32 or float64 array

    Returns
    -------
    Xs : (n, p) float32, ``(X - mean) / scale``
    mean, scale : (p,) float64; ``scale`` is the std with ddof=1, and 1 for a constant voxel (centred to 0)
    """
    n, p = X.shape
    Xs = backend.empty_like(b, X, (n, p), "float32")
    mean, scale = backend.empty_like(b, X, (p,), "float64"), backend.empty_like(b, X, (p,), "float64")
    # one float64 block, reused: a new (n, block) array per block costs fresh memory each time (page faults)
    buffer = backend.empty_like(b, X, (n, min(block, p)), "float64")
    for a in range(0, p, block):
        x = buffer[:, : min(block, p - a)]
        x[...] = X[:, a : a + block]  # a copy in float64: X itself is never written
        m = b.sum(x, 0) / n
        x -= m
        sd = b.sqrt(backend.column_squares(b, x) / max(n - 1, 1))
        sd[sd == 0] = 1.0
        x /= sd
        mean[a : a + block], scale[a : a + block], Xs[:, a : a + block] = m, sd, x
    return Xs, mean, scale


def apply_standardization(b, X, mean, scale, block: int = STANDARDIZE_BLOCK):
    """``(X - mean) / scale`` (n, p) float32 for new voxels ``X`` (n, p): the operations of ``standardize``."""
    n, p = X.shape
    Xs = backend.empty_like(b, X, (n, p), "float32")
    for a in range(0, p, block):
        Xs[:, a : a + block] = (cast(b, X[:, a : a + block], "float64") - mean[a : a + block]) / scale[a : a + block]
    return Xs


def center(b, Y):
    """Centre targets ``Y`` (n, t), float32 or float64: ``Yc`` (n, t) float32, ``mean`` and ``std`` (t,) float64
    (ddof=0). The mean is accumulated in float64 from the values given; float64 targets are centred in float64
    before the cast (so ``y + 1e6`` keeps its digits), float32 targets in a float32 copy."""
    n = Y.shape[0]
    mean = backend.column_sums(b, Y) / n
    if str(Y.dtype).endswith("float64"):
        Yc = cast(b, Y - mean, "float32")
    else:
        Yc = Y - cast(b, mean, "float32")  # one new array, one pass
    return Yc, mean, b.sqrt(backend.column_squares(b, Yc) / n)


# ------------------------------------------------------------------------------------ 2. kernel and basis
def linear_kernel(b, Xs):
    """``K = Xs Xs^T`` (n, n) for ``Xs`` (n, p), in ``Xs``'s dtype."""
    return b.matmul(Xs, b.transpose(Xs))


def eigendecompose(b, K, dtype: str = "float32"):
    """Eigenvalues ``s`` (n,) clipped at 0 and eigenvectors ``Q`` (n, n) of ``K``, both float32.

    ``dtype`` is the precision of the decomposition. In float32 the eigenvalues' absolute error is about
    ``eps32 * s.max()`` (eps32 = 1.2e-7): alphas below that bound are lost in round-off (see ``precision_bound``).
    Tiny negative eigenvalues of a rank-deficient kernel are round-off and are clipped to 0. A float32
    decomposition that fails (it can on GPUs for ill-conditioned kernels) is redone in float64. ``Q`` is row-major
    (C order), as the model file stores it.
    """
    try:
        s, Q = backend.eigh(b, cast(b, K, dtype))
    except Exception:  # noqa: BLE001 - LAPACK/cuSOLVER convergence failures have backend-specific types
        if dtype == "float64":
            raise
        s, Q = backend.eigh(b, cast(b, K, "float64"))
    return cast(b, b.clip(s, 0, None), "float32"), backend.row_major(b, cast(b, Q, "float32"))


def precision_bound(s_max: float, dtype: str = "float32") -> float:
    """The smallest alpha the eigendecomposition resolves: its eigenvalues' absolute error, ``eps * s_max``."""
    return float(np.finfo(dtype).eps) * float(s_max)


def project(b, Q, Yc):
    """``Z = Q^T Yc`` (n, t): the centred targets in the eigenbasis."""
    return b.matmul(b.transpose(Q), Yc)


# --------------------------------------------------------------------------- 3. generalised cross-validation
def intercept_dof_weight(b, Q):
    """``w_j = 1 - (q_j . 1/sqrt(n))^2`` (n,): the part of each eigenvector not spanned by the intercept."""
    return 1.0 - b.sum(Q, 0) ** 2 / Q.shape[0]


def shrinkage(s, alphas):
    """``F[a, j] = alpha_a / (s_j + alpha_a)`` (A, n): the residual factor of each eigen-direction, for eigenvalues
    ``s`` (n,) and ``alphas`` (A,) in ``s``'s dtype."""
    return alphas[:, None] / (s[None, :] + alphas[:, None])


def row_blocks(b, n: int, t: int, rows: int | None = None):
    """``[start, stop)`` of the row sub-blocks that the chunk passes walk through, for an (n, t) block: ``rows``
    rows (default: as many as fit in ``FUSED_BYTES`` of float32 on a CPU backend; every row at once on a GPU,
    where one large call beats many small). A row sub-block of a C-ordered array is contiguous in memory."""
    if rows is None:
        rows = n if b.name == "torch_cuda" else FUSED_BYTES // (4 * max(t, 1))
    rows = max(int(rows), 1)
    return [(j, min(j + rows, n)) for j in range(0, n, rows)]


def gcv_scores(b, s, Z, alphas, dof_weight, rows: int | None = None):
    """GCV mean squared error (A, t) float32, in target units squared, for eigenvalues ``s`` (n,), projected targets
    ``Z`` (n, t) and ``alphas`` (A,) (float64, cast to ``s``'s dtype here).

    ``Z`` is read once, ``rows`` eigen-directions at a time (``row_blocks``): each sub-block's squares stay in
    cache for its share of ``F^2 @ Z^2``, summed into the scores, instead of making an (n, t) array of squares."""
    n, t = Z.shape
    F = shrinkage(s, cast(b, alphas, str(s.dtype).split(".")[-1]))
    F2 = F * F
    denominator = b.matmul(F, dof_weight[:, None])[:, 0] ** 2
    blocks = row_blocks(b, n, t, rows)
    numerator = None
    for j, k in blocks:
        Zr = Z[j:k]
        part = b.matmul(F2[:, j:k], Zr * Zr)
        if numerator is None:
            numerator = part
        else:
            numerator += part
    return n * numerator / denominator[:, None]


def best_alphas(scores, alphas):
    """The alpha (t,) with the lowest GCV error for each target, from ``scores`` (A, t) and ``alphas`` (A,)."""
    return alphas[scores.argmin(0)]


def best_group_alpha(b, scores, alphas):
    """The one alpha (0-d) with the lowest GCV error summed over every target (float64 sums of ``scores`` (A, t))."""
    return alphas[b.sum(cast(b, scores, "float64"), 1).argmin(0)]


def gcv_solve(b, s, Q, Yc, alphas, dof_weight, rows: int | None = None):
    """One chunk of centred targets ``Yc`` (n, t), alpha per target: (coefficients ``B`` (n, t) float32 in the
    eigenbasis, the chosen alphas (t,) float64 from ``alphas`` (A,) float64, the GCV scores (A, t) float32).

    Past the projection, the (n, t) block is read once for the scores and once for the coefficients, which are
    written over the projection (``eigen_coef(out=Z)``), each pass in cache-sized row sub-blocks."""
    Z = project(b, Q, Yc)
    scores = gcv_scores(b, s, Z, alphas, dof_weight, rows)
    chosen = best_alphas(scores, alphas)
    return eigen_coef(b, s, Z, chosen, out=Z, rows=rows), chosen, scores


# ------------------------------------------------------------------------------------ 4. coefficients
def eigen_coef(b, s, Z, alpha_per_target, out=None, rows: int | None = None):
    """Coefficients in the eigenbasis, ``B = Z / (s + alpha_k)`` (n, t) float32, one alpha per target (t,).

    ``out`` receives them (``Z`` itself for the callers that own their projection: no new (n, t) array); the
    row sub-blocks (``row_blocks``) keep each block's denominators in cache."""
    alpha = cast(b, alpha_per_target, "float32")
    if out is None:
        out = backend.empty_like(b, Z, tuple(Z.shape), "float32")
    for j, k in row_blocks(b, Z.shape[0], Z.shape[1], rows):
        den = s[j:k, None] + alpha[None, :]  # the denominators, then their reciprocals, in the sub-block
        den **= -1
        den *= Z[j:k]
        out[j:k] = den
    return out


def cholesky_coef(b, factor, Yc):
    """Dual coefficients ``C = (K + alpha I)^-1 Yc`` (n, t) float32 from ``cholesky_factor``'s factor: a fixed
    alpha needs no eigendecomposition."""
    return cast(b, backend.cholesky_solve(b, factor, Yc), "float32")


def cholesky_factor(b, K, alpha: float):
    """The Cholesky factor of ``K + alpha I``, in float32, or float64 where float32 is not positive definite."""
    for dtype in ("float32", "float64"):
        factor = backend.cholesky(b, cast(b, K, dtype) + alpha * backend.identity_like(b, K, K.shape[0], dtype))
        if factor is not None:
            return factor
    raise np.linalg.LinAlgError(f"K + {alpha:g} I is not positive definite even in float64")


# -------------------------------------------------------------------------------------------- 5. predict
def cross_kernel(b, Xs_test, Xs_train, basis=None):
    """``Xs_test Xs_train^T`` (n_test, n), times the eigenbasis ``Q`` when given: what predictions multiply by the
    coefficients, in the inputs' dtype."""
    M = b.matmul(Xs_test, b.transpose(Xs_train))
    return M if basis is None else b.matmul(M, basis)


def predict(b, M, coef, y_mean):
    """Predictions (n_test, t) = ``M @ coef + y_mean`` for ``cross_kernel``'s ``M``, coefficients (n, t) and the
    targets' means (t,), in ``M``'s dtype."""
    return b.matmul(M, backend.cast_like(b, coef, M)) + backend.cast_like(b, y_mean, M)


# -------------------------------------------------------------------------------------- the whole method
def fit(b, X, Y, alphas, alpha_per: str = "target", chunk_size: int = 4096, eigh_dtype: str = "float32") -> dict:
    """Fit kernel ridge with GCV on arrays in memory, a chunk of targets at a time.

    Parameters
    ----------
    X : (n, p) float32 or float64 voxels; Y : (n, t) float32 or float64 targets; alphas : (A,) float64 candidates
    alpha_per : "target" (each target its own alpha) or "group" (one alpha for all, the lowest summed GCV error)

    Returns
    -------
    dict of arrays on ``b``'s device: ``X_mean``, ``X_scale`` (p,), ``Xs`` (n, p) float32, ``s`` (n,), ``basis``
    ``Q`` (n, n), ``coef`` ``B`` (n, t) in the eigenbasis, ``alphas`` (t,) chosen, ``cv_scores`` (A, t) GCV errors,
    ``y_mean``, ``y_std`` (t,).
    """
    Xs, X_mean, X_scale = standardize(b, X)
    s, Q = eigendecompose(b, linear_kernel(b, Xs), eigh_dtype)
    dof_weight = intercept_dof_weight(b, Q)
    parts = []
    for a in range(0, Y.shape[1], chunk_size):
        Yc, mean, std = center(b, Y[:, a : a + chunk_size])
        if alpha_per == "group":  # the projection waits for the group's one alpha
            Z = project(b, Q, Yc)
            parts.append([Z, None, gcv_scores(b, s, Z, alphas, dof_weight), mean, std])
        else:
            parts.append([*gcv_solve(b, s, Q, Yc, alphas, dof_weight), mean, std])
    if alpha_per == "group":
        alpha = best_group_alpha(b, b.concatenate([part[2] for part in parts], 1), alphas)
        for part in parts:
            part[1] = b.ones_like(part[3]) * alpha
            part[0] = eigen_coef(b, s, part[0], part[1], out=part[0])
    coef, chosen, scores, y_mean, y_std = (b.concatenate([part[k] for part in parts], axis)
                                           for k, axis in enumerate((1, 0, 1, 0, 0)))
    return {"X_mean": X_mean, "X_scale": X_scale, "Xs": Xs, "s": s, "basis": Q, "coef": coef, "alphas": chosen,
            "cv_scores": scores, "y_mean": y_mean, "y_std": y_std}
