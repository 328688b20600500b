"""The out-of-core runner of ``OneStageRidge.fit``: the solver of a fit (``solvers``, by name) and the chunk loop
that runs it over every chunk of targets, overlapped (``loop``), resumable (the store marks each chunk done) and
recorded (the model's ``runs``). The maths it runs is ``core``'s.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from tqdm.auto import tqdm

from . import core, fit_chunks, loop, solvers
from .device import Device


@dataclass
class ChunkRun:
    """How one call of ``fit`` runs its chunks: the alpha grid (A,), the fixed alphas {group: alpha} or None, the
    estimator's ``alpha_per``, ``chunk_size`` and ``solver``/``solver_params``, whether the store was resumed, and the
    run options (``progress``, ``overlap``; ``path`` names the file in the resume message)."""

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


def make_solver(dev: Device, st, K, run: ChunkRun):
    """The solver of this fit, by name (``solvers.SOLVERS``). The eigenbasis is kept in the store: it is the basis
    of the stored coefficients, and a resumed fit takes it back instead of recomputing it."""
    alphas_d = dev.to_device(run.alphas, "alpha grid", np.float64)
    if run.solver == "himalaya":  # dual coefficients, no eigenbasis: predict reads them as they are
        return solvers.SOLVERS["himalaya"](dev, K, run.alphas, alphas_d, run.solver_params)
    if run.fixed is not None:
        return solvers.SOLVERS["fixed"](dev, K)
    if st.attrs.get("basis_complete", False):
        s = dev.to_device(st.get("kernel_eigenvalues"), "eigenvalues (resumed)")
        Q = dev.to_device(st.get("basis"), "basis (resumed)")
    else:
        s, Q = core.eigendecompose(dev.b, K, st.attrs["eigh_dtype"])
        st.put("kernel_eigenvalues", dev.to_host(s, "eigenvalues"))
        st.put("basis", dev.to_host(Q, "basis"))
        st.flush()
        st.attrs["basis_complete"] = True
    return solvers.SOLVERS["gcv"](dev, s, Q, alphas_d)


def run_chunks(st, dev: Device, targets, solver, run: ChunkRun) -> dict[str, float]:
    """Plan the chunks, skip those done, and run the rest through the overlapped loop; returns the seconds
    spent reading, computing and writing, and the loop's wall time. Every call is recorded in the model's
    ``runs`` attribute (when it started, its seconds, the chunks done before it), updated after each chunk.

    With one alpha per group, the first pass scores every chunk and keeps its projection ``Q^T Yc`` on the
    device (within ``fit_chunks.PROJECTION_BUDGET_BYTES``); the second pass divides it by ``s + alpha``. A
    projection not kept (over the budget, or scored by an earlier, interrupted run) is made again from its targets.
    """
    alphas, fixed = run.alphas, run.fixed
    n = int(targets[next(iter(targets))].shape[0])
    two_pass = fixed is None and run.alpha_per == "group"
    passes = ("score", "solve") if two_pass else ("solve",)
    widths = {g: int(np.prod(Y.shape[1:])) for g, Y in targets.items()}
    chunks = loop.plan(widths, run.chunk_size, passes)
    for g, Y in targets.items():
        st.layout_group(g, Y.shape[1:], n, len(alphas), fixed is None, passes,
                        len(range(0, widths[g], run.chunk_size)))
    todo = [c for c in chunks if not st.done(c.group, c.stage, c.k)]
    keep = fit_chunks.kept_projections(todo, n, fit_chunks.budget(dev)) if two_pass else set()
    runs = json.loads(st.attrs.get("runs", "[]")) if run.resumed else []
    runs.append({"started": datetime.now(timezone.utc).isoformat(timespec="seconds"), "seconds": 0.0,
                 "chunks_done_before": len(chunks) - len(todo), "chunks": len(chunks)})
    if run.resumed and run.progress:
        tqdm.write(f"resuming at chunk {len(chunks) - len(todo) + 1} of {len(chunks)} from {run.path}.part")
    st.attrs["runs"] = json.dumps(runs)
    bar = tqdm(total=len(chunks), initial=len(chunks) - len(todo), desc="ridge chunks", unit="chunk",
               disable=not run.progress)
    state = fit_chunks.TwoPass(st, alphas, todo) if two_pass else None
    started = time.perf_counter()

    def read(c):
        if c.stage == "solve" and two_pass and (c.group, c.k) in keep:
            return None  # the projection waits on the device
        block = fit_chunks.read_columns(targets[c.group], c.start, c.stop)
        return dev.to_device(block, "target chunk", block.dtype)

    def compute(c, Yk):
        return fit_chunks.compute(c, Yk, solver, dev, fixed, state, keep)

    def written(c):
        if state is not None:
            state.written(c)
        runs[-1]["seconds"] = time.perf_counter() - started
        st.attrs["runs"] = json.dumps(runs)
        bar.update()

    times = loop.run(todo, read, compute, lambda c, out: fit_chunks.store_chunk(st, dev, c, out),
                     overlap=run.overlap, on_written=written)
    bar.close()
    runs[-1]["seconds"] = time.perf_counter() - started
    st.attrs["runs"] = json.dumps(runs)
    return {"read": times.read, "solve": times.compute, "write": times.write, "loop": times.wall}
