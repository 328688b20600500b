"""The eigendecomposition of the NSD-size training kernel, by the three libraries at hand (docs/performance.md).

    python benchmarks/bench_eigh.py --json benchmarks/results/bench_eigh_nsd.json [--only torch,numpy,scipy]

The kernel is ``K = X X^T`` of bench_ridge.py's NSD-scale voxels (n = 8,859 training rows, p = 15,724), float32.
Each library decomposes the same kernel, in this process, one after the other: ``torch.linalg.eigh`` (the
engine's), ``numpy.linalg.eigh``, and ``scipy.linalg.eigh`` with its default driver (``evr``, which himalaya's numpy
backend calls). Prints seconds and the largest eigenvalue's relative difference from torch's, and writes JSON.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ridge import make_data  # noqa: E402  (the same synthetic voxels as the engine benchmark)

N_TRAIN, N_VOXELS = 8859, 15724
METHODS = ("torch", "numpy", "scipy")


def decompose(name: str, K: np.ndarray) -> np.ndarray:
    """The eigenvalues of ``K`` by library ``name`` (eigenvectors computed too, as the engine needs them)."""
    if name == "torch":
        import torch

        return torch.linalg.eigh(torch.from_numpy(K))[0].numpy()
    if name == "numpy":
        return np.linalg.eigh(K)[0]
    import scipy.linalg

    return scipy.linalg.eigh(K)[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(METHODS))
    parser.add_argument("--json", default="benchmarks/results/bench_eigh_nsd.json")
    args = parser.parse_args(argv)
    from ridge_decode.runtime.io import versions, write_json

    X = make_data(N_TRAIN, 0, N_VOXELS, 1)[0]
    K = X @ X.T
    rows, ref = {}, None
    for name in args.only.split(","):
        t0 = time.perf_counter()
        s = decompose(name, K)
        seconds = time.perf_counter() - t0
        ref = s if ref is None else ref
        rows[name] = {"seconds": seconds, "largest_eigenvalue_rel_diff": float(abs(s[-1] - ref[-1]) / ref[-1])}
        print(f"{name}: {seconds:.1f} s", flush=True)
    print(f"\nn = {N_TRAIN} kernel, float32\n| eigh | seconds |\n|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['seconds']:.1f} |")
    print(f"\nwritten: {write_json(args.json, {'n': N_TRAIN, 'p': N_VOXELS, 'methods': rows, 'versions': versions()})}")


if __name__ == "__main__":
    main()
