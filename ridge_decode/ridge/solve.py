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

These are plain functions of arrays on one backend's device (``b`` is the himalaya backend module): ``solvers``
calls them, and ``device`` is the only place where arrays cross to or from the host.
"""

from __future__ import annotations


def linear_kernel(b, Xs):
    """``Xs Xs^T`` (n, n) for ``Xs`` (n, p), in ``Xs``'s dtype (a BLAS ``syrk`` measured no faster here)."""
    return b.matmul(Xs, b.transpose(Xs))


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
