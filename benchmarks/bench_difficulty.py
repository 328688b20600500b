"""How hard the synthetic subject is to decode, beside what real NSD gives (docs/data.md).

    python benchmarks/bench_difficulty.py --json bench_difficulty.json [--preset nsd|easy] [--size small]

Simulates the pair (subjects 1 and 2), then measures with the package's own code: the weight-free decode of
subject 1 (held-out PixCorr and pixel two-way identification at 32 x 32, as ``make demo`` reports them, and the
standard PixCorr at the stimulus size, as ``evaluate`` computes it: only that one is set beside NSD's), the
nearest-neighbour r (for each test image, its closest training image's pixel r; the median), the noise-ceiling
medians of early and late voxels (hierarchy below and above 0.5, from the ground truth), and the transfer gain of
subject 2 from subject 1 (mean r of transfer minus scratch at 5% and 100% of the training images, against the
package's per-target ridge and against the principal-direction ridge on subject 2 alone, see docs/transfer.md).
Prints a table and writes JSON.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np


def measure(root: Path, out: Path, fractions=(0.05, 1.0)) -> dict:
    """The difficulty figures of a simulated pair under ``root`` (fits written under ``out``)."""
    import h5py

    from ridge_decode.decode import weightfree
    from ridge_decode.evaluation import image_metrics as evaluate
    from ridge_decode.evaluation import metrics
    from ridge_decode.features import FeatureStore
    from ridge_decode.pipeline import FitRequest, TransferRequest, fit_subject, run_transfer
    from ridge_decode.sources import NSDSource
    from ridge_decode.sources.nsd import load_subject, read_noise_ceiling

    fit = fit_subject(FitRequest(NSDSource(root, 1), families=["pixels"], out=out, progress=False,
                                 echo=lambda s: None))
    recon = weightfree.pixels_to_images(fit.pred["pixels"]).astype(float)
    truth = weightfree.pixels_to_images(fit.y_test["pixels"]).astype(float)
    data = fit.data
    stimuli = NSDSource(root, 1).images().read(data.test_ids)
    at_size = weightfree.pixels_to_images(fit.pred["pixels"], size=stimuli.shape[1])
    pixcorr_standard = float(np.nanmean(evaluate.REGISTRY["pixcorr"].per_image(at_size, stimuli)))
    store = FeatureStore(root / "features")
    train = store.read("pixels", data.train_ids).reshape(len(data.train_ids), -1)
    test = fit.y_test["pixels"].reshape(len(data.test_ids), -1)
    tz = (test - test.mean(1, keepdims=True)) / test.std(1, keepdims=True)
    rz = (train - train.mean(1, keepdims=True)) / train.std(1, keepdims=True)
    nearest = (tz @ rz.T / test.shape[1]).max(axis=1)
    nc = read_noise_ceiling(1, root, n_repeats=3.0)
    with h5py.File(root / "nsddata/ppdata/subj01/synthetic_ground_truth.h5", "r") as f:
        xyz, t = f["encoding/voxel_xyz"][()], f["encoding/hierarchy"][()]
    order = {tuple(v): k for k, v in enumerate(xyz.tolist())}
    t = t[[order[tuple(v)] for v in load_subject(1, root, progress=False).voxel_xyz.tolist()]]
    json_path = run_transfer(TransferRequest(NSDSource(root, 1), NSDSource(root, 2), ["pixels"],
                                                fractions=list(fractions), out=out, echo=lambda s: None)).json_path
    import json

    results = json.loads(json_path.read_text())["results"]
    by = {(r["fraction"], r["method"]): r["mean_r"] for r in results}
    return {
        "pixcorr_32px": metrics.pixcorr(recon, truth),
        "pixcorr": pixcorr_standard,
        "two_way_pixels": metrics.two_way_identification(recon, truth),
        "mean_r_pixels": fit.summary["groups"]["pixels"]["mean_r"],
        "nearest_train_r_median": float(np.median(nearest)),
        "noise_ceiling_median_early": float(np.median(nc[t < 0.5])),
        "noise_ceiling_median_late": float(np.median(nc[t >= 0.5])),
        "transfer": {str(f): {"transfer": by[(f, "transfer")], "scratch": by[(f, "scratch")],
                              "scratch_principal": by[(f, "scratch_principal")],
                              "gain": by[(f, "transfer")] - by[(f, "scratch")],
                              "gain_over_scratch_principal": by[(f, "transfer")] - by[(f, "scratch_principal")]}
                     for f in fractions},
        "n_train": int(len(data.train_ids)), "n_test": int(len(data.test_ids)), "n_voxels": int(data.n_voxels),
    }


@click.command()
@click.option("--preset", type=click.Choice(["nsd", "easy"]), default="nsd", show_default=True)
@click.option("--size", type=click.Choice(["small", "tiny"]), default="small", show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "json_path", default="bench_difficulty.json", show_default=True)
def main(preset, size, seed, json_path):
    """Simulate the pair and print its difficulty beside the published NSD figures."""
    from ridge_decode.runtime.io import versions, write_json
    from ridge_decode.simulation import simulate

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        t0 = time.perf_counter()
        simulate(root, size=size, subjects=(1, 2), seed=seed, preset=preset, progress=False)
        sim_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = measure(root, Path(tmp) / "outputs")
        out.update(simulate_seconds=sim_seconds, measure_seconds=time.perf_counter() - t0, preset=preset, size=size,
                   seed=seed)
    rows = [("PixCorr (weight-free, at the stimulus size)", out["pixcorr"],
             "0.254 Brain-Diffuser; 0.399 MindEye2 low-level"),
            ("PixCorr at 32 px (thumbnails; not the metric)", out["pixcorr_32px"], "not comparable"),
            ("two-way identification, pixels", out["two_way_pixels"], "below 0.95, above 0.5"),
            ("nearest training image's r (median)", out["nearest_train_r_median"], "at most 0.5"),
            ("noise ceiling, early voxels (%)", out["noise_ceiling_median_early"], "V1 37, V2 31"),
            ("noise ceiling, late voxels (%)", out["noise_ceiling_median_late"], "V4 26, IT 10")]
    for f, v in out["transfer"].items():
        rows.append((f"transfer - principal scratch, {float(f):.0%}", v["gain_over_scratch_principal"],
                     "what the reference brings: large with little data, none with all"))
        rows.append((f"transfer - per-target scratch, {float(f):.0%}", v["gain"], "also alpha per direction"))
    print(f"preset {preset}, size {size}: simulated in {sim_seconds:.1f} s\n")
    print(f"| {'figure':<46} | {'synthetic':>9} | NSD (published) |\n|{'-' * 48}|{'-' * 11}|---|")
    for name, v, ref in rows:
        print(f"| {name:<46} | {v:>9.3f} | {ref} |")
    out["versions"] = versions()
    write_json(json_path, out)


if __name__ == "__main__":
    main()
