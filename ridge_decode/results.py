"""Result files a user reads: the predictions file a fit (or ``predict``) writes, ``<folder>/predictions.h5``.

Its format is public: decode, evaluate, maps and transfer read it, and so may a user's own analysis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .errors import DataError, DataFileError, DataFormatError
from .runtime.io import atomic_path
from .runtime.layout import PREDICTIONS


@dataclass
class Predictions:
    """A fit's test predictions, keyed by 73k id: ``<fit dir>/predictions.h5``.

    ids (n,) int64 sorted 73k ids; pred {group: (n, ...) float32}; r {group: (t,) held-out r per target};
    rescaled: whether Brain-Diffuser's test-set rescaling was applied; selected_voxels: indices kept by
    ``--min-nc`` (None: all); source: the identity of the source the rows are of (``Source.identity()``), which
    decode and evaluate compare with theirs; run_id: the run that wrote the file.
    """

    ids: np.ndarray
    pred: dict[str, np.ndarray]
    r: dict[str, np.ndarray] = field(default_factory=dict)
    rescaled: bool = False
    selected_voxels: np.ndarray | None = None
    source: dict | None = None
    run_id: str | None = None
    path: Path | None = None

    def save(self, folder) -> Path:
        """Write ``<folder>/predictions.h5`` atomically; returns its path."""
        path = Path(folder) / PREDICTIONS
        with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
            f["ids"] = np.asarray(self.ids, dtype=np.int64)
            f.attrs["rescaled_with_test_statistics"] = bool(self.rescaled)
            f.attrs["source"] = json.dumps(self.source)
            f.attrs["run_id"] = self.run_id or ""
            if self.selected_voxels is not None:
                f["selected_voxels"] = self.selected_voxels
            for g, p in self.pred.items():
                f[f"pred/{g}"] = p
                if g in self.r:
                    f[f"r/{g}"] = self.r[g]
        self.path = path
        return path

    @classmethod
    def load(cls, folder, arrays: bool = True) -> Predictions:
        """Read ``<folder>/predictions.h5``; a DataFileError says how to make it when it is missing. With
        ``arrays=False`` only its ids, voxel selection and attributes are read (``pred`` and ``r`` stay empty): what
        a "done?" check or a voxel check needs, without the predictions themselves."""
        path = Path(folder) / PREDICTIONS
        if not path.exists():
            raise DataFileError(f"no predictions at {path}. Fit first (python scripts/fit.py ... --families <families> "
                                f"--out {Path(folder).parent}), or predict (python scripts/predict.py --model-dir "
                                f"<fit> ... --out {folder})")
        try:
            f = h5py.File(path, "r")
        except OSError as exc:
            raise DataFormatError(f"{path} is not a readable HDF5 file ({exc}): it is damaged or not a prediction; "
                                  f"fit or predict again into {Path(folder)}") from None
        with f:
            lacking = [k for k in ("ids", "pred") if k not in f]
            if lacking:
                raise DataFormatError(f"{path} has no {' or '.join(repr(k) for k in lacking)} (it holds "
                                      f"{sorted(f.keys())}): it is not a predictions file of ridge_decode, or it "
                                      f"was edited; fit or predict again into {Path(folder)}")
            return cls(ids=f["ids"][()], pred={g: f[f"pred/{g}"][()] for g in f["pred"]} if arrays else {},
                       r={g: f[f"r/{g}"][()] for g in f.get("r", {})} if arrays else {},
                       rescaled=bool(f.attrs.get("rescaled_with_test_statistics", False)),
                       selected_voxels=f["selected_voxels"][()] if "selected_voxels" in f else None,
                       source=json.loads(f.attrs.get("source", "null")), run_id=f.attrs.get("run_id") or None,
                       path=path)

    def need(self, group: str, why: str) -> np.ndarray:
        """The predictions of ``group``; a DataError naming the file and the refit when it was not fitted."""
        if group not in self.pred:
            raise DataError(f"{self.path} has no predictions for {group!r} ({why}); it has {sorted(self.pred)}. "
                            f"Refit with --families including {group}.")
        return self.pred[group]

    def rows(self, ids) -> np.ndarray:
        """Row of each of ``ids`` (a DataError lists ids without predictions)."""
        ids = np.asarray(ids, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids)
        ok = (pos < len(self.ids)) & (self.ids[np.clip(pos, 0, len(self.ids) - 1)] == ids)
        if not ok.all():
            raise DataError(f"{self.path} has no predictions for ids {ids[~ok][:10].tolist()}: they are not test "
                            "images of that fit")
        return pos
