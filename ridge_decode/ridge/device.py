"""The one boundary between the host (numpy arrays, files) and a backend's device (numpy, torch, torch_cuda).

Every array that crosses goes through ``Device.to_device`` or ``Device.to_host``, which count the calls and the
bytes in each direction, by name (``crossings()``). Everything between is computed on the device with the
backend's operations; the rest of ``ridge/`` never converts an array itself (``tests/test_ridge_device.py`` checks
both: the planned crossings, and that nothing bypasses this module).

The backend is imported as a module (``himalaya.backend.<name>``), never through himalaya's process-wide
``set_backend``; only the "himalaya" solver, whose code reads that global, sets it for the length of its call and
puts it back (``himalaya_global``).

What crosses in a fit: the voxels once in; each target chunk once in; per voxel its mean and scale once out; the
kernel's eigenbasis once out (for the model file); each chunk's coefficients and small per-target arrays once
out. In a predict: the test voxels, the training voxels, the basis and each coefficient chunk in (from the model
file); each group's predictions once out.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections import defaultdict

import numpy as np

BACKENDS = ("numpy", "torch", "torch_cuda")


class Device:
    """A himalaya backend's device, with the host/device crossings counted.

    ``b`` is the backend module (``matmul``, ``transpose``, ``sqrt``...), ``name`` its name. On the numpy backend
    the device is the host: crossings are still counted (they copy nothing).
    """

    def __init__(self, backend: str = "numpy"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
        self.name = backend
        self.b = importlib.import_module(f"himalaya.backend.{backend}")
        self.torch = backend.startswith("torch")
        if self.torch:
            import torch

            self._torch = torch
            self.device = torch.device("cuda" if backend == "torch_cuda" else "cpu")
        self._lock = threading.Lock()  # the loop's reader and writer threads cross too
        self._log: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])

    # --------------------------------------------------------------------------------------- crossings
    def _count(self, direction: str, what: str, nbytes: int) -> None:
        with self._lock:
            entry = self._log[(direction, what)]
            entry[0] += 1
            entry[1] += int(nbytes)

    def to_device(self, x, what: str, dtype: str = "float32"):
        """The host array ``x`` on the device, as ``dtype`` (a copy when it must move)."""
        host = np.ascontiguousarray(x, dtype=dtype)
        self._count("in", what, host.nbytes)
        if not self.torch:
            return host
        return self._torch.from_numpy(host).to(self.device)

    def to_host(self, x, what: str) -> np.ndarray:
        """The device array ``x`` as a numpy array on the host."""
        if self.torch:
            out = x.detach().cpu().numpy()
        else:
            out = np.asarray(x)
        self._count("out", what, out.nbytes)
        return out

    def crossings(self) -> dict[tuple[str, str], tuple[int, int]]:
        """{(direction "in"/"out", name): (calls, bytes)} since the device was made (or ``reset``)."""
        with self._lock:
            return {k: (v[0], v[1]) for k, v in self._log.items()}

    def reset(self) -> None:
        """Forget the counted crossings."""
        with self._lock:
            self._log.clear()

    # ---------------------------------------------------------------------------- operations on the device
    def cast(self, x, dtype: str):
        """``x`` (on the device) in ``dtype`` ("float32" or "float64"), on the device."""
        if self.torch:
            return x.to(getattr(self._torch, dtype))
        return x.astype(dtype, copy=False)

    def empty(self, shape, dtype: str = "float32"):
        """An uninitialised array on the device."""
        if self.torch:
            return self._torch.empty(tuple(shape), dtype=getattr(self._torch, dtype), device=self.device)
        return np.empty(shape, dtype=dtype)

    def full(self, n: int, value: float, dtype: str = "float64"):
        """(n,) filled with ``value``, on the device."""
        if self.torch:
            return self._torch.full((n,), value, dtype=getattr(self._torch, dtype), device=self.device)
        return np.full(n, value, dtype=dtype)

    def column_sums(self, x):
        """(columns,) float64 sums of the columns of ``x`` (n, c), accumulated in float64 without a float64 copy."""
        if self.torch:
            return x.sum(0, dtype=self._torch.float64)
        return x.sum(0, dtype=np.float64)

    def column_squares(self, x):
        """(columns,) float64 sums of squares of the columns of ``x``, accumulated in float64."""
        if self.torch:
            return self._torch.linalg.vector_norm(x, dim=0, dtype=self._torch.float64) ** 2
        return np.einsum("ij,ij->j", x, x, dtype=np.float64)

    def argmin(self, x, axis: int = 0):
        """Index of the minimum along ``axis``, on the device."""
        return x.argmin(axis)

    def isfinite(self, x):
        """Elementwise finiteness, on the device."""
        return self._torch.isfinite(x) if self.torch else np.isfinite(x)

    def all_columns(self, mask):
        """(columns,) whether each column of the boolean ``mask`` is all true, on the device."""
        return mask.all(0)

    def eigh(self, K):
        """Symmetric eigendecomposition of ``K`` on the device.

        On the numpy backend, the fastest CPU driver at hand: measured on the 2-core reference machine at n = 8859,
        float32, torch.linalg.eigh (MKL, divide and conquer) 58 s, numpy.linalg.eigh (OpenBLAS) 84 s, and
        scipy.linalg.eigh, which himalaya's numpy backend calls, 290 s with its default driver (evr). The numpy
        array is shared with torch, not copied: host to host, not a crossing.
        """
        if self.torch:
            return self._torch.linalg.eigh(K)
        try:
            import torch
        except ImportError:
            return np.linalg.eigh(K)
        s, Q = torch.linalg.eigh(torch.from_numpy(np.ascontiguousarray(K)))
        return s.numpy(), Q.numpy()

    def cholesky(self, A):
        """The lower Cholesky factor of ``A``, or None when ``A`` is not positive definite to its precision."""
        if self.torch:
            try:
                return self._torch.linalg.cholesky(A)
            except self._torch.linalg.LinAlgError:
                return None
        import scipy.linalg

        try:
            return scipy.linalg.cho_factor(A, lower=True, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            return None

    def cholesky_solve(self, factor, Y):
        """``(L L^T)^-1 Y`` from ``cholesky``'s factor, in the factor's dtype."""
        if self.torch:
            return self._torch.cholesky_solve(Y.to(factor.dtype), factor)
        import scipy.linalg

        return scipy.linalg.cho_solve(factor, np.asarray(Y, dtype=factor[0].dtype), check_finite=False)

    def dtype_of(self, factor):
        """The dtype name of a Cholesky factor."""
        return str(factor.dtype).replace("torch.", "") if self.torch else str(factor[0].dtype)

    def identity(self, n: int, dtype: str):
        """The identity (n, n) on the device."""
        if self.torch:
            return self._torch.eye(n, dtype=getattr(self._torch, dtype), device=self.device)
        return np.eye(n, dtype=dtype)

    def free_bytes(self) -> int | None:
        """Free device memory in bytes where the device says (CUDA), else None."""
        if self.name == "torch_cuda":
            return int(self._torch.cuda.mem_get_info()[0])
        return None

    @contextlib.contextmanager
    def himalaya_global(self):
        """himalaya's process-wide backend set to this device's for the block, and put back after it."""
        from himalaya.backend import get_backend, set_backend

        previous = get_backend()
        set_backend(self.name, on_error="raise")
        try:
            yield
        finally:
            set_backend(previous, on_error="raise")
