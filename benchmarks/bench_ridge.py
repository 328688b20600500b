"""Ridge engine benchmark: this engine against himalaya KernelRidgeCV, sklearn RidgeCV and a fixed-alpha Ridge.

    python benchmarks/bench_ridge.py                       # NSD scale: n=8859, 982 test, p=15724, t=12288
    python benchmarks/bench_ridge.py --quick               # small scale, under a minute
    python benchmarks/bench_ridge.py --mid --only ridge_decode,ridge_decode_ridgegcv,sklearn_ridgecv
    python benchmarks/bench_ridge.py --targets 88000 --only ridge_decode
    python benchmarks/bench_ridge.py --only ridge_decode,ridge_decode_baseline   # against the engine before the
                                                                                 # device refactor, same run
    python benchmarks/bench_ridge.py --overlap --chunk-size 512 --slow-write auto  # the loop's overlap, shown
    python benchmarks/bench_ridge.py --backend torch_cuda --only ridge_decode,himalaya_kernelridgecv  # on a GPU

All methods see the same in-memory synthetic data: a 64-dimensional latent drives both the voxels and the
targets, each target with its own signal-to-noise ratio, so that held-out correlation means something and the
best alpha differs between targets. Each method runs in its own process, so peak RSS is measured per method
(it includes the data: X, X_test, Y, Y_test). Wall time covers fitting plus predicting the test rows; data
generation and standardisation are excluded for every method alike. Every method gets the same alpha grid;
the fixed-alpha Ridge uses one value of it (reported). Prints a markdown table and writes JSON.

For this engine it also prints each stage's seconds and the bytes that crossed between host and device (fit and
predict), and the chunk loop's wall time against the sum of its read, compute and write times. ``--overlap`` runs
the engine twice, its loop overlapped and not, with a benchmark-only slowed store (``--slow-write``: a sleep per
chunk written; ``auto`` takes the mean compute time of a chunk, measured first), so that writing is not negligible.
``ridge_decode_baseline`` is the engine at ``--baseline-ref`` (a git commit: by default the one before the
engine's device refactor), run from a temporary git worktree in its own process, on the same data.
"""

from __future__ import annotations

import argparse
import contextlib
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

METHODS = ("ridge_decode", "ridge_decode_baseline", "ridge_decode_ridgegcv", "himalaya_kernelridgecv",
           "sklearn_ridgecv", "sklearn_ridge_fixed")
BASELINE_REF = "94c79d5"  # the engine before its rebuild around one device boundary (docs/performance.md)
NSD = {"n_train": 8859, "n_test": 982, "n_voxels": 15724, "n_targets": 12288}
QUICK = {"n_train": 1500, "n_test": 300, "n_voxels": 3000, "n_targets": 2048}
MID = {"n_train": 2000, "n_test": 400, "n_voxels": 4000, "n_targets": 2000}  # the RidgeGCV anchor (docs/performance.md)
# imported before the clock starts; the engine's eigendecomposition runs in torch (MKL) when it is installed
ENGINE = ["ridge_decode.ridge", "torch", "himalaya.backend.numpy", "himalaya.backend.torch"]
MODULES = {"ridge_decode": ENGINE, "ridge_decode_baseline": ENGINE, "ridge_decode_ridgegcv": ENGINE,
           "himalaya_kernelridgecv": ["himalaya.kernel_ridge"],
           "sklearn_ridgecv": ["sklearn.linear_model"], "sklearn_ridge_fixed": ["sklearn.linear_model"]}
LATENT_DIM = 64
# The grid of the anchor measurements in docs/performance.md (11 values over 1e1..1e6), so that the
# anchors' published timings stay comparable; the engine's own default grid is 20 values over 1e0..1e8.
DEFAULT_ALPHAS = "1:6:11"
DEFAULT_FIXED_ALPHA = 1e4
ONLY_CHEAP_ABOVE = 20_000  # targets; sklearn RidgeCV needs ~14 GB already at 12,288
CHEAP = ("ridge_decode", "sklearn_ridge_fixed")
# the methods that run on --backend (scikit-learn's run on the CPU whatever it is)
ON_BACKEND = ("ridge_decode", "ridge_decode_baseline", "ridge_decode_ridgegcv", "himalaya_kernelridgecv")


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


def _crossed(crossings: dict) -> dict:
    """Bytes and calls in each direction, from ``OneStageRidge.crossings_``."""
    out = {}
    for (direction, _), (calls, nbytes) in crossings.items():
        d = out.setdefault(direction, {"calls": 0, "bytes": 0})
        d["calls"] += calls
        d["bytes"] += nbytes
    return out


def _slow_store(seconds: float) -> None:
    """The benchmark-only slowed store: every chunk write sleeps ``seconds`` first."""
    from ridge_decode.ridge import stores

    real = stores.HDF5Store.write_chunk

    def slow(self, *args):
        time.sleep(seconds)
        return real(self, *args)

    stores.HDF5Store.write_chunk = slow


def run_method(name, X, Xt, Y, alphas, fixed_alpha, backend, chunk_size, workdir, cfg=None):
    """Fit ``name`` on (X, Y) and predict Xt; returns predictions and extra facts for the report."""
    extra, cfg = {}, cfg or {}
    if name in ("ridge_decode", "ridge_decode_baseline"):
        from ridge_decode.ridge import OneStageRidge

        options = {} if name == "ridge_decode_baseline" else {"overlap": cfg.get("overlap", True)}
        if cfg.get("slow_write"):
            _slow_store(cfg["slow_write"])
        model = OneStageRidge(alphas=alphas, device=backend, chunk_size=chunk_size,
                              path=Path(workdir) / "model.h5").fit(X, {"y": Y}, **options)
        fit_crossed = _crossed(getattr(model, "crossings_", {}))
        t0 = time.perf_counter()
        pred = model.predict(Xt)["y"]
        model.seconds_["predict"] = time.perf_counter() - t0
        chosen = model.alphas_["y"]
        extra = {"stage_seconds": model.seconds_, "backend": backend, "chunk_size": chunk_size,
                 "median_alpha": float(np.median(chosen)), "crossed_fit": fit_crossed,
                 "crossed_predict": _crossed(getattr(model, "crossings_", {})),
                 "overlap": options.get("overlap"), "slow_write": cfg.get("slow_write")}
    elif name == "ridge_decode_ridgegcv":  # the scikit-learn regressor: in memory, arrays in and out
        from ridge_decode.ridge import RidgeGCV

        model = RidgeGCV(alphas=alphas, device=backend, chunk_size=chunk_size).fit(X, Y)
        pred = model.predict(Xt)
        extra = {"backend": backend, "median_alpha": float(np.median(model.alpha_))}
    elif name == "himalaya_kernelridgecv":
        from himalaya.backend import set_backend
        from himalaya.kernel_ridge import KernelRidgeCV

        b = set_backend(backend)  # its own process: himalaya's global backend is this method's alone
        model = KernelRidgeCV(alphas=alphas, kernel="linear", cv=5, fit_intercept=True,
                              solver_params={"n_targets_batch": 4096, "n_alphas_batch": len(alphas),
                                             "n_targets_batch_refit": 4096})
        pred = b.to_numpy(model.fit(b.asarray(X), b.asarray(Y)).predict(b.asarray(Xt)))
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


def measure_floor(X, Xt, Y, chunk_size, backend_name="numpy"):
    """The dense algebra any exact GCV ridge must do, timed in this process on the benchmark's shapes and dtypes
    (issue 47): the kernel GEMM ``X X^T`` (n x p x n), the eigendecomposition of that (n, n) float32 kernel with
    the engine's own driver (``backend.eigh``), the projection GEMM ``Q^T Y`` (n x n x t) and the prediction GEMM
    (n_test x n x t), both over contiguous chunks of ``chunk_size`` columns into outputs made before the clock.
    Returns seconds."""
    from ridge_decode.ridge import backend

    b = backend.get(backend_name)
    out = {}
    t0 = time.perf_counter()
    K = X @ X.T
    out["kernel"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, Q = backend.eigh(b, K)
    out["eigh"] = time.perf_counter() - t0
    del K
    Q = np.asarray(Q, dtype=np.float32)
    n, t = Y.shape
    M = np.ascontiguousarray(np.resize(Xt, (len(Xt), n)), dtype=np.float32)  # (n_test, n), like Xs_test Xs^T Q
    for name, left in (("projection", Q.T), ("prediction", M)):
        out[name] = 0.0
        for a in range(0, t, chunk_size):
            # a contiguous chunk and its output, made before the clock: the engine's GEMMs get contiguous chunks
            # (a strided column slice of the whole Y was measured slower than the engine's own solve)
            right = np.ascontiguousarray(Y[:, a : a + chunk_size])
            dest = np.empty((left.shape[0], right.shape[1]), dtype=np.float32)
            t0 = time.perf_counter()
            np.matmul(left, right, out=dest)
            out[name] += time.perf_counter() - t0
        del right, dest
    out["sum"] = sum(out.values())
    return out


# the engine's time of each floor stage: (engine stages, floor stage)
FLOOR_STAGES = {"kernel": ("kernel",), "eigh": ("eigh",), "projection": ("solve",), "prediction": ("predict",)}


def floor_ratios(engine: dict, floor: dict) -> dict:
    """The engine's time over the floor's, overall (fit + predict over the floor's sum) and per stage, and
    ``eigh_matched``: overall with the engine's eigendecomposition counted at the floor's time for that same call.

    The eigendecomposition is one call in both, so its part of the ratio is 1 by construction (issue 47); but on
    the 2-core machine the same call on the same kernel took 61 to 78 s from run to run, a spread larger than the
    whole 20% budget. ``eigh_matched`` takes that noise out and measures everything around the call."""
    stages = engine["stage_seconds"]
    out = {"overall": engine["seconds"] / floor["sum"]}
    for stage, mine in FLOOR_STAGES.items():
        out[stage] = sum(stages.get(k, 0.0) for k in mine) / floor[stage]
    # a fit that took its basis back from a resumed file made no eigendecomposition: nothing to match
    eigh = stages.get("eigh")
    out["eigh_matched"] = out["overall"] if eigh is None else (engine["seconds"] - eigh + floor["eigh"]) / floor["sum"]
    return out


def worker(args):
    """One method in this process: generate data, time fit + predict, report r and peak RSS as JSON."""
    cfg = json.loads(args.worker_config)
    if args.worker == "ridge_decode_baseline":
        sys.path.insert(0, cfg["baseline_tree"])  # the engine of --baseline-ref, before this checkout's
    X, Xt, Y, Yt = make_data(cfg["n_train"], cfg["n_test"], cfg["n_voxels"], cfg["n_targets"], cfg["seed"])
    alphas = np.asarray(cfg["alphas"])
    for module in MODULES[args.worker]:  # imports are not part of a method's time
        importlib.import_module(module)
    cuda = args.worker in ON_BACKEND and cfg["backend"].startswith("torch_cuda")
    if cuda:
        _warm_cuda()
    with tempfile.TemporaryDirectory(dir=cfg.get("workdir")) as workdir:
        t0 = time.perf_counter()
        pred, extra = run_method(args.worker, X, Xt, Y, alphas, cfg["fixed_alpha"], cfg["backend"],
                                 cfg["chunk_size"], workdir, cfg)
        seconds = time.perf_counter() - t0
    out = {"seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "mean_r": mean_r(pred, Yt), **extra}
    if cfg.get("floor") and args.worker == "ridge_decode":  # after the engine: its peak RSS is its own
        del pred
        out["floor_seconds"] = measure_floor(X, Xt, Y, cfg["chunk_size"], cfg["backend"])
        out["floor_ratio"] = floor_ratios(out, out["floor_seconds"])
    if cuda:
        import torch

        out |= {"gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20, "device": torch.cuda.get_device_name(0)}
    print("RESULT " + json.dumps(out), flush=True)


def _warm_cuda() -> None:
    """Before the clock, for every method on a CUDA backend alike (as imports are): create the CUDA context and the
    cuBLAS and cuSOLVER handles on small arrays, then reset the peak-memory counter. The first CUDA call of a
    process pays these (about 0.5 s, more with eager module loading), whatever the method."""
    import torch

    a = torch.randn(64, 64, device="cuda")
    torch.linalg.eigh(a @ a.T)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()


def run_worker(name: str, config: dict) -> dict:
    """One method in its own process; its result (or the error)."""
    print(f"running {name} ...", flush=True)
    proc = subprocess.run([sys.executable, __file__, "--worker", name, "--worker-config", json.dumps(config)],
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        result = {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-2000:]}"}
        print(f"  failed: {result['error']}", flush=True)
        return result
    result = json.loads(lines[-1][len("RESULT "):])
    gpu = f", GPU peak {result['gpu_peak_mb']:.0f} MB" if "gpu_peak_mb" in result else ""
    print(f"  {result['seconds']:.1f} s, r {result['mean_r']:.4f}, {result['peak_rss_mb']:.0f} MB{gpu}", flush=True)
    return result


@contextlib.contextmanager
def baseline_tree(ref):
    """A temporary git worktree of this repository at ``ref`` (None: nothing to make); yields its path."""
    if ref is None:
        yield None
        return
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        tree = str(Path(tmp) / "baseline")
        subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach", tree, ref], check=True,
                       capture_output=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", tree], capture_output=True)


def load_reference(path: str, config: dict) -> dict:
    """ridge_decode's result in ``path``, a JSON of this script on the same data (the same sizes, seed and alphas:
    the data are generated from the seed), checked before anything runs: its file, backend and held-out r."""
    ref = json.loads(Path(path).read_text())
    same = ("n_train", "n_test", "n_voxels", "n_targets", "latent_dim", "seed")
    differ = [k for k in same if ref["config"].get(k) != config[k]]
    theirs = ref["config"].get("alphas", [])
    if len(theirs) != len(config["alphas"]) or not np.allclose(theirs, config["alphas"], rtol=1e-9):
        differ.append("alphas")
    if differ:
        raise SystemExit(f"--reference {path}: made on other data ({', '.join(differ)} differ)")
    ours = ref["methods"].get("ridge_decode", {})
    if "mean_r" not in ours:
        raise SystemExit(f"--reference {path}: it has no ridge_decode result")
    return {"file": str(path), "backend": ref["config"].get("backend"), "mean_r": ours["mean_r"]}


def print_floor(res: dict) -> None:
    """The engine against the floor measured in its process: seconds and ratios, overall and per stage."""
    fl, ratio, st = res["floor_seconds"], res["floor_ratio"], res["stage_seconds"]
    print("| stage | engine s | floor s | engine / floor |\n|---|---|---|---|")
    for stage, mine in FLOOR_STAGES.items():
        print(f"| {stage} ({'+'.join(mine)}) | {sum(st.get(k, 0.0) for k in mine):.2f} | {fl[stage]:.2f} | "
              f"{ratio[stage]:.2f} |")
    print(f"| overall (fit + predict) | {res['seconds']:.2f} | {fl['sum']:.2f} | {ratio['overall']:.2f} |")
    matched = ratio["eigh_matched"]
    print(f"| overall, the engine's eigh counted at the floor's | {matched * fl['sum']:.2f} | {fl['sum']:.2f} | "
          f"{matched:.2f} |")


def print_engine(results: dict) -> None:
    """This engine's stages and the bytes that crossed between host and device."""
    for name in ("ridge_decode", "ridge_decode_baseline"):
        res = results.get(name, {})
        if "stage_seconds" not in res:
            continue
        st = res["stage_seconds"]
        print(f"\n{name} stages (s): " + ", ".join(f"{k} {v:.2f}" for k, v in st.items()))
        if "floor_ratio" in res:
            print_floor(res)
        if "loop" in st:
            parts = [st.get(k, 0.0) for k in ("read", "solve", "write")]
            print(f"  chunk loop: wall {st['loop']:.2f} s; read + compute + write = {sum(parts):.2f} s; largest "
                  f"{max(parts):.2f} s (wall / largest {st['loop'] / max(max(parts), 1e-9):.2f})")
        for what in ("crossed_fit", "crossed_predict"):
            for direction, d in (res.get(what) or {}).items():
                print(f"  {what[8:]}: {direction} {d['calls']} calls, {d['bytes'] / 1e6:.1f} MB")


def overlap_demo(config: dict, args) -> None:
    """The engine's loop overlapped against one step after the other, with the store slowed; table and JSON."""
    rows = {}
    slow = args.slow_write
    if slow == "auto":  # first, unslowed and sequential: a chunk's compute time
        probe = run_worker("ridge_decode", {**config, "overlap": False})
        st = probe["stage_seconds"]
        n_chunks = -(-config["n_targets"] // config["chunk_size"])
        slow = st["solve"] / n_chunks
        rows["sequential, store not slowed"] = probe
    slow = float(slow)
    for overlap in (False, True):
        label = f"{'overlapped' if overlap else 'sequential'}, store slowed {slow:.3f} s per chunk"
        rows[label] = run_worker("ridge_decode", {**config, "overlap": overlap, "slow_write": slow})
    print(f"\nn_train {config['n_train']}, voxels {config['n_voxels']}, targets {config['n_targets']}, chunk "
          f"{config['chunk_size']}, backend {config['backend']}, {os.cpu_count()} CPUs")
    print("| loop | read s | compute s | write s | loop wall s | wall / largest | wall / sum | fit + predict s |")
    print("|---|---|---|---|---|---|---|---|")
    for label, res in rows.items():
        st = res["stage_seconds"]
        parts = [st["read"], st["solve"], st["write"]]
        print(f"| {label} | {parts[0]:.2f} | {parts[1]:.2f} | {parts[2]:.2f} | {st['loop']:.2f} | "
              f"{st['loop'] / max(parts):.2f} | {st['loop'] / sum(parts):.2f} | {res['seconds']:.1f} |")
    from ridge_decode.runtime.io import versions, write_json

    path = write_json(args.json, {"config": {**config, "slow_write": slow}, "runs": rows, "versions": versions()})
    print(f"\nwritten: {path}")


# the sizes of --scaling: (n_train, n_targets), the largest first (the JSON is written after each); p and n_test
# stay NSD's
SCALING = [(8859, 88000), (8859, 12288), (8859, 2048), (5000, 12288), (2000, 12288)]
# sklearn's Ridge forms primal weights (p, t): 5.5 GB at 88,000 targets on top of the data; not run beyond this
SKLEARN_MAX_TARGETS = 20_000


def scaling(config: dict, args) -> None:
    """Time against targets and against n: the engine with its floor, and sklearn's fixed-alpha Ridge, each size
    and method in its own process, one after the other; one table and one JSON."""
    rows = []
    for n_train, n_targets in SCALING:
        cfg = {**config, "n_train": n_train, "n_targets": n_targets, "floor": True}
        row = {"n_train": n_train, "n_targets": n_targets, "ridge_decode": run_worker("ridge_decode", cfg)}
        if n_targets <= SKLEARN_MAX_TARGETS:
            row["sklearn_ridge_fixed"] = run_worker("sklearn_ridge_fixed", cfg)
        else:
            row["sklearn_ridge_fixed"] = {"skipped": f"its primal weights (p, t) alone take "
                                                     f"{4 * NSD['n_voxels'] * n_targets / 1e9:.1f} GB"}
        rows.append(row)
        _write_scaling(args.json, config, rows)
    print(f"\np {NSD['n_voxels']}, n_test {NSD['n_test']}, {len(config['alphas'])} alphas, backend "
          f"{config['backend']}, {os.cpu_count()} CPUs")
    print("| n | targets | engine s | floor s | engine / floor | eigh-matched | engine's eigh s | floor's eigh s "
          "| sklearn Ridge (fixed) s | engine / sklearn | engine r | sklearn r | engine peak GB |")
    print("|---" * 13 + "|")
    for row in rows:
        e, sk = row["ridge_decode"], row["sklearn_ridge_fixed"]
        if "error" in e:
            print(f"| {row['n_train']} | {row['n_targets']} | failed |" + " |" * 10)
            continue
        sks = f"{sk['seconds']:.1f}" if "seconds" in sk else "not run"
        ratio = f"{e['seconds'] / sk['seconds']:.2f}" if "seconds" in sk else "-"
        skr = f"{sk['mean_r']:.4f}" if "mean_r" in sk else "-"
        fl = e["floor_seconds"]
        print(f"| {row['n_train']} | {row['n_targets']} | {e['seconds']:.1f} | {fl['sum']:.1f} | "
              f"{e['floor_ratio']['overall']:.2f} | {e['floor_ratio']['eigh_matched']:.2f} | "
              f"{e['stage_seconds'].get('eigh', 0.0):.1f} | {fl['eigh']:.1f} | {sks} | {ratio} | "
              f"{e['mean_r']:.4f} | {skr} | {e['peak_rss_mb'] / 1024:.2f} |")
    print(f"\nwritten: {args.json}")


def _write_scaling(path, config, rows) -> None:
    from ridge_decode.runtime.io import versions, write_json

    write_json(path, {"config": {**config, "sizes": SCALING}, "rows": rows, "versions": versions()})


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
    parser.add_argument("--baseline-ref", default=BASELINE_REF,
                        help="git commit of ridge_decode_baseline (default %(default)s)")
    parser.add_argument("--overlap", action="store_true",
                        help="the engine with its loop overlapped and not, with the store slowed by --slow-write")
    parser.add_argument("--slow-write", default="auto",
                        help="seconds of sleep per chunk written in --overlap, or 'auto' (a chunk's compute time)")
    parser.add_argument("--reference", default=None,
                        help="a JSON this script wrote on the same data (another backend, another machine): each "
                             "method's held-out r is set against its ridge_decode's")
    parser.add_argument("--floor", action="store_true",
                        help="after the engine, time the floor in its process (eigh with the engine's driver, the "
                             "kernel, projection and prediction GEMMs) and report engine / floor")
    parser.add_argument("--scaling", action="store_true",
                        help="the engine (with --floor) and sklearn's fixed-alpha Ridge against targets (2k, 12k, "
                             "88k at NSD's n) and against n (2k, 5k, 9k at 12,288 targets), one JSON")
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
              "workdir": args.workdir, "cpu_count": os.cpu_count(), "methods": methods, "floor": args.floor}
    if args.scaling:
        return scaling(config, args)
    if args.overlap:
        return overlap_demo(config, args)
    reference = load_reference(args.reference, config) if args.reference else None
    with baseline_tree(args.baseline_ref if "ridge_decode_baseline" in methods else None) as tree:
        config["baseline_tree"], config["baseline_ref"] = tree, args.baseline_ref if tree else None
        results = {name: run_worker(name, config) for name in methods}

    print_engine(results)
    ours = results.get("ridge_decode", {})
    for res in results.values():
        if "seconds" in res and "seconds" in ours:
            res["time_ratio_to_ridge_decode"] = res["seconds"] / ours["seconds"]
            res["r_minus_ridge_decode"] = res["mean_r"] - ours["mean_r"]
        if reference and "mean_r" in res:
            res["r_minus_reference"] = res["mean_r"] - reference["mean_r"]
    print()
    print(f"n_train {scale['n_train']}, n_test {scale['n_test']}, voxels {scale['n_voxels']}, "
          f"targets {scale['n_targets']}, {len(alphas)} alphas {alphas[0]:g}..{alphas[-1]:g}, "
          f"fixed alpha {args.fixed_alpha:g}, backend {args.backend}, {os.cpu_count()} CPUs"
          + "".join(sorted({f", {r['device']}" for r in results.values() if "device" in r})))
    gpu = any("gpu_peak_mb" in r for r in results.values())
    ref = f" | r - reference ({reference['backend']})" if reference else ""
    print("| method | wall s | x ridge_decode | mean held-out r | r - ridge_decode | peak RSS GB"
          + (" | GPU peak GB" if gpu else "") + ref + " |")
    print("|---" * (6 + gpu + bool(reference)) + "|")
    for name, res in results.items():
        if "error" in res:
            print(f"| {name} | failed |" + " |" * (4 + gpu + bool(reference)))
            continue
        print(f"| {name} | {res['seconds']:.2f} | {res.get('time_ratio_to_ridge_decode', float('nan')):.2f} | "
              f"{res['mean_r']:.5f} | {res.get('r_minus_ridge_decode', float('nan')):+.5f} | "
              f"{res['peak_rss_mb'] / 1024:.2f} |" + (f" {res.get('gpu_peak_mb', float('nan')) / 1024:.2f} |"
                                                       if gpu else "")
              + (f" {res['r_minus_reference']:+.6f} |" if reference else ""))
    from ridge_decode.runtime.io import versions, write_json

    path = write_json(args.json, {"config": config, "methods": results, "reference": reference,
                                  "versions": versions()})
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
