"""The few array operations the ridge maths needs beyond himalaya's backend modules, written once for each backend.

``b`` is a himalaya backend module (``himalaya.backend.numpy``, ``.torch`` or ``.torch_cuda``). Arrays stay on
``b``'s device: nothing here moves an array between host and device (``device.py`` does that, and counts it).
"""

from __future__ import annotations

import importlib

import numpy as np

from ..errors import ParameterError

BACKENDS = ("numpy", "torch", "torch_cuda")
# Where the maths runs, the word every layer uses (``device=``, ``--device``): "cpu" is the numpy backend, "cuda"
# torch_cuda; himalaya's backend names are accepted as they are (``"torch"`` is torch on the CPU).
DEVICE_BACKENDS = {"cpu": "numpy", "cuda": "torch_cuda"}
DEVICES = (*DEVICE_BACKENDS, *BACKENDS)


def backend_name(device: str) -> str:
    """The himalaya backend that runs on ``device`` (one of ``DEVICES``): "cpu" is numpy, "cuda" torch_cuda."""
    if device not in DEVICES:
        raise ParameterError(f"device must be one of {DEVICES}; got {device!r}", param="device")
    return DEVICE_BACKENDS.get(device, device)


def get(name: str):
    """The himalaya backend module called ``name`` (one of ``BACKENDS``), imported without touching himalaya's
    process-wide backend."""
    return importlib.import_module(f"himalaya.backend.{backend_name(name)}")


def is_torch(b) -> bool:
    return b.name.startswith("torch")


def cast(b, x, dtype: str):
    """``x`` as ``dtype`` ("float32" or "float64") on its device; ``x`` itself when it already is (never changed)."""
    if is_torch(b):
        return x.to(getattr(b, dtype))
    return x.astype(dtype, copy=False)


def column_sums(b, x):
    """(c,) float64 sums of the columns of ``x`` (n, c), accumulated in float64 without a float64 copy."""
    if is_torch(b):
        return x.sum(0, dtype=b.float64)
    return x.sum(0, dtype=np.float64)


def column_squares(b, x):
    """(c,) float64 sums of squares of the columns of ``x`` (n, c), accumulated in float64 without a copy."""
    if is_torch(b):
        # heavy (torch): imported where used
        import torch

        return torch.linalg.vector_norm(x, dim=0, dtype=b.float64) ** 2
    return np.einsum("ij,ij->j", x, x, dtype=np.float64)


def cast_like(b, x, like):
    """``x`` in the dtype of ``like``, on its device."""
    return x.to(like.dtype) if is_torch(b) else x.astype(like.dtype, copy=False)


def empty_like(b, x, shape, dtype: str):
    """An uninitialised array of ``shape`` and ``dtype`` on ``x``'s device."""
    if is_torch(b):
        return x.new_empty(tuple(shape), dtype=getattr(b, dtype))
    return np.empty(shape, dtype=dtype)


def eigh(b, K):
    """Symmetric eigendecomposition (ascending eigenvalues) of ``K`` on its device.

    On the numpy backend, the fastest CPU driver at hand: measured on the 2-core reference machine at n = 8859,
    float32, torch.linalg.eigh (MKL, divide and conquer) 58 s, numpy.linalg.eigh (OpenBLAS) 84 s, and
    scipy.linalg.eigh, which himalaya's numpy backend calls, 290 s with its default driver (evr). The numpy
    array is shared with torch, not copied: host to host, not a crossing.
    """
    if is_torch(b):
        # heavy (torch): imported where used
        import torch

        return torch.linalg.eigh(K)
    try:
        # heavy (torch): imported where used
        import torch
    except ImportError:
        return np.linalg.eigh(K)
    s, Q = torch.linalg.eigh(torch.from_numpy(np.ascontiguousarray(K)))
    return s.numpy(), Q.numpy()


def row_major(b, x):
    """``x`` (n, m) in row-major (C) order, on its device: ``x`` itself when it is. LAPACK's eigenvectors come back
    column-major; on the host, torch's transposing copy is used where torch is installed (measured twice as fast as
    numpy's at n = 8859: 0.5 s against 1.0 s)."""
    if is_torch(b):
        return x.contiguous()
    if x.flags.c_contiguous:
        return x
    if any(stride < 0 for stride in x.strides):  # a reversed view, which torch cannot share
        return np.ascontiguousarray(x)
    try:
        # heavy (torch): imported where used
        import torch
    except ImportError:
        return np.ascontiguousarray(x)
    return torch.from_numpy(x).contiguous().numpy()


def cholesky(b, A):
    """The lower Cholesky factor of ``A``, or None when ``A`` is not positive definite to its precision."""
    if is_torch(b):
        # heavy (torch): imported where used
        import torch

        try:
            return torch.linalg.cholesky(A)
        except torch.linalg.LinAlgError:
            return None
    # heavy (scipy): imported where used
    import scipy.linalg

    try:
        return scipy.linalg.cho_factor(A, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None


def cholesky_solve(b, factor, Y):
    """``(L L^T)^-1 Y`` from ``cholesky``'s factor, in the factor's dtype."""
    if is_torch(b):
        # heavy (torch): imported where used
        import torch

        return torch.cholesky_solve(Y.to(factor.dtype), factor)
    # heavy (scipy): imported where used
    import scipy.linalg

    return scipy.linalg.cho_solve(factor, np.asarray(Y, dtype=factor[0].dtype), check_finite=False)


def identity_like(b, x, n: int, dtype: str):
    """The identity (n, n) on ``x``'s device."""
    if is_torch(b):
        # heavy (torch): imported where used
        import torch

        return torch.eye(n, dtype=getattr(b, dtype), device=x.device)
    return np.eye(n, dtype=dtype)


def finite(b, x):
    """``isfinite(x)`` elementwise, on ``x``'s device."""
    if is_torch(b):
        import torch

        return torch.isfinite(x)
    return np.isfinite(x)
