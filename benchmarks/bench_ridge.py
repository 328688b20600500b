"""Ridge engine benchmark: this engine against himalaya KernelRidgeCV, sklearn RidgeCV and a fixed-alpha Ridge.

    python benchmarks/bench_ridge.py                       # NSD scale: n=8859, 982 test, p=15724, t=12288
    python benchmarks/bench_ridge.py --quick               # small scale, under a minute
    python benchmarks/bench_ridge.py --mid --only ridge_decode,ridge_decode_ridgegcv,sklearn_ridgecv
    python benchmarks/bench_ridge.py --targets 88000 --only ridge_decode

All methods see the same in-memory synthetic data: a 64-dimensional latent drives both the voxels and the
targets, each target with its own signal-to-noise ratio, so that held-out correlation means something and the
best alpha differs between targets. Each method runs in its own process, so peak RSS is measured per method
(it includes the data: X, X_test, Y, Y_test). Wall time covers fitting plus predicting the test rows; data
generation and standardisation are excluded for every method alike. Every method gets the same alpha grid;
the fixed-alpha Ridge uses one value of it (reported). Prints a markdown table and writes JSON.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

METHODS = ("ridge_decode", "ridge_decode_ridgegcv", "himalaya_kernelridgecv", "sklearn_ridgecv", "sklearn_ridge_fixed")
NSD = {"n_train": 8859, "n_test": 982, "n_voxels": 15724, "n_targets": 12288}
QUICK = {"n_train": 1500, "n_test": 300, "n_voxels": 3000, "n_targets": 2048}
MID = {"n_train": 2000, "n_test": 400, "n_voxels": 4000, "n_targets": 2000}  # the RidgeGCV anchor (docs/performance.md)
# imported before the clock starts; the engine's eigendecomposition runs in torch (MKL) when it is installed
MODULES = {"ridge_decode": ["ridge_decode.ridge", "torch"], "ridge_decode_ridgegcv": ["ridge_decode.ridge", "torch"],
           "himalaya_kernelridgecv": ["himalaya.kernel_ridge"],
           "sklearn_ridgecv": ["sklearn.linear_model"], "sklearn_ridge_fixed": ["sklearn.linear_model"]}
LATENT_DIM = 64
# The grid of the anchor measurements in docs/performance.md (11 values over 1e1..1e6), so that the
# anchors' published timings stay comparable; the engine's own default grid is 20 values over 1e0..1e8.
DEFAULT_ALPHAS = "1:6:11"
DEFAULT_FIXED_ALPHA = 1e4
ONLY_CHEAP_ABOVE = 20_000  # targets; sklearn RidgeCV needs ~14 GB already at 12,288
CHEAP = ("ridge_decode", "sklearn_ridge_fixed")


def make_data(n_train, n_test, n_voxels, n_targets, seed=0, block=4096):
    """Voxels and targets (float32) from a shared latent, targets generated block by block to bound memory.

    X = L A + noise (voxel SNR varies), Y = L B + noise with a per-target signal scale log-uniform in [0.1, 3].
    Returns X_train (n, p), X_test, Y_train (n, t), Y_test, all standardised/centred as the methods expect.
    """
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    L = rng.standard_normal((n, LATENT_DIM)).astype(np.float32)
    A = (rng.standard_normal((LATENT_DIM, n_voxels)) * rng.uniform(0.02, 0.3, n_voxels)).astype(np.float32)
    X = L @ A
    X += rng.standard_normal((n, n_voxels), dtype=np.float32)
    Y = np.empty((n, n_targets), dtype=np.float32)
    for a in range(0, n_targets, block):
        z = min(a + block, n_targets)
        scale = np.exp(rng.uniform(np.log(0.1), np.log(3.0), z - a))
        B = (rng.standard_normal((LATENT_DIM, z - a)) * scale).astype(np.float32)
        Y[:, a:z] = L @ B / np.sqrt(LATENT_DIM)
        Y[:, a:z] += rng.standard_normal((n, z - a), dtype=np.float32)
    mean, sd = X[:n_train].mean(0), X[:n_train].std(0, ddof=1)
    X -= mean
    X /= sd
    return X[:n_train], X[n_train:], Y[:n_train], Y[n_train:]


def mean_r(pred, true):
    """Mean over targets of the held-out Pearson correlation."""
    p = pred - pred.mean(0)
    t = true - true.mean(0)
    r = (p * t).sum(0) / np.sqrt((p * p).sum(0) * (t * t).sum(0))
    return float(np.nanmean(r))


def run_method(name, X, Xt, Y, alphas, fixed_alpha, backend, chunk_size, workdir):
    """Fit ``name`` on (X, Y) and predict Xt; returns predictions and extra facts for the report."""
    extra = {}
    if name == "ridge_decode":
        from ridge_decode.ridge import OneStageRidge

        model = OneStageRidge(alphas=alphas, backend=backend, chunk_size=chunk_size,
                              path=Path(workdir) / "model.h5").fit(X, {"y": Y})
        pred = model.predict(Xt)["y"]
        chosen = model.alphas_["y"]
        extra = {"stage_seconds": model.seconds_, "backend": backend, "chunk_size": chunk_size,
                 "median_alpha": float(np.median(chosen))}
    elif name == "ridge_decode_ridgegcv":  # the scikit-learn regressor: in memory, arrays in and out
        from ridge_decode.ridge import RidgeGCV

        model = RidgeGCV(alphas=alphas, backend=backend, chunk_size=chunk_size).fit(X, Y)
        pred = model.predict(Xt)
        extra = {"backend": backend, "median_alpha": float(np.median(model.alpha_))}
    elif name == "himalaya_kernelridgecv":
        from himalaya.backend import set_backend
        from himalaya.kernel_ridge import KernelRidgeCV

        set_backend("numpy")
        model = KernelRidgeCV(alphas=alphas, kernel="linear", cv=5, fit_intercept=True,
                              solver_params={"n_targets_batch": 4096, "n_alphas_batch": len(alphas),
                                             "n_targets_batch_refit": 4096})
        pred = model.fit(X, Y).predict(Xt)
        extra = {"median_alpha": float(np.median(model.best_alphas_))}
    elif name == "sklearn_ridgecv":
        from sklearn.linear_model import RidgeCV

        model = RidgeCV(alphas=alphas, alpha_per_target=True).fit(X, Y)
        pred = model.predict(Xt)
        extra = {"median_alpha": float(np.median(model.alpha_))}
    elif name == "sklearn_ridge_fixed":
        from sklearn.linear_model import Ridge

        pred = Ridge(alpha=fixed_alpha).fit(X, Y).predict(Xt)
        extra = {"alpha": fixed_alpha}
    else:
        raise ValueError(f"unknown method {name!r}; known: {METHODS}")
    return np.asarray(pred, dtype=np.float32), extra


def worker(args):
    """One method in this process: generate data, time fit + predict, report r and peak RSS as JSON."""
    cfg = json.loads(args.worker_config)
    X, Xt, Y, Yt = make_data(cfg["n_train"], cfg["n_test"], cfg["n_voxels"], cfg["n_targets"], cfg["seed"])
    alphas = np.asarray(cfg["alphas"])
    for module in MODULES[args.worker]:  # imports are not part of a method's time
        importlib.import_module(module)
    with tempfile.TemporaryDirectory(dir=cfg.get("workdir")) as workdir:
        t0 = time.perf_counter()
        pred, extra = run_method(args.worker, X, Xt, Y, alphas, cfg["fixed_alpha"], cfg["backend"],
                                 cfg["chunk_size"], workdir)
        seconds = time.perf_counter() - t0
    out = {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "mean_r": mean_r(pred, Yt), **extra}
    print("RESULT " + json.dumps(out), flush=True)


def parse_alphas(text):
    lo, hi, k = text.split(":")
    return np.logspace(float(lo), float(hi), int(k))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"small scale ({QUICK}), under a minute")
    parser.add_argument("--mid", action="store_true", help=f"the RidgeGCV anchor's scale ({MID})")
    parser.add_argument("--targets", type=int, default=None, help="number of targets (default 12288)")
    parser.add_argument("--only", default=None, help="comma-separated methods, from " + ",".join(METHODS))
    parser.add_argument("--alphas", default=DEFAULT_ALPHAS, help="log10 grid lo:hi:n (default %(default)s)")
    parser.add_argument("--fixed-alpha", type=float, default=DEFAULT_FIXED_ALPHA,
                        help="sklearn_ridge_fixed's alpha; must be in the grid (default %(default)g)")
    parser.add_argument("--backend", default="numpy", help="this engine's himalaya backend")
    parser.add_argument("--chunk-size", type=int, default=4096, help="this engine's targets per chunk")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=None, help="where the engine writes its model (a temporary folder)")
    parser.add_argument("--json", default="benchmarks/results/bench_ridge.json", help="output JSON")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-config", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    scale = dict(QUICK if args.quick else MID if args.mid else NSD)
    if args.targets:
        scale["n_targets"] = args.targets
    alphas = parse_alphas(args.alphas)
    if not np.isclose(alphas, args.fixed_alpha).any():
        parser.error(f"--fixed-alpha {args.fixed_alpha:g} is not in the grid {alphas}")
    if args.only:
        methods = [m.strip() for m in args.only.split(",") if m.strip()]
        unknown = sorted(set(methods) - set(METHODS))
        if unknown:
            parser.error(f"unknown methods {unknown}; known: {list(METHODS)}")
    else:
        methods = list(CHEAP if scale["n_targets"] > ONLY_CHEAP_ABOVE else METHODS)
    config = {**scale, "latent_dim": LATENT_DIM, "seed": args.seed, "alphas": alphas.tolist(),
              "fixed_alpha": args.fixed_alpha, "backend": args.backend, "chunk_size": args.chunk_size,
              "workdir": args.workdir, "cpu_count": os.cpu_count(), "methods": methods}
    results = {}
    for name in methods:
        print(f"running {name} ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--worker-config", json.dumps(config)],
                              capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            results[name] = {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
            print(f"  failed: {results[name]['error']}", flush=True)
            continue
        results[name] = json.loads(lines[-1][len("RESULT "):])
        print(f"  {results[name]['seconds']:.1f} s, r {results[name]['mean_r']:.4f}, "
              f"{results[name]['peak_rss_mb']:.0f} MB", flush=True)

    ours = results.get("ridge_decode", {})
    for res in results.values():
        if "seconds" in res and "seconds" in ours:
            res["time_ratio_to_ridge_decode"] = res["seconds"] / ours["seconds"]
            res["r_minus_ridge_decode"] = res["mean_r"] - ours["mean_r"]
    print()
    print(f"n_train {scale['n_train']}, n_test {scale['n_test']}, voxels {scale['n_voxels']}, "
          f"targets {scale['n_targets']}, {len(alphas)} alphas {alphas[0]:g}..{alphas[-1]:g}, "
          f"fixed alpha {args.fixed_alpha:g}, {os.cpu_count()} CPUs")
    print("| method | wall s | x ridge_decode | mean held-out r | r - ridge_decode | peak RSS GB |")
    print("|---|---|---|---|---|---|")
    for name, res in results.items():
        if "error" in res:
            print(f"| {name} | failed | | | | |")
            continue
        print(f"| {name} | {res['seconds']:.1f} | {res.get('time_ratio_to_ridge_decode', float('nan')):.2f} | "
              f"{res['mean_r']:.4f} | {res.get('r_minus_ridge_decode', float('nan')):+.4f} | "
              f"{res['peak_rss_mb'] / 1024:.2f} |")
    from ridge_decode.io import versions, write_json

    path = write_json(args.json, {"config": config, "methods": results, "versions": versions()})
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
