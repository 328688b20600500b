"""Where a fitted model's arrays live: one interface, two stores.

``HDF5Store`` writes the model file as the fit goes (the resume contract: a chunk is written and flushed, then
marked done, then flushed); ``MemoryStore`` holds plain numpy arrays, so an in-memory model pickles. Both hold:

- top-level arrays: ``X_train`` (n, p) the raw training voxels, ``X_mean`` and ``X_scale`` (p,), ``alphas_grid``,
  and with chosen alphas ``kernel_eigenvalues`` (n,) and ``basis`` (n, n);
- per group ``groups/<g>/``: ``coef`` (n, t), ``alphas``, ``y_mean``, ``y_std`` (t,), ``cv_scores`` (A, t) and one
  ``done_<pass>`` flag per chunk;
- ``attrs``: ``format``, ``config``, ``versions``, ``complete``, ``runs``, ``basis_complete``.
"""

from __future__ import annotations

import numpy as np

STORAGE_COLUMNS = 512  # HDF5 chunk width of stored coefficients: a column slice reads at most this much extra
GROUP_ARRAYS = ("alphas", "y_mean", "y_std")


class HDF5Store:
    """The model in an HDF5 file (an open ``h5py.File`` or group)."""

    def __init__(self, f):
        self.f = f
        self.attrs = f.attrs

    def put(self, name: str, array) -> None:
        """Write a top-level array (replacing one of the same name)."""
        if name in self.f:
            del self.f[name]
        self.f[name] = np.asarray(array)

    def has(self, name: str) -> bool:
        return name in self.f

    def get(self, name: str) -> np.ndarray:
        """A top-level or group array, read whole."""
        return np.asarray(self.f[name][()])

    def columns(self, name: str, a: int, z: int) -> np.ndarray:
        """Columns ``[a, z)`` of a 2-D array (read only those)."""
        return np.asarray(self.f[name][:, a:z])

    def layout_group(self, g: str, target_shape, n: int, n_alphas: int, choose: bool, passes, n_chunks: int):
        """The datasets of one group, created on first use (a resumed fit finds them)."""
        t = int(np.prod(target_shape))
        grp = self.f.require_group(f"groups/{g}")
        grp.attrs["target_shape"] = [int(d) for d in target_shape]
        grp.require_dataset("coef", shape=(n, t), dtype=np.float32, chunks=(n, min(t, STORAGE_COLUMNS)) if t else None)
        for name in GROUP_ARRAYS:
            grp.require_dataset(name, shape=(t,), dtype=np.float64)
        if choose:
            grp.require_dataset("cv_scores", shape=(n_alphas, t), dtype=np.float32)
        for stage in passes:
            grp.require_dataset(f"done_{stage}", shape=(n_chunks,), dtype=bool, fillvalue=False)

    def target_shape(self, g: str) -> tuple:
        return tuple(int(d) for d in self.f[f"groups/{g}"].attrs["target_shape"])

    def done(self, g: str, stage: str, k: int) -> bool:
        return bool(self.f[f"groups/{g}/done_{stage}"][k])

    def write_chunk(self, g: str, stage: str, k: int, a: int, z: int, arrays: dict) -> None:
        """Write one chunk's host arrays into columns ``[a, z)``, flush, then mark it done: the resume contract."""
        grp = self.f[f"groups/{g}"]
        for name, value in arrays.items():
            if name == "cv_scores" or name == "coef":
                grp[name][:, a:z] = value
            else:
                grp[name][a:z] = value
        self.f.flush()  # the chunk is on disk before it is marked done
        grp[f"done_{stage}"][k] = True
        self.f.flush()

    def groups(self) -> list[str]:
        return list(self.f["groups"]) if "groups" in self.f else []

    def flush(self) -> None:
        self.f.flush()


class MemoryStore:
    """The model as plain numpy arrays (it pickles); ``write_to`` copies it into an HDF5 file."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.group_attrs: dict[str, dict] = {}
        self.attrs: dict = {}

    def put(self, name: str, array) -> None:
        self.arrays[name] = np.array(array)

    def has(self, name: str) -> bool:
        return name in self.arrays

    def get(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def columns(self, name: str, a: int, z: int) -> np.ndarray:
        return self.arrays[name][:, a:z]

    def layout_group(self, g: str, target_shape, n: int, n_alphas: int, choose: bool, passes, n_chunks: int):
        t = int(np.prod(target_shape))
        self.group_attrs[g] = {"target_shape": [int(d) for d in target_shape]}
        self.arrays.setdefault(f"groups/{g}/coef", np.zeros((n, t), np.float32))
        for name in GROUP_ARRAYS:
            self.arrays.setdefault(f"groups/{g}/{name}", np.zeros(t, np.float64))
        if choose:
            self.arrays.setdefault(f"groups/{g}/cv_scores", np.zeros((n_alphas, t), np.float32))
        for stage in passes:
            self.arrays.setdefault(f"groups/{g}/done_{stage}", np.zeros(n_chunks, bool))

    def target_shape(self, g: str) -> tuple:
        return tuple(self.group_attrs[g]["target_shape"])

    def done(self, g: str, stage: str, k: int) -> bool:
        return bool(self.arrays[f"groups/{g}/done_{stage}"][k])

    def write_chunk(self, g: str, stage: str, k: int, a: int, z: int, arrays: dict) -> None:
        for name, value in arrays.items():
            target = self.arrays[f"groups/{g}/{name}"]
            if target.ndim == 2:
                target[:, a:z] = value
            else:
                target[a:z] = value
        self.arrays[f"groups/{g}/done_{stage}"][k] = True

    def groups(self) -> list[str]:
        return list(self.group_attrs)

    def flush(self) -> None:
        """Nothing to flush: the arrays are the model."""

    def write_to(self, f) -> None:
        """Copy the model into an open HDF5 file."""
        for k, v in self.attrs.items():
            f.attrs[k] = v
        for name, value in self.arrays.items():
            f[name] = value
        for g, attrs in self.group_attrs.items():
            for k, v in attrs.items():
                f[f"groups/{g}"].attrs[k] = v
