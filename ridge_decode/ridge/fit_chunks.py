"""What one chunk of a fit does and where it goes: reading a chunk of targets, computing it on the device, writing
it to the store; the state an alpha per group keeps between its two passes; and the fingerprint that lets a partial
fit resume only on the same inputs. ``runner.run_chunks`` runs these through the overlapped loop (``loop.run``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from contextlib import contextmanager

import h5py
import numpy as np

from ..errors import InputError
from ..runtime.io import file_signature
from . import backend, core, solvers
from .device import Device
from .stores import HDF5Store
from .validation import compute_dtype

# The second pass of an alpha per group reuses the first pass's projections Q^T Yc kept on the device, while they
# fit in this many bytes (on a GPU: half its free memory); beyond, it reads those targets again.
PROJECTION_BUDGET_BYTES = 2_000_000_000


def read_columns(Y, start: int, stop: int) -> np.ndarray:
    """Flattened target columns ``[start, stop)`` of ``Y`` (n, ...) (n, stop - start), on the host, in float32 or,
    for float64 and wide integer targets, float64 (``validation.compute_dtype``): their means are taken from the
    caller's values.

    Reads only the slab of ``Y``'s second axis that holds those columns, so h5py datasets and memory maps are
    never loaded whole.
    """
    n = Y.shape[0]
    row = int(np.prod(Y.shape[2:], dtype=np.int64))  # flattened columns per index of axis 1
    i0, i1 = start // row, -(-stop // row)
    block = np.asarray(Y[:, i0:i1]).reshape(n, -1)[:, start - i0 * row : stop - i0 * row]
    return np.asarray(block, dtype=compute_dtype(Y.dtype))


def check_chunk(dev: Device, Yk, group: str, start: int) -> None:
    """Non-finite targets (read lazily from a file, so not checked before the fit) are an ``InputError`` naming
    the group and the flattened columns."""
    finite = (dev._torch.isfinite(Yk) if dev.torch else np.isfinite(Yk)).all(0)
    if not bool(finite.all()):
        bad = start + np.flatnonzero(~dev.to_host(finite, "non-finite target columns"))
        raise InputError(f"target group {group!r} has NaN or infinite values in flattened targets "
                         f"{bad[:5].tolist()}{' ...' if len(bad) > 5 else ''}")



# ---------------------------------------------------------------------------------------------- the store
@contextmanager
def opened(protocol):
    """``resumable_h5``'s (file, resumed) as (``HDF5Store``, resumed)."""
    with protocol as (f, resumed):
        yield HDF5Store(f), resumed


def budget(dev: Device) -> int:
    free = dev.free_bytes()
    return PROJECTION_BUDGET_BYTES if free is None else free // 2


def kept_projections(todo, n: int, budget: int) -> set:
    """The (group, k) whose score-pass projection stays on the device for the solve pass: scored in this run, in
    plan order, while their total size is within ``budget`` bytes."""
    kept, used = set(), 0
    for c in todo:
        if c.stage == "score":
            size = 4 * n * (c.stop - c.start)
            if used + size <= budget:
                kept.add((c.group, c.k))
                used += size
    return kept


class TwoPass:
    """An alpha per group: the projections kept between the passes, and the group's alpha, chosen from the stored
    scores of every chunk once the score pass of the group is written (the same numbers, in the same order, in a
    straight and in a resumed fit)."""

    def __init__(self, st, alphas, todo):
        self.st, self.alphas = st, alphas
        self.projections: dict = {}
        self.pending = {}
        for c in todo:
            if c.stage == "score":
                self.pending[c.group] = self.pending.get(c.group, 0) + 1
        self.cond = threading.Condition()
        self.alpha: dict[str, float] = {}

    def written(self, c) -> None:
        if c.stage == "score":
            with self.cond:
                self.pending[c.group] -= 1
                self.cond.notify_all()

    def group_alpha(self, g: str) -> float:
        if g not in self.alpha:
            with self.cond:
                self.cond.wait_for(lambda: self.pending.get(g, 0) == 0)
            scores = self.st.get(f"groups/{g}/cv_scores")
            self.alpha[g] = float(core.best_group_alpha(backend.get("numpy"), scores, self.alphas))
        return self.alpha[g]


def compute(c, Yk, solver, dev: Device, fixed, state: TwoPass | None, keep) -> solvers.ChunkResult:
    """One chunk on the device, no store access but the two-pass alpha: statistics, scores and coefficients."""
    if c.stage == "solve" and state is not None:
        Z = state.projections.pop((c.group, c.k), None)
        if Z is None:  # not kept: made again from the targets
            Z = solver.project(core.center(dev.b, Yk)[0])
        return solver.solve_with(Z, state.group_alpha(c.group))
    check_chunk(dev, Yk, c.group, c.start)
    Yc, mean, std = core.center(dev.b, Yk)
    if fixed is not None:
        out = solver.solve_fixed(Yc, fixed[c.group])
    elif c.stage == "score":
        out = solver.score(Yc)
        if (c.group, c.k) in keep:
            state.projections[(c.group, c.k)] = out.projection
        out.projection = None
    else:
        out = solver.solve(Yc)
    out.mean, out.std = mean, std
    return out


def store_chunk(st, dev: Device, c, out: solvers.ChunkResult) -> None:
    """Bring one chunk's results to the host and write them (then the store marks the chunk done)."""
    arrays = {}
    for name, value in (("y_mean", out.mean), ("y_std", out.std), ("cv_scores", out.scores), ("coef", out.coef),
                        ("alphas", out.alphas)):
        if value is not None:
            arrays[name] = dev.to_host(value, "chunk " + name)
    st.write_chunk(c.group, c.stage, c.k, c.start, c.stop, arrays)


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
