"""The on-disk feature cache: one HDF5 file per family, ``<features dir>/<name>.h5``.

Each file holds ``ids`` (sorted 0-based 73k ids, int64), ``features`` of shape (len(ids), ...) and attributes
recording how the features were made. Files are written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from ..io import atomic_path

READ_BLOCK_ROWS = 2048  # cached rows read per block when selecting a subject's rows


class FeatureStore:
    """Read and write cached feature families under ``features_dir``."""

    def __init__(self, features_dir: str | Path):
        self.features_dir = Path(features_dir)

    def path(self, name: str) -> Path:
        """File of family ``name``."""
        return self.features_dir / f"{name}.h5"

    def exists(self, name: str) -> bool:
        """Whether family ``name`` is cached."""
        return self.path(name).exists()

    def write(self, name: str, ids, features: np.ndarray, attrs: dict | None = None) -> Path:
        """Cache ``features`` (n, ...) for ``ids`` (n,); rows are stored sorted by id."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) != len(features):
            raise ValueError(f"{len(ids)} ids but {len(features)} feature rows for family {name!r}")
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"family {name!r}: ids must be unique")
        order = np.argsort(ids)
        with atomic_path(self.path(name)) as tmp, h5py.File(tmp, "w") as f:
            f["ids"] = ids[order]
            f.create_dataset("features", data=np.asarray(features)[order], chunks=True)
            f.attrs["made_by"] = json.dumps(attrs or {})
        return self.path(name)

    def ids(self, name: str) -> np.ndarray:
        """Sorted ids cached for family ``name``."""
        with h5py.File(self._require(name), "r") as f:
            return f["ids"][()]

    def attrs(self, name: str) -> dict:
        """How family ``name`` was made."""
        with h5py.File(self._require(name), "r") as f:
            return json.loads(f.attrs.get("made_by", "{}"))

    def read(self, name: str, ids) -> np.ndarray:
        """Features of ``ids`` in that order, shape (len(ids), ...); a KeyError lists ids not cached."""
        return self.rows(name, ids)[:]

    def rows(self, name: str, ids) -> FeatureRows:
        """A lazy (len(ids), ...) view of family ``name`` for ``ids``: slicing it reads only what is asked for.

        The ridge engine reads its targets through this view one chunk of columns at a time, so a subject's
        training targets are never loaded whole. A KeyError lists ids that are not cached.
        """
        ids = np.asarray(ids, dtype=np.int64)
        path = self._require(name)
        with h5py.File(path, "r") as f:
            cached = f["ids"][()]
            shape, dtype = f["features"].shape, f["features"].dtype
        pos = np.searchsorted(cached, ids)
        pos_c = np.clip(pos, 0, max(len(cached) - 1, 0))
        missing = ids[(pos >= len(cached)) | (cached[pos_c] != ids)] if len(cached) else ids
        if len(missing):
            raise KeyError(
                f"{path}: {len(missing)} ids are not cached (first: {missing[:10].tolist()}); "
                f"re-run the extraction for these images"
            )
        return FeatureRows(path, pos_c, (len(ids),) + tuple(shape[1:]), dtype)

    def _require(self, name: str) -> Path:
        path = self.path(name)
        if not path.exists():
            raise FileNotFoundError(
                f"feature family {name!r} is not cached: {path} is missing. Compute it with\n"
                f"    python scripts/extract_features.py --features {name} --features-dir {self.features_dir}"
            )
        return path


class FeatureRows:
    """Rows ``positions`` of a cached ``features`` dataset, as a read-only array-like of ``shape`` and ``dtype``.

    ``view[i]`` is one row; ``view[:, ...]`` (all rows, any selection of the trailing axes) reads that selection
    for the chosen rows only. The file is opened per read, so the view can outlive any open handle.
    """

    def __init__(self, path: Path, positions: np.ndarray, shape: tuple, dtype):
        self.path, self.positions, self.shape, self.dtype = Path(path), positions, shape, np.dtype(dtype)
        self._unique, self._inverse = np.unique(positions, return_inverse=True)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        first, rest = key[0], key[1:]
        with h5py.File(self.path, "r") as f:
            ds = f["features"]
            if isinstance(first, (int, np.integer)):
                return ds[(int(self.positions[first]),) + rest]
            if first != slice(None):
                raise IndexError(f"FeatureRows supports view[i] and view[:, ...]; got first index {first!r}")
            # Contiguous blocks of rows, then the wanted rows picked from each: far faster than an h5py point
            # selection of thousands of rows, and bounded in memory by the block size.
            parts, u = [], self._unique
            for start in range(0, len(u), READ_BLOCK_ROWS):
                want = u[start : start + READ_BLOCK_ROWS]
                block = ds[(slice(int(want[0]), int(want[-1]) + 1),) + rest]
                parts.append(block[want - want[0]])
        if not parts:
            return np.empty(self.shape, dtype=self.dtype)[(slice(None),) + rest]
        return np.concatenate(parts)[self._inverse]
