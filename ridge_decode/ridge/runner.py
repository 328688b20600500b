"""The out-of-core runner of ``OneStageRidge.fit``, in one module: the solvers, registered by name in ``SOLVERS``;
the chunk loop that reads, solves and writes every chunk of targets (overlapped by ``runtime.overlap``, resumable:
the store marks each chunk done, and recorded in the model's ``runs``); and the two passes of an alpha per group.
The maths it runs is ``core``'s.

A solver is a class with a ``name``, registered with ``@register``, whose ``build`` makes it for one fit and whose
``solve(c, chunk)`` turns one chunk (``c`` the plan's entry, ``chunk`` its centred targets) into a
``ChunkResult``. Adding a solver is adding one such class here: the estimators' parameter check
(``validation``), the pipeline and the command line read ``SOLVERS``.

| name | used for | what a chunk costs |
|---|---|---|
| ``gcv`` (``EigenGCV``) | alphas chosen per target or per group | one projection ``Q^T Yc`` and an A x n x c product |
| ``fixed`` (``Cholesky``) | one given alpha per group (Brain-Diffuser's baseline) | one triangular solve |
| ``himalaya`` (``HimalayaCV``) | himalaya's ``KernelRidgeCV`` on the same kernel, K-fold | himalaya's own |
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from tqdm.auto import tqdm

from ..errors import InputError
from ..runtime.overlap import run as run_overlapped
from . import backend, core, loop
from .device import Device

DEFAULT_CV = 5  # folds of the "himalaya" solver
# The second pass of an alpha per group reuses the first pass's projections Q^T Yc kept on the device, while they
# fit in this many bytes (on a GPU: half its free memory); beyond, it reads those targets again.
PROJECTION_BUDGET_BYTES = 2_000_000_000

SOLVERS: dict[str, type[Solver]] = {}


def register(cls):
    """Class decorator: ``cls`` becomes the solver ``cls.name`` (the one place a solver is registered)."""
    SOLVERS[cls.name] = cls
    return cls


@dataclass
class ChunkRun:
    """How one call of ``fit`` runs its chunks: the alpha grid (A,), the fixed alphas {group: alpha} or None, the
    estimator's ``alpha_per``, ``chunk_size`` and ``solver``/``solver_params``, whether the store was resumed, the
    run options (``progress``, ``overlap``; ``path`` names the file in the resume message) and the dtype each
    group is read in ({group: dtype}; float32 when absent)."""

    alphas: np.ndarray
    fixed: dict | None
    alpha_per: str
    chunk_size: int
    solver: str = "gcv"
    solver_params: dict | None = None
    resumed: bool = False
    progress: bool = False
    overlap: bool = True
    path: object = None
    dtypes: dict | None = None


@dataclass
class Centred:
    """One chunk's targets as the solver gets them, on the device: centred ``Yc`` (n, c) float32, their mean and
    std (c,) float64. All None for the second pass of an alpha per group whose projection was kept."""

    Yc: object = None
    mean: object = None
    std: object = None


@dataclass
class ChunkResult:
    """One chunk's results, on the device: targets' mean and std (c,) float64 (None in a solve pass that reuses
    them), GCV or CV scores (A, c) float32 (None with a fixed alpha), the alpha of each target (c,) float64 and the
    coefficients (n, c) float32 (in the kernel's eigenbasis for ``gcv``, dual otherwise)."""

    coef: object = None
    alphas: object = None
    scores: object = None
    mean: object = None
    std: object = None


# ------------------------------------------------------------------------------------------------ solvers
class Solver:
    """What every solver has: the device ``dev``, its backend ``b`` and the fit's ``ChunkRun``. ``setup_stage``
    names the ``seconds_`` entry of ``build``'s work (None when it does none worth timing)."""

    name = ""
    setup_stage: str | None = None

    def __init__(self, dev: Device, run: ChunkRun):
        self.dev, self.b, self.run = dev, dev.b, run

    @classmethod
    def build(cls, dev: Device, st, K, run: ChunkRun) -> Solver:
        """The solver of one fit, from the kernel ``K`` (n, n) on the device and the model's store ``st``."""
        raise NotImplementedError

    def passes(self) -> tuple[str, ...]:
        """The passes over every chunk, in order: ("solve",), or ("score", "solve") for two."""
        return ("solve",)

    def start(self, st, todo: list, n: int) -> None:
        """Before the loop, with the chunks still to do: prepare what the passes share."""

    def needs_targets(self, c) -> bool:
        """Whether chunk ``c`` must be read (False when its pass reuses what an earlier pass kept)."""
        return True

    def written(self, c) -> None:
        """After chunk ``c`` was written to the store."""

    def solve(self, c, chunk: Centred) -> ChunkResult:
        """One chunk's results from its centred targets."""
        raise NotImplementedError


@register
class EigenGCV(Solver):
    """Alphas chosen by GCV in the kernel's eigenbasis (``s``, ``Q`` on the device); coefficients in that basis.
    With one alpha per group, two passes: the first scores every chunk (keeping its projection ``Q^T Yc`` on the
    device, within ``PROJECTION_BUDGET_BYTES``), the second divides it by ``s + alpha`` once the group's alpha is
    chosen from the stored scores of every chunk (the same numbers, in the same order, in a straight and in a
    resumed fit). A projection not kept (over the budget, or scored by an earlier, interrupted run) is made again
    from its targets."""

    name = "gcv"
    setup_stage = "eigh"

    def __init__(self, dev: Device, run: ChunkRun, s, Q):
        super().__init__(dev, run)
        self.s, self.Q = s, Q
        self.alphas = dev.to_device(run.alphas, "alpha grid", np.float64)
        self.dof_weight = core.intercept_dof_weight(dev.b, Q)
        self.two_pass = run.alpha_per == "group"
        self.kept: set = set()
        self.projections: dict = {}
        self.pending: dict[str, int] = {}
        self.group_alphas: dict[str, float] = {}
        self.cond = threading.Condition()
        self.st = None

    @classmethod
    def build(cls, dev: Device, st, K, run: ChunkRun) -> EigenGCV:
        """The eigendecomposition of ``K``, kept in the store: it is the basis of the stored coefficients, and a
        resumed fit takes it back instead of recomputing it."""
        if st.attrs.get("basis_complete", False):
            s = dev.to_device(st.get("kernel_eigenvalues"), "eigenvalues (resumed)")
            Q = dev.to_device(st.get("basis"), "basis (resumed)")
        else:
            s, Q = core.eigendecompose(dev.b, K, st.attrs["eigh_dtype"])
            st.put("kernel_eigenvalues", dev.to_host(s, "eigenvalues"))
            st.put("basis", dev.to_host(Q, "basis"))
            st.flush()
            st.attrs["basis_complete"] = True
        return cls(dev, run, s, Q)

    def passes(self):
        return ("score", "solve") if self.two_pass else ("solve",)

    def start(self, st, todo, n):
        self.st = st
        if not self.two_pass:
            return
        free = self.dev.free_bytes()
        budget, used = (PROJECTION_BUDGET_BYTES if free is None else free // 2), 0
        for c in todo:  # scored in this run, in plan order, while their total size is within the budget
            if c.stage == "score":
                self.pending[c.group] = self.pending.get(c.group, 0) + 1
                size = 4 * n * (c.stop - c.start)
                if used + size <= budget:
                    self.kept.add((c.group, c.k))
                    used += size

    def needs_targets(self, c):
        return not (c.stage == "solve" and self.two_pass and (c.group, c.k) in self.kept)

    def written(self, c):
        if c.stage == "score":
            with self.cond:
                self.pending[c.group] -= 1
                self.cond.notify_all()

    def group_alpha(self, g: str) -> float:
        """The group's one alpha, once every chunk of its score pass is written."""
        if g not in self.group_alphas:
            with self.cond:
                self.cond.wait_for(lambda: self.pending.get(g, 0) == 0)
            scores = self.st.get(f"groups/{g}/cv_scores")
            self.group_alphas[g] = float(core.best_group_alpha(backend.get("numpy"), scores, self.run.alphas))
        return self.group_alphas[g]

    def solve(self, c, chunk):
        b, s = self.b, self.s
        if c.stage == "score":
            Z = core.project(b, self.Q, chunk.Yc)
            if (c.group, c.k) in self.kept:
                self.projections[(c.group, c.k)] = Z
            return ChunkResult(scores=core.gcv_scores(b, s, Z, self.alphas, self.dof_weight), mean=chunk.mean,
                               std=chunk.std)
        if self.two_pass:
            Z = self.projections.pop((c.group, c.k), None)
            if Z is None:
                Z = core.project(b, self.Q, chunk.Yc)
            alphas = self.dev.full(Z.shape[1], self.group_alpha(c.group))
            return ChunkResult(coef=core.eigen_coef(b, s, Z, alphas, out=Z), alphas=alphas)
        coef, chosen, scores = core.gcv_solve(b, s, self.Q, chunk.Yc, self.alphas, self.dof_weight)
        return ChunkResult(coef=coef, alphas=chosen, scores=scores, mean=chunk.mean, std=chunk.std)


@register
class Cholesky(Solver):
    """Fixed alphas: one Cholesky factorisation of ``K + alpha I`` per distinct alpha, reused by every chunk (n^3/3
    flops, far less than the eigendecomposition that choosing alphas needs)."""

    name = "fixed"

    def __init__(self, dev: Device, run: ChunkRun, K):
        super().__init__(dev, run)
        self.K, self.factors = K, {}

    @classmethod
    def build(cls, dev, st, K, run):
        return cls(dev, run, K)

    def solve(self, c, chunk):
        """Dual coefficients ``(K + alpha I)^-1 Yc`` (n, c) float32 with the group's alpha."""
        alpha = self.run.fixed[c.group]
        if alpha not in self.factors:
            self.factors[alpha] = core.cholesky_factor(self.b, self.K, alpha)
        coef = core.cholesky_coef(self.b, self.factors[alpha], chunk.Yc)
        return ChunkResult(coef=coef, alphas=self.dev.full(chunk.Yc.shape[1], alpha), mean=chunk.mean,
                           std=chunk.std)


@register
class HimalayaCV(Solver):
    """himalaya's ``KernelRidgeCV`` on the precomputed kernel, K-fold (``solver_params``: ``cv`` and himalaya's
    own), alpha per target; dual coefficients. Its code reads himalaya's process-wide backend (set to this
    device's for the call, and put back)."""

    name = "himalaya"

    def __init__(self, dev: Device, run: ChunkRun, K):
        super().__init__(dev, run)
        params = dict(run.solver_params or {})
        self.K, self.cv, self.params = K, int(params.pop("cv", DEFAULT_CV)), params
        self.alphas_d = dev.to_device(run.alphas, "alpha grid", np.float64)
        self.log_alphas = dev.b.log(self.alphas_d)

    @classmethod
    def build(cls, dev, st, K, run):
        return cls(dev, run, K)

    def solve(self, c, chunk):
        """Dual coefficients (n, c), the alpha chosen per column (c,) and the CV mean squared errors (A, c)."""
        from himalaya.kernel_ridge import KernelRidgeCV  # heavy: only this solver needs it

        with self.dev.himalaya_global():
            model = KernelRidgeCV(alphas=self.run.alphas, kernel="precomputed", cv=self.cv, fit_intercept=False,
                                  solver_params={"local_alpha": True, **self.params}).fit(self.K, chunk.Yc)
        b = self.b
        best = core.cast(b, model.best_alphas_, "float64")  # in float32: snapped to the grid below
        nearest = b.abs(self.log_alphas[:, None] - b.log(best)[None]).argmin(0)
        return ChunkResult(coef=core.cast(b, model.dual_coef_, "float32"), alphas=self.alphas_d[nearest],
                           scores=-core.cast(b, model.cv_scores_, "float32"),  # its score is the negative MSE
                           mean=chunk.mean, std=chunk.std)


# ------------------------------------------------------------------------------------- reading and writing
def read_columns(Y, start: int, stop: int, dtype=np.float32) -> np.ndarray:
    """Flattened target columns ``[start, stop)`` of ``Y`` (n, ...) (n, stop - start), on the host, as ``dtype``
    (float32, or float64 for float64 and wide integer targets, whose means are taken from the caller's values).

    Reads only the slab of ``Y``'s second axis that holds those columns, so h5py datasets and memory maps are
    never loaded whole.
    """
    n = Y.shape[0]
    row = int(np.prod(Y.shape[2:], dtype=np.int64))  # flattened columns per index of axis 1
    i0, i1 = start // row, -(-stop // row)
    block = np.asarray(Y[:, i0:i1]).reshape(n, -1)[:, start - i0 * row : stop - i0 * row]
    return np.asarray(block, dtype=dtype)


def check_finite(dev: Device, mean, group: str, start: int) -> None:
    """Non-finite targets (read lazily from a file, so not checked before the fit) are an ``InputError`` naming
    the group and the flattened columns. A column's float64 sum of finite float32 values is finite, so its mean
    says it without another pass over the chunk."""
    finite = backend.finite(dev.b, mean)
    if not bool(finite.all()):
        bad = start + np.flatnonzero(~dev.to_host(finite, "non-finite target columns"))
        raise InputError(f"target group {group!r} has NaN or infinite values in flattened targets "
                         f"{bad[:5].tolist()}{' ...' if len(bad) > 5 else ''}")


def store_chunk(st, dev: Device, c, out: ChunkResult) -> None:
    """Bring one chunk's results to the host and write them (then the store marks the chunk done)."""
    arrays = {}
    for name, value in (("y_mean", out.mean), ("y_std", out.std), ("cv_scores", out.scores), ("coef", out.coef),
                        ("alphas", out.alphas)):
        if value is not None:
            arrays[name] = dev.to_host(value, "chunk " + name)
    st.write_chunk(c.group, c.stage, c.k, c.start, c.stop, arrays)


# ---------------------------------------------------------------------------------------------- the loop
def run_chunks(st, dev: Device, targets, solver: Solver, run: ChunkRun) -> dict[str, float]:
    """Plan the chunks, skip those done, and run the rest: chunk k+1 is read and centred (on a reader thread) and
    chunk k-1 written (on a writer thread) while ``solver`` solves chunk k; returns the seconds spent reading
    (centring included), solving and writing, and the loop's wall time. Every call is recorded in the model's
    ``runs`` attribute (when it started, its seconds, the chunks done before it), updated after each chunk."""
    n = int(targets[next(iter(targets))].shape[0])
    passes = solver.passes()
    widths = {g: int(np.prod(Y.shape[1:])) for g, Y in targets.items()}
    chunks = loop.plan(widths, run.chunk_size, passes)
    for g, Y in targets.items():
        st.layout_group(g, Y.shape[1:], n, len(run.alphas), run.fixed is None, passes,
                        len(range(0, widths[g], run.chunk_size)))
    todo = [c for c in chunks if not st.done(c.group, c.stage, c.k)]
    solver.start(st, todo, n)
    runs = json.loads(st.attrs.get("runs", "[]")) if run.resumed else []
    runs.append({"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seconds": 0.0,
                 "chunks_done_before": len(chunks) - len(todo), "chunks": len(chunks)})
    if run.resumed and run.progress:
        tqdm.write(f"resuming at chunk {len(chunks) - len(todo) + 1} of {len(chunks)} from {run.path}.part")
    st.attrs["runs"] = json.dumps(runs)
    bar = tqdm(total=len(chunks), initial=len(chunks) - len(todo), desc="ridge chunks", unit="chunk",
               disable=not run.progress)
    dtypes = run.dtypes or {}
    started = time.perf_counter()

    def read(c):
        if not solver.needs_targets(c):
            return Centred()
        dtype = np.dtype(dtypes.get(c.group, np.float32))
        Yk = dev.to_device(read_columns(targets[c.group], c.start, c.stop, dtype), "target chunk", dtype)
        Yc, mean, std = core.center(dev.b, Yk)
        check_finite(dev, mean, c.group, c.start)
        return Centred(Yc, mean, std)

    def written(c):
        solver.written(c)
        runs[-1]["seconds"] = time.perf_counter() - started
        st.attrs["runs"] = json.dumps(runs)
        bar.update()

    times = run_overlapped(todo, read, solver.solve, lambda c, out: store_chunk(st, dev, c, out),
                           overlap=run.overlap, on_written=written)
    bar.close()
    runs[-1]["seconds"] = time.perf_counter() - started
    st.attrs["runs"] = json.dumps(runs)
    return {"read": times.read, "solve": times.compute, "write": times.write, "loop": times.wall}
