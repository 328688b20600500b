"""The one boundary between the host (numpy arrays, files) and a backend's device (numpy, torch, torch_cuda).

Every array that crosses goes through ``Device.to_device`` or ``Device.to_host``, which count the calls and the
bytes in each direction, by name (``crossings()``). Everything between is computed on the device with the
backend's operations; the rest of ``ridge/`` never converts an array itself (``tests/ridge/test_device.py`` checks
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
import threading
from collections import defaultdict

import numpy as np

from . import backend
from .backend import BACKENDS

__all__ = ["BACKENDS", "Device", "torch_to_host"]


def torch_to_host(tensor) -> np.ndarray:
    """A caller's torch tensor (any device, with or without grad) as a numpy array on the host: how an input given
    as a tensor enters the estimators, which read host arrays (not a counted crossing: it happens before a fit's
    device exists)."""
    return tensor.detach().cpu().numpy()


class Device:
    """A himalaya backend's device, with the host/device crossings counted.

    ``b`` is the backend module (``matmul``, ``transpose``, ``sqrt``...), ``name`` its name. On the numpy backend
    the device is the host: crossings are still counted (they copy nothing).
    """

    def __init__(self, device: str = "cpu"):
        backend_name = backend.backend_name(device)  # "cpu", "cuda" or a himalaya backend's name
        self.b = backend.get(backend_name)
        self.name = backend_name
        self.torch = backend.is_torch(self.b)
        if self.torch:
            # heavy (torch): imported where used
            import torch

            self._torch = torch
            self.device = torch.device("cuda" if backend_name == "torch_cuda" else "cpu")
        self._lock = threading.Lock()  # the loop's reader and writer threads cross too
        self._log: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])

    # --------------------------------------------------------------------------------------- crossings
    def _count(self, direction: str, what: str, nbytes: int) -> None:
        with self._lock:
            entry = self._log[(direction, what)]
            entry[0] += 1
            entry[1] += int(nbytes)

    def to_device(self, x, what: str, dtype=np.float32):
        """The host array ``x`` on the device, as ``dtype`` (a copy when it must move or change dtype; on the numpy
        backend ``x`` itself when it already is contiguous ``dtype``: callers never write what they receive)."""
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
        """{(direction "in"/"out", name): (calls, bytes)} since the device was made."""
        with self._lock:
            return {k: (v[0], v[1]) for k, v in self._log.items()}

    # ---------------------------------------------------------------------------------------- on the device
    def full(self, n: int, value: float, dtype: str = "float64"):
        """(n,) filled with ``value``, on the device."""
        if self.torch:
            return self._torch.full((n,), value, dtype=getattr(self._torch, dtype), device=self.device)
        return np.full(n, value, dtype=dtype)

    def free_bytes(self) -> int | None:
        """Free device memory in bytes where the device says (CUDA), else None."""
        if self.name == "torch_cuda":
            return int(self._torch.cuda.mem_get_info()[0])
        return None

    @contextlib.contextmanager
    def himalaya_global(self):
        """himalaya's process-wide backend set to this device's for the block, and put back after it."""
        # heavy (himalaya): imported where used
        from himalaya.backend import get_backend, set_backend

        previous = get_backend()
        set_backend(self.name, on_error="raise")
        try:
            yield
        finally:
            set_backend(previous, on_error="raise")
