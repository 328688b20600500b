"""The demo: the main job on the synthetic subject (simulate if absent, fit voxels -> pixels, decode, score)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import plots
from ..datasets import disk_size, fetch_synthetic, format_size
from ..decode import weightfree
from ..errors import DataError
from ..evaluation import metrics
from ..runtime.io import versions, write_json
from ..sources import NSDSource
from .check import check_data
from .fit import FitRequest, fit_subject, format_fit_summary


@dataclass
class DemoRequest:
    """The main job on the synthetic subject (see ``demo --help``)."""

    root: str | Path | None = None  # the synthetic NSD root, simulated there if absent; None: the data home's
    out: str | Path = "results"
    seed: int = 0
    n_show: int = 20
    echo: Callable[[str], None] = print


def run_demo(req: DemoRequest) -> dict:
    """Simulate if absent, fit voxels -> pixels, decode weight-free, score; writes ``scores.json`` and a figure."""
    # heavy (scipy): imported where used
    from ..simulation import simulate

    t0 = time.perf_counter()
    out = Path(req.out)
    if req.root is None:  # written once into the data home, and reused by the gallery's examples
        root = fetch_synthetic("synthetic" if req.seed == 0 else f"synthetic_seed{req.seed}", seed=req.seed,
                               echo=req.echo)
    else:
        root = Path(req.root)
    if not (root / "synthetic.json").exists():
        req.echo(f"simulating the synthetic subjects under {root} ...")
        simulate(root, size="small", subjects=(1, 2), seed=req.seed)
        req.echo(f"wrote {format_size(disk_size(root))} to {root}")
    bad = [r for r in check_data(root, (1,)) if r.status != "present"]
    if bad:
        raise DataError(f"{root} is incomplete: {[(r.key, r.status, r.detail) for r in bad]}")
    source = NSDSource(root, subject=1)
    fit = fit_subject(FitRequest(source, families=["pixels"], out=out / "model", echo=req.echo))
    req.echo(format_fit_summary(fit.summary))
    recon = weightfree.pixels_to_images(fit.pred["pixels"])
    truth = weightfree.pixels_to_images(fit.y_test["pixels"])
    per_image_r = metrics.columnwise_r(recon.reshape(len(recon), -1).T.astype(float),
                                       truth.reshape(len(truth), -1).T.astype(float))
    test_ids = fit.data.test_ids
    stimuli = source.images().read(test_ids[: req.n_show])
    shown = weightfree.pixels_to_images(fit.pred["pixels"][: req.n_show], size=stimuli.shape[1])
    fig = out / "reconstructions.png"
    plots.plot_reconstructions(shown, stimuli, test_ids[: req.n_show], fig,
                                    title="synthetic subject 1: held-out stimuli (top) and ridge reconstructions "
                                          "from voxels -> 32x32 pixels (bottom)", scores=per_image_r[: req.n_show])
    rng = np.random.default_rng(0)
    scores = {
        "decoder": weightfree.NAME,
        "n_test": int(len(test_ids)),
        "mean_r_per_target": fit.summary["groups"]["pixels"]["mean_r"],
        # not the standard PixCorr (at the stimulus size, `evaluate`): never beside the published rows
        "pixcorr_32px": metrics.pixcorr(recon.astype(float), truth.astype(float)),
        "two_way_identification_pixels": metrics.two_way_identification(recon, truth),
        "two_way_identification_shuffled": metrics.two_way_identification(recon[rng.permutation(len(recon))], truth),
        "note": "held-out shared1000-style test images of synthetic subject 1; pixels at 32x32, compared with "
                "the downsampled stimuli; shuffled = reconstructions paired with random stimuli (chance ~0.5)",
        "seconds_total": time.perf_counter() - t0,
        "fit_summary": fit.summary,
        "versions": versions(),
    }
    write_json(out / "scores.json", scores)
    scores["figure"] = fig
    return scores


