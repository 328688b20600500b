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
        ids = np.asarray(ids, dtype=np.int64)
        with h5py.File(self._require(name), "r") as f:
            cached = f["ids"][()]
            pos = np.searchsorted(cached, ids)
            pos_c = np.clip(pos, 0, len(cached) - 1)
            missing = ids[(pos >= len(cached)) | (cached[pos_c] != ids)]
            if len(missing):
                raise KeyError(
                    f"{self.path(name)}: {len(missing)} ids are not cached (first: {missing[:10].tolist()}); "
                    f"re-run the extraction for these images"
                )
            uniq, inv = np.unique(pos_c, return_inverse=True)
            return f["features"][uniq][inv]

    def _require(self, name: str) -> Path:
        path = self.path(name)
        if not path.exists():
            raise FileNotFoundError(
                f"feature family {name!r} is not cached: {path} is missing. Compute it with\n"
                f"    python scripts/extract_features.py --features {name} --features-dir {self.features_dir}"
            )
        return path
