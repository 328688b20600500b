"""The chunk passes of the engine's GCV solve, one idea at a time, in one process (issue 47).

    python benchmarks/bench_chunk_passes.py --json benchmarks/results/bench_chunk_passes_nsd.json

One chunk of ``--chunk`` targets at NSD's n = 8,859 (float32), 11 alphas; a random orthonormal-sized basis (the
values do not change the cost). Each variant runs ``--repeat`` times, interleaved with the others, and its best
wall and CPU time (``time.process_time``, all threads) are kept, so that the ratios come from the same minutes of a
shared machine; CPU time is the steadier of the two when other jobs share the cores:

- ``projection``: the GEMM ``Q^T Yc`` alone (the floor of a chunk's solve);
- ``plain``: the passes after the projection as the engine made them before issue 47: ``Z * Z`` and
  ``F^2 @ Z^2`` over the whole chunk, then ``B = Z / (s + alpha)`` into new arrays (denominators, reciprocals,
  product);
- ``fused (r rows)``: the same passes as ``core.gcv_solve`` makes them: the scores and the coefficients in row
  sub-blocks of ``r`` eigen-directions (contiguous), the coefficients written over the projection;
- ``centre + isfinite`` against ``centre`` (the finite check taken from the float64 column means instead of a pass
  of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from ridge_decode.ridge import backend, core

B = backend.get("numpy")


def plain_passes(s, Z, alphas, w):
    """The chunk's passes after the projection as they were before the sub-blocks (commit 93b0e26), written out."""
    grid = alphas.astype(np.float32)
    F = grid[:, None] / (s[None, :] + grid[:, None])
    scores = Z.shape[0] * ((F * F) @ (Z * Z)) / ((F @ w[:, None])[:, 0] ** 2)[:, None]
    chosen = alphas[scores.argmin(0)]
    coef = s[:, None] + chosen.astype(np.float32)[None, :]
    coef **= -1
    coef *= Z
    return coef, chosen, scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=8859)
    parser.add_argument("--chunk", type=int, default=4096)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", default="16,64,256,8859", help="rows per sub-block of the fused variants")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    n, c = args.n, args.chunk
    Q = rng.standard_normal((n, n), dtype=np.float32) / np.float32(np.sqrt(n))
    s = np.sort(rng.random(n, dtype=np.float32) * 1e4)
    Y = rng.standard_normal((n, c), dtype=np.float32) + 3
    alphas = np.logspace(1, 6, 11)
    w = core.intercept_dof_weight(B, Q)
    Yc = core.center(B, Y)[0]
    Z = Q.T @ Yc

    def fused(Zown, rows):
        scores = core.gcv_scores(B, s, Zown, alphas, w, rows=rows)
        chosen = core.best_alphas(scores, alphas)
        return core.eigen_coef(B, s, Zown, chosen, out=Zown, rows=rows), chosen, scores

    variants = {
        "projection": lambda _: Q.T @ Yc,
        "plain": lambda _: plain_passes(s, Z, alphas, w),
        **{f"fused ({r} rows)": (lambda Zown, r=int(r): fused(Zown, r)) for r in args.rows.split(",")},
        "centre + isfinite": lambda _: (core.center(B, Y), np.isfinite(Y).all(0)),
        "centre": lambda _: core.center(B, Y),
    }
    best = {k: float("inf") for k in variants}
    cpu = dict(best)
    for _ in range(args.repeat):
        for name, f in variants.items():
            Zown = Z.copy() if name.startswith("fused") else None  # it writes over its projection
            t0, c0 = time.perf_counter(), time.process_time()
            f(Zown)
            best[name] = min(best[name], time.perf_counter() - t0)
            cpu[name] = min(cpu[name], time.process_time() - c0)
    ref = plain_passes(s, Z, alphas, w)
    got = fused(Z.copy(), None)
    agree = {"alphas_equal": float(np.mean(ref[1] == got[1])),
             "coef_max_rel": float(np.abs(got[0] - ref[0]).max() / np.abs(ref[0]).max())}
    print(f"n {n}, chunk {c}, {len(alphas)} alphas, {os.cpu_count()} CPUs, best of {args.repeat}")
    print("| variant | wall s | x plain | x projection | CPU s | CPU x plain |\n|---|---|---|---|---|---|")
    for name, sec in best.items():
        print(f"| {name} | {sec:.3f} | {sec / best['plain']:.2f} | {sec / best['projection']:.3f} | {cpu[name]:.3f} "
              f"| {cpu[name] / cpu['plain']:.2f} |")
    print(f"fused against plain: {agree}")
    if args.json:
        from ridge_decode.runtime.io import versions, write_json

        write_json(args.json, {"config": vars(args), "best_seconds": best, "best_cpu_seconds": cpu, "agreement": agree,
                               "versions": versions()})
        print(f"written: {args.json}")
    return json.dumps(best)


if __name__ == "__main__":
    main()
