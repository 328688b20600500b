"""What lets a partial fit resume only on the same inputs: the fingerprint of the parameters, voxels and targets,
and the resumable model file opened as a store. The chunk loop itself is ``runner``'s.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextlib import contextmanager

import h5py
import numpy as np

from ..runtime.io import file_signature
from .stores import HDF5Store


# ---------------------------------------------------------------------------------------------- the store
@contextmanager
def opened(protocol):
    """``resumable_h5``'s (file, resumed) as (``HDF5Store``, resumed)."""
    with protocol as (f, resumed):
        yield HDF5Store(f), resumed


def target_signature(h, Y) -> None:
    """Feed ``h`` with what identifies the targets ``Y``: every byte of an in-memory array; for an h5py dataset or
    an array-like with a ``signature()`` (the feature cache's rows), its file's size and modification time and the
    rows it reads: a re-extracted feature file changes them, and its gigabytes need not be read twice."""
    if hasattr(Y, "signature"):
        h.update(Y.signature())
    elif isinstance(Y, h5py.Dataset):
        h.update(json.dumps(file_signature(Y.file.filename), sort_keys=True).encode() + Y.name.encode())
    elif isinstance(Y, np.ndarray):
        h.update(memoryview(np.ascontiguousarray(Y)).cast("B"))
    else:  # another array-like: every row, a block at a time
        for a in range(0, Y.shape[0], 256):
            h.update(np.ascontiguousarray(np.asarray(Y[a : a + 256], dtype=np.float32)).tobytes())


def fingerprint(Xs: np.ndarray, targets: Mapping, config: dict) -> str:
    """A hash of the parameters, the voxels and the targets: a partial fit resumes only on the same inputs."""
    h = hashlib.sha1(json.dumps(config, sort_keys=True).encode())
    h.update(memoryview(np.ascontiguousarray(Xs)).cast("B"))  # sha1 of a memoryview: ~1.6 GB/s, no copy
    for g, Y in targets.items():
        h.update(g.encode())
        target_signature(h, Y)
    return h.hexdigest()
