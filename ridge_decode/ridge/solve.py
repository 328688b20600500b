"""The linear algebra of the one-stage ridge, written once for every himalaya backend (numpy, torch, torch_cuda).

Notation: ``n`` training images, ``p`` voxels, ``t`` targets in one chunk, ``A`` candidate alphas. ``Xs`` is the
standardised voxel matrix (n, p), ``K = Xs Xs^T`` its linear kernel (n, n) with eigendecomposition
``K = Q diag(s) Q^T``, ``Yc`` centred targets (n, t) and ``Z = Q^T Yc``.

Generalised cross-validation (Golub, Heath & Wahba 1979) in the eigenbasis, with ``f_j = alpha / (s_j + alpha)``:

    GCV(alpha) = n * sum_j f_j^2 z_j^2 / (sum_j w_j f_j)^2

``w_j = 1 - (q_j . 1/sqrt(n))^2`` removes the fitted intercept's direction from the residual degrees of freedom
(the centred kernel always has that null direction; counting it would drive GCV to 0 as alpha -> 0 when p >= n).
The numerator for all alphas and all targets is one small product ``F^2 (A, n) @ Z^2 (n, t)``: O(A n t), against
O(A n^2 t) for exact leave-one-out, which needs the residuals in sample space for every alpha. Every eigenvector
is kept (``eigh`` returns a complete basis), so rank-deficient kernels (n > p) need no extra term: their zero
eigenvalues have ``f_j = 1``.
"""

from __future__ import annotations

import numpy as np


def linear_kernel(b, Xs):
    """``Xs Xs^T`` (n, n) for ``Xs`` (n, p), in ``Xs``'s dtype (a BLAS ``syrk`` measured no faster here)."""
    return b.matmul(Xs, b.transpose(Xs))


def _cpu_eigh(K):
    """Symmetric eigendecomposition of a numpy array by the fastest CPU driver at hand.

    Measured on the 2-core reference machine at n = 8859, float32: torch.linalg.eigh (MKL, divide and conquer)
    58 s, numpy.linalg.eigh (OpenBLAS, divide and conquer) 84 s, and scipy.linalg.eigh, which himalaya's numpy
    backend calls, 290 s with its default driver (evr). torch is a dependency of the package, but is optional
    here.
    """
    try:
        import torch
    except ImportError:
        return np.linalg.eigh(K)
    s, Q = torch.linalg.eigh(torch.from_numpy(np.ascontiguousarray(K)))
    return s.numpy(), Q.numpy()


def eigen_kernel(b, K, dtype: str = "float32"):
    """Eigenvalues ``s`` (n,) clipped at 0 and eigenvectors ``Q`` (n, n) of the kernel, both float32.

    ``dtype`` is the precision of the decomposition itself. float32 is the default: the decomposition is the
    single largest cost at NSD scale, and its absolute eigenvalue error (~1e-7 * s_max) only matters for alphas
    below that. Tiny negative eigenvalues of a rank-deficient kernel are round-off and are clipped to 0. Should
    a float32 decomposition fail (it can on GPUs for ill-conditioned kernels), it is redone in float64.
    """
    eigh = _cpu_eigh if b.name == "numpy" else b.eigh
    want = b.float64 if dtype == "float64" else b.float32
    try:
        s, Q = eigh(b.asarray(K, dtype=want))
    except Exception:  # noqa: BLE001 - LAPACK/cuSOLVER convergence failures have backend-specific types
        if dtype == "float64":
            raise
        s, Q = eigh(b.asarray(K, dtype=b.float64))
    s = b.clip(s, 0, None)
    return b.asarray(s, dtype=b.float32), b.asarray(Q, dtype=b.float32)


def intercept_dof_weight(b, Q):
    """``w_j = 1 - (q_j . 1/sqrt(n))^2`` (n,): the part of each eigenvector not spanned by the intercept."""
    n = Q.shape[0]
    return 1.0 - b.sum(Q, 0) ** 2 / n


def shrinkage(b, s, alphas):
    """``F[a, j] = alpha_a / (s_j + alpha_a)`` (A, n): the residual factor of each eigen-direction."""
    return alphas[:, None] / (s[None, :] + alphas[:, None])


def gcv_scores(b, s, Z, alphas, dof_weight):
    """GCV mean squared error (A, t) for eigenvalues ``s`` (n,), projected targets ``Z`` (n, t), ``alphas`` (A,)."""
    n = s.shape[0]
    F = shrinkage(b, s, alphas)
    numerator = b.matmul(F * F, Z * Z)
    denominator = b.matmul(F, dof_weight[:, None])[:, 0] ** 2
    return n * numerator / denominator[:, None]


def eigen_coef(b, s, Z, alpha_per_column):
    """Coefficients in the eigenbasis, ``B = diag(1/(s+alpha_k)) z_k`` (n, t), one alpha per column (t,).

    Computed in place: ``Z`` is overwritten and returned (it is not needed afterwards, and a chunk is large).
    The dual coefficients are ``C = Q B``; predictions ``K_test C = (K_test Q) B`` never need ``C`` itself, which
    saves one n x n x t product per chunk.
    """
    Z /= s[:, None] + alpha_per_column[None, :]
    return Z


def cholesky_factor(b, K, alpha: float):
    """Factor ``K + alpha I`` (n, n) once, for ``cholesky_solve`` with a fixed alpha.

    One factorisation costs n^3/3 flops in BLAS3 (about 2 s at n = 8859 on 2 cores), far less than an
    eigendecomposition, which is only needed to choose alphas. It is redone in float64 when float32 is not
    positive definite to working precision (a small alpha on a rank-deficient kernel).
    """
    if b.name.startswith("torch"):
        import torch

        for dtype in (torch.float32, torch.float64):
            A = b.asarray(K, dtype=dtype) + alpha * torch.eye(K.shape[0], dtype=dtype, device=K.device)
            L, info = torch.linalg.cholesky_ex(A)
            if int(info) == 0:
                return L
    else:
        import scipy.linalg

        for dtype in (np.float32, np.float64):
            A = np.asarray(K, dtype=dtype) + dtype(alpha) * np.eye(K.shape[0], dtype=dtype)
            try:
                return scipy.linalg.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
            except np.linalg.LinAlgError:
                continue
    raise np.linalg.LinAlgError(f"K + {alpha:g} I is not positive definite even in float64")


def cholesky_solve(b, factor, Yc):
    """Dual coefficients ``C = (K + alpha I)^-1 Yc`` (n, t) float32 from ``cholesky_factor``'s result."""
    if b.name.startswith("torch"):
        import torch

        return b.asarray(torch.cholesky_solve(b.asarray(Yc, dtype=factor.dtype), factor), dtype=b.float32)
    import scipy.linalg

    return scipy.linalg.cho_solve(factor, np.asarray(Yc, dtype=factor[0].dtype), check_finite=False).astype(
        np.float32
    )
