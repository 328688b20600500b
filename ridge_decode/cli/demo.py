"""The demo command: the main job on the synthetic subject."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._group import main
from .features import _extract
from .fit import _fit_subject, _print_summary


# --------------------------------------------------------------------------------------------------- demo
@main.command()
@click.option("--data-root", type=click.Path(), default="data/synthetic", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default="results", show_default=True)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the synthetic subject.")
@click.option("--n-show", default=20, show_default=True, type=int, help="Test images in the figure.")
def demo(data_root, out, seed, n_show):
    """The main job on the synthetic subject: simulate if absent, fit voxels -> pixels, decode, score."""
    import numpy as np

    from .. import metrics, plots
    from ..check import check_data as run_check
    from ..decode import weightfree
    from ..io import versions, write_json
    from ..nsd import open_stimuli
    from ..simulate import simulate as run_simulate

    t0 = time.perf_counter()
    root = Path(data_root)
    if not (root / "synthetic.json").exists():
        click.echo(f"simulating the synthetic subjects under {root} ...")
        run_simulate(root, size="small", subjects=(1, 2), seed=seed)
    bad = [r for r in run_check(root, (1,)) if r.status != "present"]
    if bad:
        raise click.ClickException(f"{root} is incomplete: {[(r.key, r.status, r.detail) for r in bad]}")
    if not (root / "features" / "pixels.h5").exists():
        from ..features import FeatureStore

        _extract("pixels", root, FeatureStore(root / "features"), None, batch_size=64)
    summary, data, pred, y_test = _fit_subject(1, root, None, "pixels", None, Path(out) / "model")
    _print_summary(summary)
    recon = weightfree.pixels_to_images(pred["pixels"])
    truth = weightfree.pixels_to_images(y_test["pixels"])
    per_image_r = metrics.columnwise_r(recon.reshape(len(recon), -1).T.astype(float),
                                       truth.reshape(len(truth), -1).T.astype(float))
    stimuli = open_stimuli(root).read(data.test_ids[:n_show])
    shown = weightfree.pixels_to_images(pred["pixels"][:n_show], size=stimuli.shape[1])
    fig = plots.reconstruction_grid(stimuli, shown, data.test_ids[:n_show], Path(out) / "reconstructions.png",
                                    title="synthetic subject 1: held-out stimuli (top) and ridge reconstructions "
                                          "from voxels -> 32x32 pixels (bottom)", scores=per_image_r[:n_show])
    rng = np.random.default_rng(0)
    scores = {
        "decoder": weightfree.NAME,
        "n_test": int(len(data.test_ids)),
        "mean_r_per_target": summary["groups"]["pixels"]["mean_r"],
        "pixcorr": metrics.pixcorr(recon.astype(float), truth.astype(float)),
        "two_way_identification_pixels": metrics.two_way_identification(truth, recon),
        "two_way_identification_shuffled": metrics.two_way_identification(truth, recon[rng.permutation(len(recon))]),
        "note": "held-out shared1000-style test images of synthetic subject 1; pixels at 32x32, compared with "
                "the downsampled stimuli; shuffled = reconstructions paired with random stimuli (chance ~0.5)",
        "seconds_total": time.perf_counter() - t0,
        "fit_summary": summary,
        "versions": versions(),
    }
    write_json(Path(out) / "scores.json", scores)
    click.echo(f"PixCorr {scores['pixcorr']:.3f}, two-way identification {scores['two_way_identification_pixels']:.3f}"
               f" (shuffled {scores['two_way_identification_shuffled']:.3f})")
    click.echo(f"written: {fig} and {Path(out) / 'scores.json'} in {scores['seconds_total']:.1f} s")
