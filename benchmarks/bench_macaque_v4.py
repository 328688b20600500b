"""Decoding seen images from real neural data: macaque V4 (Cowley, Stan, Pillow & Smith 2023), through the package's
own-data path, beside a plain scikit-learn reference in the same run.

    python scripts/fetch_macaque_v4.py --dest data/macaque_v4 --session 201025      # once (or a local copy)
    python benchmarks/bench_macaque_v4.py --data-dir data/macaque_v4 --json benchmarks/results/bench_macaque_v4.json

Per session: the responses and images become one own-data HDF5 file (the last 200 images held out), the
``pixels`` targets (32 x 32 x 3 in [0, 1]) are extracted into its feature cache, and two ridges map the neurons to
them: ``OneStageRidge`` (this package: neurons standardised with ddof=1, alpha per target by GCV) and
scikit-learn's ``StandardScaler`` + ``RidgeCV(alpha_per_target=True)`` (efficient leave-one-out), with the same
alphas and the same targets. Reported: mean held-out r over the pixel targets, pixel two-way identification on the
held-out images (chance 0.5), seconds; a figure of held-out images and their weight-free reconstructions. Prints a
table and writes JSON.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

GRID = np.logspace(-2, 6, 17)  # candidate alphas of both ridges
N_SHOWN = 10


def run_session(folder, session: str, workdir) -> dict:
    """Both ridges on one session; returns their scores, and the arrays of the figure under ``"shown"``."""
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import ridge_decode as rd
    from ridge_decode.sources import macaque_v4

    path = macaque_v4.to_hdf5(folder, Path(workdir) / f"v4_{session}.h5", session)
    source = rd.HDF5Source(path)
    data = source.load(progress=False)
    store = rd.extract_features(source, ["pixels"], features_dir=Path(workdir) / f"features_{session}",
                                progress=False)
    y_train, y_test = store.read("pixels", data.train_ids), store.read("pixels", data.test_ids)
    n_train, n_test = len(y_train), len(y_test)
    out = {"session": session, "neurons": int(data.n_voxels), "n_train": n_train, "n_test": n_test}
    t0 = time.perf_counter()
    model = rd.OneStageRidge(alphas=GRID).fit(data.train_betas, y_train)
    ours = model.predict(data.test_betas)
    out["ridge_decode"] = _scores(ours, y_test, time.perf_counter() - t0, np.median(model.alphas_["y"]))
    t0 = time.perf_counter()
    reference = make_pipeline(StandardScaler(), RidgeCV(alphas=GRID, alpha_per_target=True))
    reference.fit(data.train_betas, y_train.reshape(n_train, -1))
    theirs = reference.predict(data.test_betas).reshape(y_test.shape)
    out["sklearn_ridgecv"] = _scores(theirs, y_test, time.perf_counter() - t0,
                                     np.median(reference[-1].alpha_))
    seen = source.images().read(data.test_ids[:N_SHOWN])
    out["shown"] = {"ids": data.test_ids[:N_SHOWN], "seen": seen,
                    "decoded": rd.decode_images({"pixels": ours[:N_SHOWN]}, "weight-free", size=seen.shape[1])}
    return out


def _scores(pred, true, seconds: float, median_alpha: float) -> dict:
    import ridge_decode as rd

    n = len(true)
    flat_p, flat_t = pred.reshape(n, -1).astype(np.float64), true.reshape(n, -1).astype(np.float64)
    return {"mean_r": float(np.nanmean(rd.columnwise_r(flat_p, flat_t))),
            "two_way_pixels": rd.two_way_identification(flat_p, flat_t), "seconds": seconds,
            "median_alpha": float(median_alpha)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="data/macaque_v4",
                        help="the sessions' files, as scripts/fetch_macaque_v4.py writes them (default %(default)s)")
    parser.add_argument("--sessions", default="201025,210225")
    parser.add_argument("--json", default="benchmarks/results/bench_macaque_v4.json")
    parser.add_argument("--figure", default="docs/real_data/macaque_v4.png")
    args = parser.parse_args(argv)
    import ridge_decode as rd
    from ridge_decode.runtime.io import versions, write_json

    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for session in [s for s in args.sessions.split(",") if s]:
            rows.append(run_session(args.data_dir, session, workdir))
    print("| session | neurons | method | mean held-out r | pixel two-way | seconds | median alpha |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        for method in ("ridge_decode", "sklearn_ridgecv"):
            s = row[method]
            print(f"| {row['session']} | {row['neurons']} | {method} | {s['mean_r']:.4f} | {s['two_way_pixels']:.3f} "
                  f"| {s['seconds']:.2f} | {s['median_alpha']:.3g} |")
    shown = rows[0]["shown"]
    fig = rd.plot_reconstructions(shown["decoded"], shown["seen"], shown["ids"], path=args.figure,
                                  title=f"macaque V4, session {rows[0]['session']} ({rows[0]['neurons']} neurons): "
                                        "held-out images (top), decoded 32 x 32 pixels (bottom)")
    del fig
    write_json(Path(args.json), {"sessions": [{k: v for k, v in r.items() if k != "shown"} for r in rows],
                                 "grid": GRID.tolist(), "figure": args.figure, "versions": versions()})
    print(f"written: {args.json}, {args.figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
